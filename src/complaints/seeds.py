"""The `seeds` section and the spread of a recipe's quality over seeds: only the seeds stages import it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from complaints.config import require


@dataclass(frozen=True)
class SeedsParams:
    """The `seeds` section: more seeds of the default recipe, retrained to report the spread of its quality, and how many
    extra refits (seeds 1, 2, ...) to average with the refit on the external set."""

    seeds: tuple[int, ...] = (1, 2)
    refits: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(self.seeds))
        require(self.refits >= 0, "seeds.refits", self.refits, "an integer >= 0")

    @property
    def refit_seeds(self) -> tuple[int, ...]:
        """The extra refits' seeds: 1 to `refits`."""
        return tuple(range(1, self.refits + 1))


def seed_spread(per_seed: dict[int, dict]) -> dict:
    """AUC and accuracy per seed with their mean, sample standard deviation, min and max."""
    spread: dict = {"seeds": len(per_seed)}
    for name in ("auc", "accuracy"):
        values = np.array([metrics[name] for metrics in per_seed.values()])
        spread |= {f"{name}_mean": float(values.mean()), f"{name}_std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                   f"{name}_min": float(values.min()), f"{name}_max": float(values.max())}
        spread |= {f"{name}_seed_{seed}": float(metrics[name]) for seed, metrics in per_seed.items()}
    return spread
