"""The fine-tuned model and the TF-IDF + NB baseline combined: an average of probabilities or a logistic stacker.

The stacker is fitted on the dev split held out of training (the fine-tuned model never trained on it; the
baseline's probabilities there are out-of-fold), so the validation labels are never touched.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from complaints.config import ParamsError, require

METHODS = ("average", "stack")


@dataclass(frozen=True)
class EnsembleParams:
    """The `ensemble` section: how to combine, and the folds that score the stacker on dev honestly."""

    method: str = "average"
    cv_folds: int = 5
    cv_seed: int = 0

    def __post_init__(self) -> None:
        require(self.method in METHODS, "ensemble.method", self.method, f"one of {', '.join(METHODS)}")
        require(self.cv_folds >= 2, "ensemble.cv_folds", self.cv_folds, "an integer >= 2")


def stack_features(bert_probability: np.ndarray, baseline_probability: np.ndarray) -> np.ndarray:
    """Both models' log-odds, one column each."""
    clipped = np.clip(np.column_stack([bert_probability, baseline_probability]), 1e-6, 1 - 1e-6)
    return np.log(clipped / (1 - clipped))


def fit_stacker(features: np.ndarray, labels: np.ndarray) -> LogisticRegression:
    """A logistic regression on the two models' log-odds."""
    return LogisticRegression().fit(features, labels)


def combine(method: str, bert_probability: np.ndarray, baseline_probability: np.ndarray,
            stacker: LogisticRegression | None) -> np.ndarray:
    """The ensemble's non-complaint probability."""
    if method == "average":
        return (bert_probability + baseline_probability) / 2
    return stacker.predict_proba(stack_features(bert_probability, baseline_probability))[:, 1]


def dev_auc(method: str, labels: np.ndarray, bert_probability: np.ndarray, baseline_probability: np.ndarray,
            params: EnsembleParams) -> float:
    """The ensemble's AUC on dev: the stacker scored out-of-fold, so the figure is not its own training fit."""
    if method == "average":
        return float(roc_auc_score(labels, combine(method, bert_probability, baseline_probability, None)))
    smallest_class = int(np.bincount(labels, minlength=2).min())
    if smallest_class < params.cv_folds:
        raise ParamsError(f"params key 'ensemble.cv_folds': got {params.cv_folds}, expected at most {smallest_class} "
                          f"(the dev split's smaller class)")
    folds = StratifiedKFold(params.cv_folds, shuffle=True, random_state=params.cv_seed)
    features = stack_features(bert_probability, baseline_probability)
    return float(roc_auc_score(labels, cross_val_predict(LogisticRegression(), features, labels, cv=folds,
                                                         method="predict_proba")[:, 1]))
