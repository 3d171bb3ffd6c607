"""Label, split 90/10 as the tutorial, prepare the test tweets, and report duplicate tweets.

Reads: data/raw/*.csv, params `split`. Writes: data/split/{train,val,test}.parquet (id, airline, text[, label]),
reports/duplicates.json
Run:   python -m stages.split --raw data/raw --out data/split --duplicates reports/duplicates.json
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from complaints.core import stage
from complaints.core.config import load_section
from complaints.data.tweets import SplitParams, drop_seen_elsewhere, duplicate_report, label_tweets, read_tweets, split_labeled
from complaints.core.io import atomic_dir, write_json, write_table

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Build the train, validation and test tables."""
    arguments = stage.parser(__doc__)
    arguments.add_argument("--raw", type=Path, required=True)
    arguments.add_argument("--out", type=Path, required=True)
    arguments.add_argument("--duplicates", type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "split", SplitParams)

    labeled = label_tweets(read_tweets(args.raw / "complaint1700.csv"), read_tweets(args.raw / "noncomplaint1700.csv"))
    test = read_tweets(args.raw / "test_data.csv")
    train, val = split_labeled(labeled, params.test_size, params.random_state)
    report = duplicate_report({"train": train, "val": val, "test": test})
    if params.drop_cross_split_duplicates:
        train = drop_seen_elsewhere(train, val, test)
    logger.info("train %d, val %d, test %d tweets", len(train), len(val), len(test))

    with atomic_dir(args.out) as staging:
        for name, frame in {"train": train, "val": val, "test": test}.items():
            write_table(frame, staging / f"{name}.parquet")
    write_json(report, args.duplicates)


if __name__ == "__main__":
    stage.run(main)
