"""The decision, in one place: the label words, the rule, and reading a threshold.

A tweet is a non-complaint when its non-complaint probability is above the threshold, as the tutorial's code does.
Every label, every count and every metric at a threshold goes through `is_non_complaint`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from complaints.core.io import DataError, read_json

LABEL_WORDS = ("complaint", "non-complaint")  # labels 0 and 1, as the model's config.json `id2label`
THRESHOLD_FILE = "threshold.json"


@dataclass(frozen=True)
class Threshold:
    """The decision threshold and where it came from."""

    value: float
    source: str


def is_non_complaint(non_complaint_probability: np.ndarray | float, threshold: float) -> np.ndarray:
    """The rule: True where the probability is above the threshold."""
    return np.asarray(non_complaint_probability) > threshold


def predicted_labels(non_complaint_probability: np.ndarray, threshold: float) -> np.ndarray:
    """Label 1 (non-complaint) or 0 (complaint) by the rule."""
    return is_non_complaint(non_complaint_probability, threshold).astype(int)


def label_words(non_complaint_probability: np.ndarray, threshold: float) -> np.ndarray:
    """`non-complaint` or `complaint` by the rule."""
    return np.asarray(LABEL_WORDS)[predicted_labels(non_complaint_probability, threshold)]


def read_threshold(path: Path, source: str | None = None) -> Threshold:
    """The `threshold` of a threshold.json: a number in [0, 1), or an error naming the file."""
    if not path.is_file():
        raise DataError(f"no threshold: {path} does not exist; run `dvc repro` to make it or `dvc pull` to fetch it, "
                        f"or pass --threshold")
    value = read_json(path).get("threshold")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        raise DataError(f"{path}: 'threshold' is {value!r}, expected a number in [0, 1)")
    return Threshold(float(value), source or str(path))
