"""Validation metrics shared by every model, under the same keys so `dvc metrics diff` lines them up."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score, confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score, roc_curve,
)

from complaints.config import require
from complaints.io import atomic_dir, write_json, write_table


def classification_metrics(labels: np.ndarray, non_complaint_probability: np.ndarray, threshold: float = 0.5) -> dict:
    """AUC; accuracy, precision, recall, F1 of non-complaint (label 1) and confusion counts at `probability >= threshold`."""
    predicted = (non_complaint_probability >= threshold).astype(int)
    (tn, fp), (fn, tp) = confusion_matrix(labels, predicted, labels=[0, 1]).tolist()
    return {
        "tn": tn, "fp": fp, "fn": fn, "tp": tp,
        "auc": float(roc_auc_score(labels, non_complaint_probability)),
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
    }


def roc_points(labels: np.ndarray, non_complaint_probability: np.ndarray) -> pd.DataFrame:
    """The ROC curve as a table (`fpr`, `tpr`, `threshold`) for `dvc plots`."""
    fpr, tpr, thresholds = roc_curve(labels, non_complaint_probability)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.minimum(thresholds, 1.0)})


def confusion_rows(labels: np.ndarray, non_complaint_probability: np.ndarray, threshold: float = 0.5) -> pd.DataFrame:
    """One row per example (`actual`, `predicted`) for DVC's confusion template."""
    names = np.array(["complaint", "non-complaint"])
    predicted = (non_complaint_probability >= threshold).astype(int)
    return pd.DataFrame({"actual": names[labels], "predicted": names[predicted]})


SWEEP_THRESHOLDS = np.round(np.arange(0.05, 1.0, 0.05), 2)


def scores_at(labels: np.ndarray, non_complaint_probability: np.ndarray, threshold: float) -> dict:
    """Precision, recall and F1 of non-complaint when labeling `probability > threshold`."""
    predicted = (non_complaint_probability > threshold).astype(int)
    return {name: float(metric(labels, predicted, zero_division=0))
            for name, metric in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score))}


def threshold_sweep(labels: np.ndarray, non_complaint_probability: np.ndarray) -> pd.DataFrame:
    """Validation precision and recall of non-complaint when labeling `probability > threshold`."""
    rows = [{"threshold": float(threshold), **scores_at(labels, non_complaint_probability, threshold)}
            for threshold in SWEEP_THRESHOLDS]
    return pd.DataFrame(rows)[["threshold", "precision", "recall"]]


def write_evaluation(
    validation: pd.DataFrame, non_complaint_probability: np.ndarray, extra: dict, metrics_path: Path, plots_dir: Path
) -> dict:
    """Write one model's validation metrics JSON, ROC points, confusion rows and probabilities."""
    labels = validation["label"].to_numpy()
    metrics = {**classification_metrics(labels, non_complaint_probability), **extra}
    with atomic_dir(plots_dir) as staging:
        write_table(roc_points(labels, non_complaint_probability), staging / "roc.csv")
        write_table(confusion_rows(labels, non_complaint_probability), staging / "confusion.csv")
        write_table(threshold_sweep(labels, non_complaint_probability), staging / "threshold_sweep.csv")
        write_table(
            validation[["id", "label"]].assign(probability=non_complaint_probability), staging / "val_probabilities.csv"
        )
    write_json(metrics, metrics_path)
    return metrics


def seed_spread(per_seed: dict[int, dict]) -> dict:
    """AUC and accuracy per seed with their mean, sample standard deviation, min and max."""
    spread: dict = {"seeds": len(per_seed)}
    for name in ("auc", "accuracy"):
        values = np.array([metrics[name] for metrics in per_seed.values()])
        spread |= {f"{name}_mean": float(values.mean()), f"{name}_std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                   f"{name}_min": float(values.min()), f"{name}_max": float(values.max())}
        spread |= {f"{name}_seed_{seed}": float(metrics[name]) for seed, metrics in per_seed.items()}
    return spread


@dataclass(frozen=True)
class CompareParams:
    """The `compare` section: bootstrap resamples and their seed."""

    resamples: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        require(self.resamples >= 100, "compare.resamples", self.resamples, "an integer >= 100")


def bootstrap_auc_difference(
    labels: np.ndarray, probability: np.ndarray, reference_probability: np.ndarray, resamples: int, seed: int
) -> dict:
    """AUC(probability) - AUC(reference) on the same tweets, with a paired percentile bootstrap 95% interval."""
    generator = np.random.default_rng(seed)
    differences = []
    while len(differences) < resamples:
        rows = generator.integers(0, len(labels), len(labels))
        if labels[rows].min() == labels[rows].max():
            continue  # AUC needs both classes in the resample
        differences.append(roc_auc_score(labels[rows], probability[rows]) - roc_auc_score(labels[rows], reference_probability[rows]))
    low, high = np.percentile(differences, [2.5, 97.5])
    difference = roc_auc_score(labels, probability) - roc_auc_score(labels, reference_probability)
    return {"difference": float(difference), "ci_low": float(low), "ci_high": float(high)}
