"""Plain classification metrics shared by every model, under the same keys so `dvc metrics diff` lines them up."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score

from complaints.core.decision import predicted_labels


def classification_metrics(labels: np.ndarray, non_complaint_probability: np.ndarray, threshold: float = 0.5) -> dict:
    """AUC; accuracy, precision, recall, F1 of non-complaint (label 1) and confusion counts at `threshold` (the rule)."""
    predicted = predicted_labels(non_complaint_probability, threshold)
    (tn, fp), (fn, tp) = confusion_matrix(labels, predicted, labels=[0, 1]).tolist()
    return {
        "tn": tn, "fp": fp, "fn": fn, "tp": tp,
        "auc": float(roc_auc_score(labels, non_complaint_probability)),
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
    }
