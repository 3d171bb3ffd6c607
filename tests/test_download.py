import shutil
import zipfile
from pathlib import Path

import pytest

from complaints.data.download import DownloadError, DownloadParams, download
from complaints.core.io import sha256_of
from conftest import MIRROR, ROOT
from complaints.core.config import load_section

PARAMS = load_section(ROOT / "params.yaml", "download", DownloadParams)
UNREACHABLE = "http://127.0.0.1:9/data.zip"


def leftovers(folder: Path) -> list[str]:
    """Everything in `folder` (temporary files included)."""
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("source", [MIRROR / "data.zip", MIRROR])
def test_mirror_zip_or_folder_gives_verified_files(tmp_path, source):
    output = tmp_path / "data" / "raw"
    assert download(PARAMS, [str(source)], output) == str(source)
    assert leftovers(output) == ["complaint1700.csv", "noncomplaint1700.csv", "test_data.csv"]
    assert all(sha256_of(output / name) == digest for name, digest in PARAMS.sha256.items())
    assert leftovers(output.parent) == ["raw"]


def test_falls_through_to_the_next_source(tmp_path):
    output = tmp_path / "raw"
    assert download(PARAMS, [str(tmp_path / "missing.zip"), UNREACHABLE, str(MIRROR)], output) == str(MIRROR)


def test_checksum_mismatch_names_file_and_both_digests(tmp_path):
    folder = tmp_path / "mirror"
    shutil.copytree(MIRROR, folder)
    with open(folder / "test_data.csv", "a") as stream:
        stream.write("1,2,United,x,tampered\n")
    with pytest.raises(DownloadError) as error:
        download(PARAMS, [str(folder)], tmp_path / "out" / "raw")
    message = str(error.value)
    assert "test_data.csv: SHA-256 mismatch" in message
    assert PARAMS.sha256["test_data.csv"] in message and sha256_of(folder / "test_data.csv") in message
    assert leftovers(tmp_path / "out") == []


def test_no_source_lists_every_source_and_why(tmp_path):
    sources = [str(tmp_path / "missing.zip"), str(tmp_path / "nowhere"), UNREACHABLE]
    with pytest.raises(DownloadError) as error:
        download(PARAMS, sources, tmp_path / "out" / "raw")
    lines = str(error.value).splitlines()
    assert len(lines) == 4 and "no data source worked" in lines[0]
    assert [line.split(": ", 1)[0].strip(" -") for line in lines[1:]] == sources
    assert "download failed" in lines[3]
    assert leftovers(tmp_path / "out") == []


def test_corrupt_zip_is_reported_as_such(tmp_path):
    corrupt = tmp_path / "data.zip"
    corrupt.write_bytes((MIRROR / "data.zip").read_bytes()[:5000])
    with pytest.raises(DownloadError, match="corrupt zip archive"):
        download(PARAMS, [str(corrupt)], tmp_path / "out" / "raw")
    assert leftovers(tmp_path / "out") == []


def test_zip_missing_a_member_is_named(tmp_path):
    partial = tmp_path / "data.zip"
    with zipfile.ZipFile(partial, "w") as zipped:
        zipped.write(MIRROR / "complaint1700.csv", "data/complaint1700.csv")
    with pytest.raises(DownloadError, match="zip has no member noncomplaint1700.csv"):
        download(PARAMS, [str(partial)], tmp_path / "raw")


def test_failed_download_keeps_previous_output(tmp_path):
    output = tmp_path / "raw"
    download(PARAMS, [str(MIRROR)], output)
    with pytest.raises(DownloadError):
        download(PARAMS, [str(tmp_path / "missing")], output)
    assert leftovers(output) == ["complaint1700.csv", "noncomplaint1700.csv", "test_data.csv"]
    assert leftovers(tmp_path) == ["raw"]
