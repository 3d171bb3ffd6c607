"""Knowledge distillation: the `distill` section, the teacher's probabilities a student learns from (the
distill_targets file) and the loss, cross-entropy on the labels mixed with the KL divergence to the softened teacher."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from complaints.core.config import require
from complaints.core.io import DataError, read_csv_strict
from complaints.text.tokens import Tokens

# The teachers a student can learn from (its `teacher` in the models list): columns of the distill_targets file.
TEACHERS = ("bert_teacher", "teacher")
TARGET_COLUMNS = {"id": "int64", "split": "str", "bert": "float64", "teacher": "float64", "bert_teacher": "float64"}
# A row without a label (an unlabeled test tweet): cross-entropy skips it, the KL term does not.
UNLABELED = -100
_CLIP = 1e-6


@dataclass(frozen=True)
class DistillParams:
    """The `distill` section: temperature `T` and KL weight `alpha` of the loss, and whether the unlabeled test tweets
    join the labeled ones."""

    SECTION: ClassVar[str] = "distill"

    temperature: float = 2.0
    alpha: float = 0.5
    unlabeled: bool = True

    def __post_init__(self) -> None:
        require(self.temperature > 0, "distill.temperature", self.temperature, "a positive number")
        require(0 <= self.alpha <= 1, "distill.alpha", self.alpha, "a weight in [0, 1]")


def read_targets(path: Path) -> pd.DataFrame:
    """The distill_targets file: one row per tweet id, each model's non-complaint probability in [0, 1]."""
    targets = read_csv_strict(path, TARGET_COLUMNS)
    if targets["id"].duplicated().any():
        raise DataError(f"{path}: tweet id {targets['id'][targets['id'].duplicated()].iloc[0]} appears twice; "
                        f"rerun `dvc repro distill/dvc.yaml:distill_targets`")
    for column in ("bert", *TEACHERS):
        outside = ~targets[column].between(0, 1)
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            raise DataError(f"{path}: data row {row + 1}: column '{column}' = {targets[column].iloc[row]}, "
                            f"expected a probability in [0, 1]")
    return targets


@dataclass(frozen=True)
class Teacher:
    """What a student learns from: the teacher column (one of TEACHERS) of the distill_targets file at `path`, and
    the loss's settings."""

    params: DistillParams
    column: str
    targets: pd.DataFrame
    path: Path

    @classmethod
    def load(cls, params: DistillParams, column: str, path: Path) -> Teacher:
        """The teacher `column` from the distill_targets file."""
        if column not in TEACHERS:
            raise DataError(f"teacher {column!r}: expected one of {', '.join(TEACHERS)} (a column of {path})")
        return cls(params, column, read_targets(path), path)

    def probability(self, ids: np.ndarray) -> np.ndarray:
        """The teacher's non-complaint probability for each tweet id, in the order given; every id must be known."""
        indexed = self.targets.set_index("id")[self.column]
        missing = np.setdiff1d(ids, indexed.index.to_numpy())
        if missing.size:
            raise DataError(f"{self.path}: no teacher probability for tweet id {missing[0]} ({missing.size} missing); "
                            f"rerun `dvc repro distill/dvc.yaml:distill_targets`")
        return indexed.reindex(ids).to_numpy(dtype=np.float32)


def as_unlabeled(tokens: Tokens) -> Tokens:
    """Tweets without labels, marked UNLABELED so that they join labeled ones in one training set."""
    return Tokens(tokens.ids, tokens.input_ids, tokens.attention_mask, np.full(len(tokens.ids), UNLABELED))


def softened(probability: torch.Tensor, temperature: float) -> torch.Tensor:
    """Two-class distributions [complaint, non-complaint] of the teacher's log-odds divided by the temperature."""
    non_complaint = torch.sigmoid(torch.logit(probability.clamp(_CLIP, 1 - _CLIP)) / temperature)
    return torch.stack([1 - non_complaint, non_complaint], dim=1)


def distillation_loss(logits: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor, temperature: float,
                      alpha: float) -> torch.Tensor:
    """alpha * T^2 * KL(teacher_T || student_T) over every row + (1 - alpha) * cross-entropy over the labeled rows."""
    kl = F.kl_div(F.log_softmax(logits / temperature, dim=1), softened(teacher, temperature), reduction="batchmean")
    labeled = labels != UNLABELED
    # Averaged over the labeled rows without a host sync; a batch of unlabeled tweets only adds nothing.
    cross_entropy = (F.cross_entropy(logits, labels.clamp(min=0), reduction="none") * labeled).sum() \
        / labeled.sum().clamp(min=1)
    return alpha * temperature ** 2 * kl + (1 - alpha) * cross_entropy
