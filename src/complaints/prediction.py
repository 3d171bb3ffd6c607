"""Test-set predictions: threshold the non-complaint probability, summarize, sample for review."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from complaints.config import require


@dataclass(frozen=True)
class PredictParams:
    """The `predict` section: the tutorial's threshold and the review sample."""

    threshold: float = 0.9
    review_size: int = 20
    review_seed: int = 42
    int8: bool = False

    def __post_init__(self) -> None:
        require(0 < self.threshold < 1, "predict.threshold", self.threshold, "a number strictly between 0 and 1")
        require(self.review_size >= 0, "predict.review_size", self.review_size, "an integer >= 0")


def label_predictions(test: pd.DataFrame, non_complaint_probability: np.ndarray, threshold: float) -> pd.DataFrame:
    """`id, text, probability, label`: label 1 (non-complaint) where probability > threshold, as the tutorial."""
    return test[["id", "text"]].assign(
        probability=non_complaint_probability, label=(non_complaint_probability > threshold).astype(int)
    )


def prediction_summary(predictions: pd.DataFrame, threshold: float) -> dict:
    """The threshold and how many test tweets it calls non-complaints."""
    count = int(predictions["label"].sum())
    return {"threshold": threshold, "non_complaints": count, "non_complaint_share": count / len(predictions),
            "tweets": len(predictions)}


def share_sweep(non_complaint_probability: np.ndarray, thresholds: np.ndarray) -> pd.DataFrame:
    """Share of test tweets labeled non-complaint at each threshold."""
    return pd.DataFrame({
        "threshold": thresholds.astype(float),
        "test_non_complaint_share": [float((non_complaint_probability > t).mean()) for t in thresholds],
    })


def review_sample(predictions: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """A seeded sample of tweets predicted non-complaint, for a human to read."""
    flagged = predictions[predictions["label"] == 1]
    return flagged.sample(n=min(size, len(flagged)), random_state=seed).sort_values("id")
