"""How a model transfers to the external set: the validation metrics, calibration, and AUC per airline and per
negative reason."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from complaints.evaluation.analysis import expected_calibration_error, reliability_curve
from complaints.core.config import require
from complaints.core.io import DataError, read_probabilities
from complaints.data.tweets import NON_COMPLAINT
from complaints.core.metrics import classification_metrics
from complaints.evaluation.figures import auc_standard_error


@dataclass(frozen=True)
class ExternalParams:
    """The `external` section: tweets per inference batch."""

    batch_size: int = 128

    def __post_init__(self) -> None:
        require(self.batch_size >= 1, "external.batch_size", self.batch_size, "an integer >= 1")


def aligned_scores(path: Path, tweets: pd.DataFrame) -> np.ndarray:
    """A model's external scores (a score_external file) in the order of the external tweets, with their labels."""
    scores = read_probabilities(path)
    if not (np.array_equal(scores["id"].to_numpy(), tweets["id"].to_numpy())
            and np.array_equal(scores["label"].to_numpy(), tweets["label"].to_numpy())):
        raise DataError(f"{path}: does not score the external tweets in order with their labels; rerun its "
                        f"score_external stage")
    return scores["non_complaint_probability"].to_numpy()


def reason_auc(tweets: pd.DataFrame, non_complaint_probability: np.ndarray) -> dict[str, float]:
    """Per negative reason: AUC of that reason's complaints against every non-complaint (how well they are told apart)."""
    non_complaints = tweets["label"].to_numpy() == NON_COMPLAINT
    if not non_complaints.any():
        return {}
    aucs = {}
    for reason in sorted(set(tweets.loc[~non_complaints, "negativereason"]) - {""}):
        rows = non_complaints | (tweets["negativereason"] == reason).to_numpy()
        aucs[reason] = float(roc_auc_score(tweets["label"].to_numpy()[rows], non_complaint_probability[rows]))
    return aucs


def airline_auc(tweets: pd.DataFrame, non_complaint_probability: np.ndarray) -> dict[str, float]:
    """Per airline with tweets of both classes: AUC among that airline's tweets."""
    aucs = {}
    for airline, rows in sorted(tweets.groupby("airline").indices.items()):
        labels = tweets["label"].to_numpy()[rows]
        if np.unique(labels).size == 2:
            aucs[airline] = float(roc_auc_score(labels, non_complaint_probability[rows]))
    return aucs


def external_metrics(tweets: pd.DataFrame, non_complaint_probability: np.ndarray, threshold: float) -> dict:
    """One model on the external set: the validation metrics' keys at 0.5, the AUC's standard error, calibration error,
    the same at the pipeline's threshold, and AUC per airline and per negative reason."""
    labels = tweets["label"].to_numpy()
    at_threshold = classification_metrics(labels, non_complaint_probability, threshold)
    return {
        **classification_metrics(labels, non_complaint_probability),
        "auc_se": auc_standard_error(labels, non_complaint_probability),
        "calibration_error": expected_calibration_error(reliability_curve(labels, non_complaint_probability)),
        "at_threshold": {key: value for key, value in at_threshold.items() if key != "auc"} | {"threshold": threshold},
        "airline_auc": airline_auc(tweets, non_complaint_probability),
        "reason_auc": reason_auc(tweets, non_complaint_probability),
    }


def slice_rows(model_metrics: dict) -> pd.DataFrame:
    """A model's per-airline and per-reason AUC as rows (`slice_kind`, `slice`, `auc`) for a bar plot."""
    rows = [{"slice_kind": kind, "slice": f"{kind}: {name}", "auc": auc}
            for kind, key in (("airline", "airline_auc"), ("reason", "reason_auc"))
            for name, auc in model_metrics[key].items()]
    return pd.DataFrame(rows)
