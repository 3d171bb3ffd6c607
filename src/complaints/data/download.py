"""Fetch the tutorial's three CSVs from the first source that works, verified by SHA-256."""
from __future__ import annotations

import logging
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from complaints.core.config import require, require_digest
from complaints.core.io import DataError, atomic_dir, sha256_of

logger = logging.getLogger(__name__)


class DownloadError(DataError):
    """No source gave the data; the message lists every source tried and why."""


@dataclass(frozen=True)
class DownloadParams:
    """The `download` section: sources in order of preference and the pinned digests."""

    SECTION: ClassVar[str] = "download"
    sources: tuple[str, ...]
    sha256: dict[str, str]
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        for name, digest in self.sha256.items():
            require_digest(digest, f"{self.SECTION}.sha256.{name}")
        require(self.timeout_s > 0, f"{self.SECTION}.timeout_s", self.timeout_s, "a positive number of seconds")


def is_url(source: str) -> bool:
    """Whether a source is fetched over HTTP(S) rather than read from disk."""
    return source.startswith(("http://", "https://"))


def extract_zip(archive: Path, names: list[str], destination: Path) -> None:
    """Copy the members named `names` (found by base name, at any depth) out of a zip archive."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = {Path(info.filename).name: info for info in zipped.infolist() if not info.is_dir()}
            for name in names:
                if name not in members:
                    raise DataError(f"{archive}: zip has no member {name}")
                with zipped.open(members[name]) as source, open(destination / name, "wb") as target:
                    shutil.copyfileobj(source, target)
    except (zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{archive}: corrupt zip archive ({error})") from None


def fetch_url(url: str, destination: Path, timeout_s: float) -> Path:
    """Download `url` into `destination`; return the downloaded file."""
    target = destination / "download"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, open(target, "wb") as stream:
            shutil.copyfileobj(response, stream)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise DataError(f"{url}: download failed ({reason})") from None
    return target


def fetch(source: str, names: list[str], destination: Path, timeout_s: float) -> None:
    """Put the files `names` from one source (URL, zip file or folder) into `destination`."""
    if is_url(source):
        extract_zip(fetch_url(source, destination, timeout_s), names, destination)
        (destination / "download").unlink()
        return
    path = Path(source)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        for name in names:
            if not (path / name).is_file():
                raise DataError(f"{path}: folder has no {name}")
            shutil.copyfile(path / name, destination / name)
    else:
        extract_zip(path, names, destination)


def verify(folder: Path, sha256: dict[str, str]) -> None:
    """Check every file against its pinned digest; a mismatch names the file and both digests."""
    for name, expected in sha256.items():
        actual = sha256_of(folder / name)
        if actual != expected:
            raise DataError(f"{name}: SHA-256 mismatch, expected {expected}, got {actual}")


Fetcher = Callable[[str, list[str], Path, float], None]


def download(params: DownloadParams, sources: list[str], output: Path, fetcher: Fetcher = fetch) -> str:
    """Fill `output` with the verified files from the first working source (got by `fetcher`); return that source."""
    names = list(params.sha256)
    failures = []
    for source in sources:
        try:
            with atomic_dir(output) as staging:
                fetcher(source, names, staging, params.timeout_s)
                verify(staging, params.sha256)
        except (DataError, OSError) as error:
            logger.warning("source %s failed: %s", source, error)
            failures.append(f"  - {source}: {error}")
            continue
        logger.info("fetched %s from %s", ", ".join(names), source)
        return source
    raise DownloadError("no data source worked; tried in order:\n" + "\n".join(failures))
