"""Where a model fails: metrics per slice of the validation tweets, its most confident mistakes, and calibration."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from complaints.core.decision import is_non_complaint, predicted_labels

LENGTH_BANDS = (0, 60, 100, 140, 10_000)  # characters: short, medium, long, over the old 140-character limit
CALIBRATION_BINS = 10
_URL = re.compile(r"https?://\S+")
_HASHTAG = re.compile(r"#\w+")


def slice_labels(tweets: pd.DataFrame) -> dict[str, pd.Categorical]:
    """For each way of slicing, every tweet's slice (in the slices' natural order): airline, length band,
    with/without a URL, with/without a hashtag."""
    text = tweets["text"]
    bands = pd.cut(text.str.len(), LENGTH_BANDS, right=False,
                   labels=[f"{low}-{high - 1} chars" if high < 10_000 else f"{low}+ chars"
                           for low, high in zip(LENGTH_BANDS, LENGTH_BANDS[1:])])
    return {
        "airline": pd.Categorical(tweets["airline"].astype(str)),
        "length": pd.Categorical(bands),
        "url": pd.Categorical(np.where(text.str.contains(_URL), "with a URL", "without a URL"),
                              categories=["with a URL", "without a URL"]),
        "hashtag": pd.Categorical(np.where(text.str.contains(_HASHTAG), "with a hashtag", "without a hashtag"),
                                  categories=["with a hashtag", "without a hashtag"]),
    }


def slice_metrics(tweets: pd.DataFrame, probability: np.ndarray, threshold: float = 0.5) -> pd.DataFrame:
    """Per slice: tweets, share of non-complaints, accuracy at `threshold`, and AUC where both classes occur."""
    labels = tweets["label"].to_numpy()
    predicted = predicted_labels(probability, threshold)
    rows = []
    for kind, values in slice_labels(tweets).items():
        for value in (category for category in values.categories if (values == category).any()):
            rows_in = np.asarray(values == value)
            both = np.unique(labels[rows_in]).size == 2
            rows.append({
                "slice_kind": kind, "slice": value, "tweets": int(rows_in.sum()),
                "non_complaint_share": float(labels[rows_in].mean()),
                "accuracy": float((predicted[rows_in] == labels[rows_in]).mean()),
                "auc": float(roc_auc_score(labels[rows_in], probability[rows_in])) if both else float("nan"),
            })
    return pd.DataFrame(rows)


def confident_mistakes(tweets: pd.DataFrame, probability: np.ndarray, count: int = 10,
                       threshold: float = 0.5) -> pd.DataFrame:
    """The `count` most confident false complaints and false non-complaints, with their text and probability."""
    table = tweets[["id", "text", "label"]].assign(non_complaint_probability=probability)
    called_non_complaint = is_non_complaint(probability, threshold)
    false_complaints = table[(table["label"] == 1) & ~called_non_complaint].nsmallest(
        count, "non_complaint_probability").assign(mistake="false complaint")
    false_non_complaints = table[(table["label"] == 0) & called_non_complaint].nlargest(
        count, "non_complaint_probability").assign(mistake="false non-complaint")
    return pd.concat([false_complaints, false_non_complaints], ignore_index=True)[
        ["mistake", "id", "non_complaint_probability", "label", "text"]]


def reliability_curve(labels: np.ndarray, probability: np.ndarray, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Per equal-width probability bin: tweets, mean predicted probability and observed share of non-complaints."""
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)
    rows = []
    for bin_number in range(bins):
        in_bin = index == bin_number
        rows.append({
            "bin": bin_number, "bin_low": float(edges[bin_number]), "bin_high": float(edges[bin_number + 1]),
            "tweets": int(in_bin.sum()),
            "predicted": float(probability[in_bin].mean()) if in_bin.any() else float("nan"),
            "observed": float(labels[in_bin].mean()) if in_bin.any() else float("nan"),
        })
    return pd.DataFrame(rows)


def expected_calibration_error(curve: pd.DataFrame) -> float:
    """The tweet-weighted mean gap between predicted and observed share over the reliability curve's bins."""
    filled = curve[curve["tweets"] > 0]
    return float((filled["tweets"] * (filled["predicted"] - filled["observed"]).abs()).sum() / filled["tweets"].sum())
