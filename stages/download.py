"""Fetch the tutorial's data into data/raw/, verified against the digests in params.yaml.

Reads: params `download` (sources in order, sha256). Writes: data/raw/{complaint1700,noncomplaint1700,test_data}.csv
Run:   python -m stages.download --out data/raw
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from complaints.core import stage
from complaints.core.config import load_section, project_root, resolve_path
from complaints.data.download import DownloadParams, download, is_url


def main(argv: Sequence[str] | None = None) -> None:
    """Download and verify the raw CSVs."""
    arguments = stage.parser(__doc__)
    arguments.add_argument("--out", type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "download", DownloadParams)
    root = project_root()
    sources = [source if is_url(source) else str(resolve_path(source, root)) for source in params.sources]
    download(params, sources, args.out)


if __name__ == "__main__":
    stage.run(main)
