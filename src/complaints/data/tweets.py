"""Labeled and unlabeled tweets: read strictly, label, split as the tutorial, report duplicates."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from complaints.core.config import require
from complaints.core.io import DataError, read_csv_strict

COMPLAINT, NON_COMPLAINT = 0, 1
TWEET_COLUMNS = {"id": "int64", "airline": "str", "tweet": "str"}


@dataclass(frozen=True)
class SplitParams:
    """The `split` section: the tutorial's 90/10 split and the duplicate policy."""

    test_size: float = 0.1
    random_state: int = 2020
    drop_cross_split_duplicates: bool = False

    def __post_init__(self) -> None:
        require(0 < self.test_size < 1, "split.test_size", self.test_size, "a fraction between 0 and 1")


def read_tweets(path: Path) -> pd.DataFrame:
    """Read a tweet CSV as (`id`, `airline`, `text`): ids unique integers, tweets non-empty strings."""
    frame = read_csv_strict(path, TWEET_COLUMNS).rename(columns={"tweet": "text"})
    duplicated = frame["id"][frame["id"].duplicated(keep=False)]
    if not duplicated.empty:
        raise DataError(f"{path}: ids must be unique; repeated ids {sorted(set(duplicated.tolist()))[:10]}")
    empty = frame["id"][frame["text"].str.strip() == ""]
    if not empty.empty:
        raise DataError(f"{path}: tweets must be non-empty; empty tweet for id(s) {empty.tolist()[:10]}")
    return frame.reset_index(drop=True)


def label_tweets(complaints: pd.DataFrame, non_complaints: pd.DataFrame) -> pd.DataFrame:
    """Concatenate complaints (label 0) and non-complaints (label 1) in the tutorial's order."""
    shared = sorted(set(complaints["id"]) & set(non_complaints["id"]))
    if shared:
        raise DataError(f"ids appear among both complaints and non-complaints: {shared[:10]}")
    return pd.concat(
        [complaints.assign(label=COMPLAINT), non_complaints.assign(label=NON_COMPLAINT)], ignore_index=True
    )


def split_labeled(labeled: pd.DataFrame, test_size: float, random_state: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tutorial's split: `train_test_split(test_size, random_state)`, unstratified, as published."""
    train, val = train_test_split(labeled, test_size=test_size, random_state=random_state)
    return train.reset_index(drop=True), val.reset_index(drop=True)


def duplicate_report(splits: dict[str, pd.DataFrame]) -> dict:
    """Exact-duplicate tweets within each split and across each pair of splits: count and ids."""
    within = {}
    for name, frame in splits.items():
        groups = frame[frame["text"].duplicated(keep=False)].groupby("text", sort=True)["id"]
        ids = [sorted(group.tolist()) for _, group in groups]
        within[name] = {"count": len(ids), "ids": ids}
    across = {}
    for (name_a, frame_a), (name_b, frame_b) in combinations(splits.items(), 2):
        shared = set(frame_a["text"]) & set(frame_b["text"])
        across[f"{name_a}~{name_b}"] = {
            "count": len(shared),
            "ids": {
                name_a: sorted(frame_a.loc[frame_a["text"].isin(shared), "id"].tolist()),
                name_b: sorted(frame_b.loc[frame_b["text"].isin(shared), "id"].tolist()),
            },
        }
    return {"within": within, "across": across}


def drop_seen_elsewhere(train: pd.DataFrame, *others: pd.DataFrame) -> pd.DataFrame:
    """Training tweets whose exact text is not in any evaluation split (those splits stay whole)."""
    seen = set().union(*(set(frame["text"]) for frame in others))
    return train[~train["text"].isin(seen)].reset_index(drop=True)
