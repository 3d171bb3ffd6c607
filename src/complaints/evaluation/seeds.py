"""The `seeds` section, where the seed stage's model folders lie, and the spread of a recipe's quality over seeds."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from complaints.core.config import require
from complaints.core.io import DataError

FITS = ("train", "refit")


@dataclass(frozen=True)
class SeedsParams:
    """The `seeds` section: more seeds of the default recipe, and which fits the seed stage trains with each (`train`:
    scored on validation for the spread; `refit`: averaged with the refit on the external set)."""

    seeds: tuple[int, ...] = (1, 2)
    fits: tuple[str, ...] = ("train",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "fits", tuple(self.fits))
        require(bool(self.seeds) and all(isinstance(seed, int) and not isinstance(seed, bool) for seed in self.seeds),
                "seeds.seeds", list(self.seeds), "a non-empty list of integer seeds")
        require(len(set(self.seeds)) == len(self.seeds), "seeds.seeds", list(self.seeds), "seeds without repeats")
        require("train" in self.fits and set(self.fits) <= set(FITS) and len(set(self.fits)) == len(self.fits),
                "seeds.fits", list(self.fits), "`train` (the spread), optionally with `refit`")

    def refit_seeds(self) -> tuple[int, ...]:
        """The seeds of the extra refits, none unless `refit` is among the fits."""
        return self.seeds if "refit" in self.fits else ()


def seed_folder(models: Path, fit: str, seed: int) -> Path:
    """The seed stage's model folder for one fit and seed, which must exist."""
    folder = models / f"{fit}-{seed}"
    if not (folder / "config.json").is_file():
        raise DataError(f"{folder}: no model folder for seed {seed} ({fit}); run `dvc repro seed`")
    return folder


def seed_spread(per_seed: dict) -> dict:
    """AUC, accuracy and F1 averaged over the seeds, with each one's sample standard deviation, min, max and seeds."""
    spread: dict = {"seeds": len(per_seed)}
    for name in ("auc", "accuracy", "f1"):
        values = np.array([metrics[name] for metrics in per_seed.values()])
        spread |= {name: float(values.mean()), f"{name}_std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                   f"{name}_min": float(values.min()), f"{name}_max": float(values.max()),
                   f"{name}_per_seed": {str(seed): float(metrics[name]) for seed, metrics in per_seed.items()}}
    return spread
