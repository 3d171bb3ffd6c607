"""Fetch the external labeled set, verify it, label it, keep one row per tweet, and report the tweets it shares with
the tutorial's data.

Reads: params `external_data` (sources in order, sha256, upstream_sha256), data/split/{train,val,test}.parquet.
Writes: data/external/{airline_sentiment_dev.csv (as verified), tweets.parquet (id, airline, text, label,
negativereason)}, reports/external_data.json (rows, tweets kept, repeated and conflicting ids, overlap per split)
Run:   python -m stages.external_data --split data/split --out data/external --report reports/external_data.json
"""
from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from complaints.core import stage
from complaints.core.config import load_section, project_root, resolve_path
from complaints.data.download import download, is_url
from complaints.data.external_data import EXTERNAL_FILE, ExternalDataParams, external_fetcher, deduplicated, overlap_report, read_external
from complaints.core.io import atomic_dir, read_parquet, write_json, write_table

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Download, check and label the external tweets."""
    arguments = stage.parser(__doc__)
    for option in ("--split", "--out", "--report"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "external_data", ExternalDataParams)
    root = project_root()
    sources = [source if is_url(source) else str(resolve_path(source, root)) for source in params.sources]

    with tempfile.TemporaryDirectory() as scratch:
        verified = Path(scratch) / "verified"
        download(params, sources, verified, external_fetcher(params.upstream_sha256))
        external, report = deduplicated(read_external(verified / EXTERNAL_FILE))
        splits = {name: read_parquet(args.split / f"{name}.parquet") for name in ("train", "val", "test")}
        report |= {"complaint_share": float(1 - external["label"].mean()), "overlap": overlap_report(external, splits)}
        logger.info("%d rows, %d tweets kept (%d repeated ids, %d with conflicting labels dropped), %.1f%% complaints; "
                    "also in train %d, val %d, test %d", report["rows"], report["tweets"], report["repeated_ids"],
                    len(report["conflicting_ids"]), 100 * report["complaint_share"],
                    *(report["overlap"][name]["count"] for name in splits))
        with atomic_dir(args.out) as staging:
            shutil.copyfile(verified / EXTERNAL_FILE, staging / EXTERNAL_FILE)
            write_table(external, staging / "tweets.parquet")
    write_json(report, args.report)


if __name__ == "__main__":
    stage.run(main)
