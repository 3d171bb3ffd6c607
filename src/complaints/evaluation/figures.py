"""Evaluation numbers: ROC points, confusion rows, threshold sweeps, evaluation files, the engine gate, bootstrap
intervals, the chosen epoch.

Only the cheap stages import this module, so an edit here never reruns a fine-tune.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score, roc_curve

from complaints.core.config import require
from complaints.core.decision import LABEL_WORDS, is_non_complaint, label_words, predicted_labels
from complaints.core.io import atomic_dir, write_json, write_table
from complaints.core.metrics import classification_metrics


def roc_points(labels: np.ndarray, non_complaint_probability: np.ndarray) -> pd.DataFrame:
    """The ROC curve as a table (`fpr`, `tpr`, `threshold`) for `dvc plots`."""
    fpr, tpr, thresholds = roc_curve(labels, non_complaint_probability)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.minimum(thresholds, 1.0)})


def confusion_rows(labels: np.ndarray, non_complaint_probability: np.ndarray, threshold: float = 0.5) -> pd.DataFrame:
    """One row per example (`actual`, `predicted`) for DVC's confusion template."""
    return pd.DataFrame({"actual": np.asarray(LABEL_WORDS)[labels],
                         "predicted": label_words(non_complaint_probability, threshold)})


SWEEP_THRESHOLDS = np.round(np.arange(0.05, 1.0, 0.05), 2)


def scores_at(labels: np.ndarray, non_complaint_probability: np.ndarray, threshold: float) -> dict:
    """Precision, recall and F1 of non-complaint at `threshold` (the rule)."""
    predicted = predicted_labels(non_complaint_probability, threshold)
    return {name: float(metric(labels, predicted, zero_division=0))
            for name, metric in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score))}


def threshold_sweep(labels: np.ndarray, non_complaint_probability: np.ndarray) -> pd.DataFrame:
    """Validation precision and recall of non-complaint at each sweep threshold (the rule)."""
    rows = [{"threshold": float(threshold), **scores_at(labels, non_complaint_probability, threshold)}
            for threshold in SWEEP_THRESHOLDS]
    return pd.DataFrame(rows)[["threshold", "precision", "recall"]]


@dataclass(frozen=True)
class EvaluateParams:
    """The `evaluate` section: tweets per inference batch."""

    batch_size: int = 128

    def __post_init__(self) -> None:
        require(self.batch_size >= 1, "evaluate.batch_size", self.batch_size, "an integer >= 1")


# What `dvc metrics show` lists of a model (metrics/, committed to git); the rest of its figures go to reports/.
HEADLINE = ("auc", "accuracy", "f1")


def write_metrics(figures: dict, headline_keys: tuple[str, ...], metrics_path: Path, report_path: Path) -> None:
    """The headline figures to `metrics_path`, all of them to `report_path`."""
    write_json({key: figures[key] for key in headline_keys}, metrics_path)
    write_json(figures, report_path)


def write_evaluation(
    validation: pd.DataFrame, non_complaint_probability: np.ndarray, extra: dict, metrics_path: Path, report_path: Path,
    plots_dir: Path,
) -> dict:
    """Write one model's validation metrics (headline and report), ROC points, confusion rows and probabilities."""
    labels = validation["label"].to_numpy()
    metrics = {**classification_metrics(labels, non_complaint_probability), **extra}
    with atomic_dir(plots_dir) as staging:
        write_table(roc_points(labels, non_complaint_probability), staging / "roc.csv")
        write_table(confusion_rows(labels, non_complaint_probability), staging / "confusion.csv")
        write_table(threshold_sweep(labels, non_complaint_probability), staging / "threshold_sweep.csv")
        write_table(
            validation[["id", "label"]].assign(non_complaint_probability=non_complaint_probability), staging / "val_probabilities.csv"
        )
    write_metrics(metrics, HEADLINE, metrics_path, report_path)
    return metrics


@dataclass(frozen=True)
class EngineGate:
    """The `engines` section: how far an engine may move validation AUC, and how many test labels it must keep."""

    max_auc_change: float = 0.002
    min_label_agreement: float = 0.995

    def __post_init__(self) -> None:
        require(0 <= self.max_auc_change < 1, "engines.max_auc_change", self.max_auc_change, "a number in [0, 1)")
        require(0 < self.min_label_agreement <= 1, "engines.min_label_agreement", self.min_label_agreement,
                "a share in (0, 1]")


def engine_judgement(val_labels: np.ndarray, val_reference: np.ndarray, val_engine: np.ndarray,
                     test_reference: np.ndarray, test_engine: np.ndarray, threshold: float, gate: EngineGate) -> dict:
    """An engine against PyTorch fp32: validation AUC and F1, test labels kept at the threshold, the count's change."""
    reference, engine = classification_metrics(val_labels, val_reference), classification_metrics(val_labels, val_engine)
    reference_labels, engine_labels = is_non_complaint(test_reference, threshold), is_non_complaint(test_engine, threshold)
    agreement = float((reference_labels == engine_labels).mean())
    auc_change = engine["auc"] - reference["auc"]
    return {
        "val_auc": engine["auc"], "val_auc_change": auc_change, "val_f1": engine["f1"],
        "val_f1_change": engine["f1"] - reference["f1"], "test_label_agreement": agreement,
        "test_non_complaints": int(engine_labels.sum()),
        "test_non_complaints_change": int(engine_labels.sum()) - int(reference_labels.sum()),
        "passes_gate": bool(abs(auc_change) <= gate.max_auc_change and agreement >= gate.min_label_agreement),
    }


@dataclass(frozen=True)
class CompareParams:
    """The `compare` section: bootstrap resamples and their seed."""

    resamples: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        require(self.resamples >= 100, "compare.resamples", self.resamples, "an integer >= 100")


def resample_auc(labels: np.ndarray, non_complaint_probability: np.ndarray) -> Callable[[np.ndarray], float]:
    """AUC on a bootstrap resample given as a count per tweet: Mann-Whitney with weights, ties counted half.

    The tweets are ranked once, so each resample costs two weighted counts instead of a sort.
    """
    values, tie_group = np.unique(non_complaint_probability, return_inverse=True)
    positive = labels == 1

    def auc(counts: np.ndarray) -> float:
        negatives_at = np.bincount(tie_group[~positive], counts[~positive], minlength=values.size)
        negatives_below = np.cumsum(negatives_at) - negatives_at
        pairs_won = (counts[positive] * (negatives_below + negatives_at / 2)[tie_group[positive]]).sum()
        return float(pairs_won / (counts[positive].sum() * counts[~positive].sum()))

    return auc


def bootstrap_auc_difference(
    labels: np.ndarray, probability: np.ndarray, reference_probability: np.ndarray, resamples: int, seed: int
) -> dict:
    """AUC(probability) - AUC(reference) on the same tweets, with a paired percentile bootstrap 95% interval and
    standard error."""
    if np.unique(labels).size < 2:
        raise ValueError("an AUC needs labels of both classes")
    candidate_auc, reference_auc = resample_auc(labels, probability), resample_auc(labels, reference_probability)
    generator = np.random.default_rng(seed)
    differences = []
    while len(differences) < resamples:
        rows = generator.integers(0, len(labels), len(labels))
        if labels[rows].min() == labels[rows].max():
            continue  # AUC needs both classes in the resample; with both in the data, most resamples have them
        counts = np.bincount(rows, minlength=len(labels)).astype(np.float64)
        differences.append(candidate_auc(counts) - reference_auc(counts))
    low, high = np.percentile(differences, [2.5, 97.5])
    difference = roc_auc_score(labels, probability) - roc_auc_score(labels, reference_probability)
    return {"difference": float(difference), "ci_low": float(low), "ci_high": float(high),
            "se": float(np.std(differences, ddof=1))}


def auc_standard_error(labels: np.ndarray, non_complaint_probability: np.ndarray) -> float:
    """The AUC's standard error by Hanley and McNeil (1982), from the AUC and the two class sizes."""
    auc = roc_auc_score(labels, non_complaint_probability)
    positives, negatives = int((labels == 1).sum()), int((labels == 0).sum())
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / (
        positives * negatives)
    return float(np.sqrt(variance))


def chosen_epoch_summary(record: dict) -> dict:
    """From a training.json: epochs trained, the epoch kept and, when a dev split was held out, its dev AUC."""
    row = record["history"][record["chosen_epoch"] - 1]
    summary = {"epochs": len(record["history"]), "chosen_epoch": record["chosen_epoch"]}
    return summary | ({"dev_auc": row["dev_auc"]} if "dev_auc" in row else {})
