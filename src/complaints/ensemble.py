"""The fine-tuned model and the TF-IDF + NB baseline combined: an average of probabilities or a logistic stacker.

The stacker is fitted on the dev split held out of training (the fine-tuned model never trained on it; the
baseline's probabilities there are out-of-fold), so the validation labels are never touched.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from complaints.config import ParamsError, require
from complaints.io import DataError, read_probabilities

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


def paired(bert_path: Path, baseline_path: Path) -> pd.DataFrame:
    """`id, label, bert, baseline` for the tweets of `bert_path`, which must all be in `baseline_path`."""
    bert, baseline = read_probabilities(bert_path), read_probabilities(baseline_path)
    table = bert.merge(baseline[["id", "probability"]], on="id", how="left", suffixes=("_bert", "_baseline"))
    missing = table.loc[table["probability_baseline"].isna(), "id"]
    if len(missing):
        raise DataError(f"{baseline_path}: no probability for id {missing.iloc[0]} of {bert_path}; rerun the pipeline")
    return table.rename(columns={"probability_bert": "bert", "probability_baseline": "baseline"})


def fitted_stacker(method: str, dev: pd.DataFrame) -> LogisticRegression | None:
    """The stacker fitted on dev for `stack`; None for `average`."""
    return fit_stacker(stack_features(dev["bert"], dev["baseline"]), dev["label"]) if method == "stack" else None


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
