"""The external labeled set: 7,313 airline tweets from another period, for evaluating and choosing, never for training.

It is the even half of the public "Twitter US Airline Sentiment" file (rows whose sha256(tweet_id) is even); a
`negative` tweet is a complaint, a `neutral` or `positive` one a non-complaint.
"""
from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from complaints.data.tweets import COMPLAINT, NON_COMPLAINT
from complaints.core.config import require_digest
from complaints.data.download import DownloadParams, Fetcher, fetch, fetch_url, is_url
from complaints.core.io import DataError, read_csv_strict, sha256_of

EXTERNAL_FILE = "airline_sentiment_dev.csv"
EXTERNAL_COLUMNS = {"tweet_id": "int64", "airline_sentiment": "str", "negativereason": "str", "airline": "str",
                    "text": "str"}
SENTIMENT_LABELS = {"negative": COMPLAINT, "neutral": NON_COMPLAINT, "positive": NON_COMPLAINT}
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ExternalDataParams(DownloadParams):
    """The `external_data` section: sources (the mirror folder, or the upstream file to halve), pinned digests."""

    SECTION: ClassVar[str] = "external_data"
    upstream_sha256: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        require_digest(self.upstream_sha256, "external_data.upstream_sha256")


def is_even_half(tweet_id: str) -> bool:
    """The documented half rule: sha256 of the id as written (UTF-8), read as a hex integer, is even."""
    return int(hashlib.sha256(tweet_id.encode("utf-8")).hexdigest(), 16) % 2 == 0


def write_even_half(upstream: Path, target: Path) -> None:
    """Copy the header and the rows of the upstream CSV that the half rule keeps, as Python's csv module writes them."""
    with open(upstream, encoding="utf-8", newline="") as source, open(target, "w", encoding="utf-8", newline="") as out:
        reader, writer = csv.reader(source), csv.writer(out, lineterminator="\n")
        header = next(reader, None)
        if header is None or "tweet_id" not in header:
            raise DataError(f"{upstream}: expected a CSV with a tweet_id column; found {header}")
        column = header.index("tweet_id")
        writer.writerow(header)
        writer.writerows(row for row in reader if is_even_half(row[column]))


def external_fetcher(upstream_sha256: str) -> Fetcher:
    """A fetcher for `download`: a folder holds the half itself; a URL or file is the upstream set, verified, then halved."""

    def fetch_external(source: str, names: list[str], destination: Path, timeout_s: float) -> None:
        path = Path(source)
        if not is_url(source) and path.is_dir():
            fetch(source, names, destination, timeout_s)
            return
        upstream = fetch_url(source, destination, timeout_s) if is_url(source) else path
        if not upstream.is_file():
            raise DataError(f"{path}: no such file or folder")
        digest = sha256_of(upstream)
        if digest != upstream_sha256:
            raise DataError(f"{source}: upstream SHA-256 mismatch, expected {upstream_sha256}, got {digest}")
        write_even_half(upstream, destination / EXTERNAL_FILE)
        if is_url(source):
            upstream.unlink()

    return fetch_external


def read_external(path: Path) -> pd.DataFrame:
    """The external rows as (`id`, `airline`, `text`, `label`, `negativereason`), checked like the tutorial's data.

    Ids may repeat (the upstream file has 2 rows for some tweets): `deduplicated` decides what to keep.
    """
    frame = read_csv_strict(path, EXTERNAL_COLUMNS)
    unknown = ~frame["airline_sentiment"].isin(list(SENTIMENT_LABELS))
    if unknown.any():
        row = int(unknown.to_numpy().argmax())
        raise DataError(f"{path}: data row {row + 1}: column 'airline_sentiment' = "
                        f"{frame['airline_sentiment'].iloc[row]!r}, expected one of {', '.join(SENTIMENT_LABELS)}")
    empty = frame["tweet_id"][frame["text"].str.strip() == ""]
    if not empty.empty:
        raise DataError(f"{path}: tweets must be non-empty; empty text for tweet_id(s) {empty.tolist()[:10]}")
    return pd.DataFrame({
        "id": frame["tweet_id"], "airline": frame["airline"], "text": frame["text"],
        "label": frame["airline_sentiment"].map(SENTIMENT_LABELS).astype("int64"),
        "negativereason": frame["negativereason"].where(frame["airline_sentiment"] == "negative", ""),
    })


def deduplicated(rows: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """One row per tweet id: a repeated id whose copies share a label keeps its first row; one whose copies disagree
    (complaint and non-complaint) is dropped. Returns the tweets and what was done, with the ids."""
    repeated = rows[rows["id"].duplicated(keep=False)]
    conflicting = sorted(repeated.groupby("id")["label"].nunique().loc[lambda count: count > 1].index.tolist())
    tweets = rows[~rows["id"].isin(conflicting)].drop_duplicates("id", keep="first").reset_index(drop=True)
    report = {"rows": len(rows), "tweets": len(tweets), "repeated_ids": int(repeated["id"].nunique()),
              "conflicting_ids": conflicting}
    return tweets, report


def normalized(text: pd.Series) -> pd.Series:
    """Tweets compared across sets: lowercased, runs of white space collapsed to one space, ends stripped."""
    return text.str.lower().str.replace(_SPACES, " ", regex=True).str.strip()


def overlap_report(external: pd.DataFrame, splits: dict[str, pd.DataFrame]) -> dict:
    """External tweets whose normalized text also occurs in each of the tutorial's splits: count and both sides' ids."""
    external_text = normalized(external["text"])
    report = {}
    for name, frame in splits.items():
        shared = set(external_text) & set(normalized(frame["text"]))
        report[name] = {
            "count": int(external_text.isin(shared).sum()),
            "external_ids": sorted(external.loc[external_text.isin(shared), "id"].tolist()),
            f"{name}_ids": sorted(frame.loc[normalized(frame["text"]).isin(shared), "id"].tolist()),
        }
    return report
