"""File formats between stages, written atomically: a temporary file (or folder), then a rename.

Floats in tables and JSON are written with FLOAT_DIGITS significant digits: the last bits of a float reduction may
differ from one machine to the next, and a file that must hash the same everywhere cannot carry them.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow

FLOAT_DIGITS = 12


class DataError(ValueError):
    """An input file breaks a rule: names the file, the row or id, and the rule."""


def sha256_of(path: Path) -> str:
    """The hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def remove_stale_temporaries(path: Path) -> None:
    """Delete what a killed writer of `path` left behind (DVC's repository lock rules out a live one)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp_path = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp_path
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp_path, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp_path, path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def fixed_precision(data: object) -> object:
    """`data` with every float rounded to FLOAT_DIGITS significant digits (inside dicts and lists too)."""
    if isinstance(data, float):
        return float(f"{data:.{FLOAT_DIGITS}g}")
    if isinstance(data, Mapping):
        return {key: fixed_precision(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [fixed_precision(value) for value in data]
    return data


def fixed_precision_column(values: np.ndarray) -> np.ndarray:
    """A float column rounded to FLOAT_DIGITS significant digits."""
    return np.char.mod(f"%.{FLOAT_DIGITS}g", values.astype(np.float64)).astype(np.float64)


def write_json(data: Mapping, path: Path) -> None:
    """Write `data` as indented JSON with sorted keys and floats at FLOAT_DIGITS significant digits."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as stream:
        json.dump(fixed_precision(data), stream, indent=2, sort_keys=True)
        stream.write("\n")


def read_json(path: Path) -> dict:
    """Read a JSON file; one that does not parse is a DataError naming it."""
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not valid JSON ({error}); rerun the stage that writes it") from None


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write a DataFrame as parquet (by suffix `.parquet`) or CSV, without its index, floats at FLOAT_DIGITS digits."""
    floats = frame.select_dtypes("floating").columns
    frame = frame.assign(**{column: fixed_precision_column(frame[column].to_numpy()) for column in floats})
    with atomic_path(path) as tmp:
        if Path(path).suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a parquet table written by `write_table`; a truncated or foreign file is a DataError naming it."""
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise
    except (pyarrow.ArrowException, OSError) as error:
        raise DataError(f"{path}: not a readable parquet table ({error}); rerun the stage that writes it") from None


def read_csv_strict(path: Path, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """Read a UTF-8 CSV that must have the columns of `dtypes`; errors name the file, the row and the rule."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig", errors="strict", newline="") as stream:
            records = [record for record in csv.reader(stream, strict=True) if record]
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not valid UTF-8 at byte {error.start}") from None
    except csv.Error as error:
        raise DataError(f"{path}: malformed CSV ({error})") from None
    if not records:
        raise DataError(f"{path}: file is empty, expected a header with columns {', '.join(dtypes)}")
    header, rows = records[0], records[1:]
    missing = [column for column in dtypes if column not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header)}")
    for number, row in enumerate(rows, start=1):
        if len(row) != len(header):
            raise DataError(f"{path}: data row {number} has {len(row)} fields, expected {len(header)} ({', '.join(header)})")
    if not rows:
        raise DataError(f"{path}: has a header but no rows")
    frame = pd.DataFrame(rows, columns=header, dtype="str")
    return _cast_columns(frame[list(dtypes)], dtypes, path)


def read_probabilities(path: Path) -> pd.DataFrame:
    """A model's scores as written beside its metrics: `id, label, non_complaint_probability`."""
    return read_csv_strict(path, {"id": "int64", "label": "int64", "non_complaint_probability": "float64"})


def _cast_columns(frame: pd.DataFrame, dtypes: Mapping[str, str], path: Path) -> pd.DataFrame:
    """Cast string columns to `dtypes` (`str`, `int64`, `float64`), naming the first row that does not fit."""
    for column, dtype in dtypes.items():
        if dtype == "str":
            continue
        converted = pd.to_numeric(frame[column].str.strip(), errors="coerce")
        bad = converted.isna() | ((converted != converted.round()) if dtype == "int64" else False)
        if bad.any():
            row = int(bad.idxmax())
            expected = "an integer" if dtype == "int64" else "a number"
            raise DataError(f"{path}: data row {row + 1}: column '{column}' = {frame[column].iloc[row]!r}, expected {expected}")
        frame = frame.assign(**{column: converted.astype(dtype)})
    return frame
