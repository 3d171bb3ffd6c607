"""Test-set predictions: label by a threshold, summarize, sample for review."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from complaints.core.config import require
from complaints.core.decision import is_non_complaint, predicted_labels
from complaints.serving.modelfolder import ENGINES


@dataclass(frozen=True)
class PredictParams:
    """The `predict` section: the engine that scores the test tweets, tweets per batch."""

    engine: str = "onnx"
    batch_size: int = 128

    def __post_init__(self) -> None:
        require(self.engine in ENGINES, "predict.engine", self.engine, f"one of {', '.join(ENGINES)}")
        require(self.batch_size >= 1, "predict.batch_size", self.batch_size, "an integer >= 1")


def label_predictions(scores: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """`id, text, non_complaint_probability, label`: label 1 (non-complaint) or 0 by the rule."""
    probability = scores["non_complaint_probability"].to_numpy()
    return scores[["id", "text", "non_complaint_probability"]].assign(label=predicted_labels(probability, threshold))


def share_sweep(non_complaint_probability: np.ndarray, thresholds: np.ndarray) -> pd.DataFrame:
    """Share of test tweets labeled non-complaint at each threshold."""
    return pd.DataFrame({
        "threshold": thresholds.astype(float),
        "test_non_complaint_share": [float(is_non_complaint(non_complaint_probability, t).mean()) for t in thresholds],
    })


def review_sample(predictions: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """A seeded sample of tweets predicted non-complaint, for a human to read."""
    flagged = predictions[predictions["label"] == 1]
    return flagged.sample(n=min(size, len(flagged)), random_state=seed).sort_values("id")
