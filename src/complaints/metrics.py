"""Plain classification metrics shared by every model, under the same keys so `dvc metrics diff` lines them up."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score


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


def seed_spread(per_seed: dict[int, dict]) -> dict:
    """AUC and accuracy per seed with their mean, sample standard deviation, min and max."""
    spread: dict = {"seeds": len(per_seed)}
    for name in ("auc", "accuracy"):
        values = np.array([metrics[name] for metrics in per_seed.values()])
        spread |= {f"{name}_mean": float(values.mean()), f"{name}_std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                   f"{name}_min": float(values.min()), f"{name}_max": float(values.max())}
        spread |= {f"{name}_seed_{seed}": float(metrics[name]) for seed, metrics in per_seed.items()}
    return spread
