"""How tweets become token ids: the tutorial's light cleaning, one batched fast-tokenizer call, truncation and padding.

No torch and no model resolution here: the ONNX engine of the predictor encodes with it too.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
from transformers import PreTrainedTokenizerBase

from complaints.text.cleaning import clean_for_bert


def vocabulary_digest(tokenizer: PreTrainedTokenizerBase) -> str:
    """SHA-256 of the tokenizer's vocabulary (token -> id, sorted): the same ids mean the same tokens."""
    vocabulary = json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False).encode()
    return hashlib.sha256(vocabulary).hexdigest()


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
