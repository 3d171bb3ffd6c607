"""Tweet files for the `complaints` CLI: CSV, JSON Lines or Parquet by extension, read in chunks and written atomically."""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow
import pyarrow.parquet as pq

from complaints.core.io import DataError, atomic_path

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


def file_format(path: Path) -> str:
    """`csv`, `jsonl` or `parquet` from the file's extension."""
    try:
        return FORMATS[Path(path).suffix.lower()]
    except KeyError:
        raise DataError(f"{path}: unknown file type {Path(path).suffix!r}; expected one of "
                        f"{', '.join(FORMATS)}") from None


def _raw_chunks(path: Path, columns: list[str], chunk_size: int) -> Iterator[pd.DataFrame]:
    """Chunks of the whole rows of `path`, as the format's reader gives them."""
    kind = file_format(path)
    if kind == "parquet":
        parquet = pq.ParquetFile(path)
        missing = [column for column in columns if column not in parquet.schema_arrow.names]
        if missing:
            raise DataError(f"{path}: no column {', '.join(missing)}; found {', '.join(parquet.schema_arrow.names)}")
        for batch in parquet.iter_batches(batch_size=chunk_size, columns=columns):
            yield batch.to_pandas()
    elif kind == "csv":
        yield from pd.read_csv(path, chunksize=chunk_size, dtype=str, keep_default_na=False, encoding="utf-8",
                               encoding_errors="strict")
    else:
        yield from pd.read_json(path, lines=True, chunksize=chunk_size, dtype=False, encoding="utf-8",
                                encoding_errors="strict")


def read_chunks(path: Path, text_column: str, id_column: str | None, chunk_size: int) -> Iterator[pd.DataFrame]:
    """The file's (`id`, `text`) rows, `chunk_size` at a time; errors name the file, the column or the row."""
    path = Path(path)
    columns = [text_column] + ([id_column] if id_column else [])
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: not a readable file")
    first_row = 1
    try:
        for chunk in _raw_chunks(path, columns, chunk_size):
            missing = [column for column in columns if column not in chunk.columns]
            if missing:
                raise DataError(f"{path}: no column {', '.join(missing)}; found {', '.join(map(str, chunk.columns))}")
            texts = chunk[text_column]
            not_text = texts.map(lambda value: not isinstance(value, str))
            if not_text.any():
                row = first_row + int(not_text.to_numpy().argmax())
                raise DataError(f"{path}: row {row}: column '{text_column}' is {texts[not_text].iloc[0]!r}, expected text")
            yield pd.DataFrame({"id": chunk[id_column] if id_column else texts, "text": texts}).reset_index(drop=True)
            first_row += len(chunk)
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not valid UTF-8 (byte {error.start} of a block near row {first_row})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, pyarrow.ArrowException, OSError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: cannot be read as {file_format(path)} ({str(error).splitlines()[0]})") from None


class TableWriter:
    """Rows appended chunk by chunk into a temporary file that becomes `path` only when every chunk is written."""

    def __init__(self, path: Path, stream: contextlib.ExitStack, tmp: Path) -> None:
        self.kind, self.tmp, self.stream = file_format(path), tmp, stream
        self.parquet: pq.ParquetWriter | None = None
        self.started = False

    def write(self, rows: pd.DataFrame) -> None:
        """Append `rows`."""
        if self.kind == "parquet":
            table = pyarrow.Table.from_pandas(rows, preserve_index=False)
            if self.parquet is None:
                self.parquet = self.stream.enter_context(pq.ParquetWriter(self.tmp, table.schema))
            self.parquet.write_table(table)
        elif self.kind == "csv":
            rows.to_csv(self.tmp, mode="a" if self.started else "w", header=not self.started, index=False,
                        lineterminator="\n")
        else:
            with open(self.tmp, "a" if self.started else "w", encoding="utf-8") as stream:
                for record in rows.to_dict(orient="records"):
                    stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.started = True


@contextlib.contextmanager
def table_writer(path: Path) -> Iterator[TableWriter]:
    """A TableWriter for `path`; nothing appears at `path` unless the block completes."""
    file_format(path)
    with atomic_path(path) as tmp, contextlib.ExitStack() as stream:
        yield TableWriter(path, stream, tmp)
