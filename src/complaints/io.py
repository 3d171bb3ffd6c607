"""File formats between stages, written atomically: a temporary file (or folder), then a rename."""
from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from safetensors.numpy import load_file, save_file


class DataError(ValueError):
    """An input file breaks a rule: names the file, the row or id, and the rule."""


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


def write_json(data: Mapping, path: Path) -> None:
    """Write `data` as indented JSON with sorted keys."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2, sort_keys=True)
        stream.write("\n")


def read_json(path: Path) -> dict:
    """Read a JSON file."""
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write a DataFrame as parquet (by suffix `.parquet`) or CSV, without its index."""
    with atomic_path(path) as tmp:
        if Path(path).suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a parquet table written by `write_table`."""
    return pd.read_parquet(path)


def write_arrays(arrays: Mapping[str, np.ndarray], path: Path) -> None:
    """Write named arrays as safetensors: no pickle, and the same bytes for the same arrays (npz stores times)."""
    with atomic_path(path) as tmp:
        save_file({name: np.ascontiguousarray(array) for name, array in arrays.items()}, tmp)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Read arrays written by `write_arrays`."""
    return load_file(path)


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
    """A model's scores as written beside its metrics: `id, label, probability`."""
    return read_csv_strict(path, {"id": "int64", "label": "int64", "probability": "float64"})


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
