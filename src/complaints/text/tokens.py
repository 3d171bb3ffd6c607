"""The token file format between `tokenize` and the model stages (safetensors of ids, masks and labels, its writer and
its reader), and batches of rows padded to their longest. No torch here: the ONNX engine batches with it too."""
from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from complaints.core.io import DataError, atomic_path

REQUIRED_ARRAYS = ("id", "input_ids", "attention_mask")


def write_arrays(arrays: Mapping[str, np.ndarray], path: Path) -> None:
    """Write named arrays as safetensors: no pickle, and the same bytes for the same arrays (npz stores times)."""
    with atomic_path(path) as tmp:
        save_file({name: np.ascontiguousarray(array) for name, array in arrays.items()}, tmp)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Read arrays written by `write_arrays`; a missing, truncated or foreign file is a DataError naming it."""
    try:
        return load_file(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such token file; run `dvc repro tokenize`") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable token file ({error}); rerun `dvc repro tokenize`") from None


@dataclass(frozen=True)
class Tokens:
    """One tokenized split: padded ids and masks, tweet ids, and labels when known."""

    ids: np.ndarray
    input_ids: np.ndarray
    attention_mask: np.ndarray
    labels: np.ndarray | None

    @classmethod
    def load(cls, path: Path) -> Tokens:
        """Read a tokenize-stage file; it must hold ids, masks of the same shape, and labels of 0 or 1."""
        arrays = read_arrays(path)
        missing = [name for name in REQUIRED_ARRAYS if name not in arrays]
        if missing:
            raise DataError(f"{path}: missing array(s) {', '.join(missing)}; rerun `dvc repro tokenize`")
        if arrays["input_ids"].shape != arrays["attention_mask"].shape or len(arrays["id"]) != len(arrays["input_ids"]):
            raise DataError(f"{path}: ids, input_ids and attention_mask disagree in shape; rerun `dvc repro tokenize`")
        labels = arrays.get("labels")
        if labels is not None and not np.isin(labels, (0, 1)).all():
            row = int(np.flatnonzero(~np.isin(labels, (0, 1)))[0])
            raise DataError(f"{path}: label {labels[row]} for id {arrays['id'][row]}, expected 0 or 1")
        return cls(arrays["id"], arrays["input_ids"], arrays["attention_mask"], labels)

    def save(self, path: Path) -> None:
        """Write this split in the format `load` reads."""
        arrays = {"id": self.ids, "input_ids": self.input_ids, "attention_mask": self.attention_mask}
        write_arrays(arrays | ({} if self.labels is None else {"labels": self.labels}), path)

    @classmethod
    def concat(cls, parts: list[Tokens]) -> Tokens:
        """Several labeled splits as one (the refit on all labeled data)."""
        return cls(*(np.concatenate([getattr(part, name) for part in parts]) for name in
                     ("ids", "input_ids", "attention_mask", "labels")))

    def subset(self, rows: np.ndarray) -> Tokens:
        """The given rows only."""
        return Tokens(self.ids[rows], self.input_ids[rows], self.attention_mask[rows],
                      None if self.labels is None else self.labels[rows])

    @functools.cached_property
    def lengths(self) -> np.ndarray:
        """Tokens per tweet, special tokens included."""
        return self.attention_mask.sum(axis=1)

    def batch(self, indices: list[int] | np.ndarray) -> dict[str, np.ndarray]:
        """Rows `indices` as int64 arrays, padded only to their longest row (dynamic padding)."""
        width = int(self.lengths[indices].max())
        batch = {
            "input_ids": self.input_ids[indices, :width].astype(np.int64),
            "attention_mask": self.attention_mask[indices, :width].astype(np.int64),
        }
        if self.labels is not None:
            batch["labels"] = self.labels[indices].astype(np.int64)
        return batch


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Indices sorted by length (longest first) cut into batches, for inference."""
    order = np.argsort(-lengths, kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
