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

from complaints.core.averaging import mean_probability
from complaints.core.config import ParamsError, require
from complaints.evaluation.figures import CompareParams, bootstrap_auc_difference
from complaints.core.io import DataError, read_json, read_probabilities

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


@dataclass(frozen=True)
class Combination:
    """How the ensemble combines the two probabilities: `average`, or the stacker's weights on their log-odds."""

    method: str
    weight_bert: float | None = None
    weight_baseline: float | None = None
    intercept: float | None = None

    def non_complaint_probability(self, bert_probability: np.ndarray, baseline_probability: np.ndarray) -> np.ndarray:
        """The ensemble's non-complaint probability."""
        if self.method == "average":
            return (bert_probability + baseline_probability) / 2
        weights = np.array([self.weight_bert, self.weight_baseline])
        return 1 / (1 + np.exp(-(stack_features(bert_probability, baseline_probability) @ weights + self.intercept)))


def paired(bert_path: Path, baseline_path: Path) -> pd.DataFrame:
    """`id, label, bert, baseline` for the tweets of `bert_path`, which must all be in `baseline_path`."""
    bert, baseline = read_probabilities(bert_path), read_probabilities(baseline_path)
    table = bert.merge(baseline[["id", "non_complaint_probability"]], on="id", how="left", suffixes=("_bert", "_baseline"))
    missing = table.loc[table["non_complaint_probability_baseline"].isna(), "id"]
    if len(missing):
        raise DataError(f"{baseline_path}: no probability for id {missing.iloc[0]} of {bert_path}; rerun the pipeline")
    return table.rename(columns={"non_complaint_probability_bert": "bert", "non_complaint_probability_baseline": "baseline"})


def fitted_combination(method: str, dev: pd.DataFrame) -> Combination:
    """The combination of `method`, its stacker fitted on dev for `stack`."""
    if method == "average":
        return Combination(method)
    stacker = fit_stacker(stack_features(dev["bert"], dev["baseline"]), dev["label"])
    return Combination(method, float(stacker.coef_[0][0]), float(stacker.coef_[0][1]), float(stacker.intercept_[0]))


def read_combination(path: Path) -> Combination:
    """The combination the ensemble stage fitted, as it saved it."""
    fields = read_json(path)
    if fields.get("method") not in METHODS:
        raise DataError(f"{path}: 'method' is {fields.get('method')!r}, expected one of {', '.join(METHODS)}; "
                        f"rerun `dvc repro ensemble`")
    return Combination(**fields)


def dev_auc(method: str, labels: np.ndarray, bert_probability: np.ndarray, baseline_probability: np.ndarray,
            params: EnsembleParams) -> float:
    """The ensemble's AUC on dev: the stacker scored out-of-fold, so the figure is not its own training fit."""
    if method == "average":
        return float(roc_auc_score(labels, Combination(method).non_complaint_probability(bert_probability, baseline_probability)))
    smallest_class = int(np.bincount(labels, minlength=2).min())
    if smallest_class < params.cv_folds:
        raise ParamsError(f"params key 'ensemble.cv_folds': got {params.cv_folds}, expected at most {smallest_class} "
                          f"(the dev split's smaller class)")
    folds = StratifiedKFold(params.cv_folds, shuffle=True, random_state=params.cv_seed)
    features = stack_features(bert_probability, baseline_probability)
    return float(roc_auc_score(labels, cross_val_predict(LogisticRegression(), features, labels, cv=folds,
                                                         method="predict_proba")[:, 1]))


# The teacher's shares tried on the external set (the teacher_share stage's sweep).
TEACHER_WEIGHTS = tuple(share / 10 for share in range(11))
# The plain average: kept unless another share beats it beyond the bootstrap's noise.
PLAIN_SHARE = 0.5


def teacher_weight_sweep(labels: np.ndarray, bert_probability: np.ndarray, teacher_probability: np.ndarray) -> pd.DataFrame:
    """The AUC of the two encoders' average at each of TEACHER_WEIGHTS (the teacher's share)."""
    return pd.DataFrame({"teacher_weight": TEACHER_WEIGHTS, "auc": [
        float(roc_auc_score(labels, mean_probability([bert_probability, teacher_probability], [1 - share, share])))
        for share in TEACHER_WEIGHTS]})


def choose_teacher_share(labels: np.ndarray, bert_probability: np.ndarray, teacher_probability: np.ndarray,
                         bootstrap: CompareParams) -> dict:
    """The sweep's best share (the first of ties) where its paired bootstrap interval against the plain average lies
    above zero, else the plain average; with the sweep and that difference."""
    sweep = teacher_weight_sweep(labels, bert_probability, teacher_probability)
    best = float(sweep["teacher_weight"][sweep["auc"].idxmax()])
    difference = bootstrap_auc_difference(
        labels, mean_probability([bert_probability, teacher_probability], [1 - best, best]),
        mean_probability([bert_probability, teacher_probability]), bootstrap.resamples, bootstrap.seed)
    chosen = best if difference["ci_low"] > 0 else PLAIN_SHARE
    return {"teacher_weight": chosen, "best": best, "best_auc": float(sweep["auc"].max()),
            "sweep": sweep.to_dict("records")} | {f"best_vs_average_{key}": value for key, value in difference.items()}


def teacher_share_weights(path: Path) -> list[float]:
    """The members' weights the teacher_share stage chose (models/bert_teacher.json): the default recipe's, then the
    teacher's."""
    share = read_json(path).get("teacher_weight")
    if not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise DataError(f"{path}: 'teacher_weight' = {share!r}, expected a weight in [0, 1]; rerun "
                        f"`dvc repro distill/dvc.yaml:teacher_share`")
    return [1 - share, share]


def averaged(paths: list[Path], weights: list[float] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The tweets of the first probabilities file (`id, label`) and the (weighted) mean of every file's
    probabilities for them; each other file must score the same tweets with the same labels."""
    first = read_probabilities(paths[0])
    members = [first["non_complaint_probability"].to_numpy()]
    for path in paths[1:]:
        other = read_probabilities(path).set_index("id").reindex(first["id"])
        if other["label"].isna().any() or not np.array_equal(other["label"].to_numpy(), first["label"].to_numpy()):
            raise DataError(f"{path}: does not score the tweets of {paths[0]} with their labels; rerun the pipeline")
        members.append(other["non_complaint_probability"].to_numpy())
    return first[["id", "label"]], mean_probability(members, weights)
