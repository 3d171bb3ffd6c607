"""Scoring token rows with a PyTorch classifier: length-sorted batches, autocast as in training."""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from complaints.modeling.model import ComplaintClassifier
from complaints.core.runtime import autocast_dtype
from complaints.modeling.logits import logits_in_order, non_complaint_probability
from complaints.text.tokens import Tokens


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """The mixed precision training used on this device (bf16 or fp16 on CUDA), none on the CPU."""
    dtype = autocast_dtype(device)
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


@torch.inference_mode()
def predict_logits(model: ComplaintClassifier, tokens: Tokens, batch_size: int, device: torch.device) -> np.ndarray:
    """Logits of a PyTorch classifier for every row, in the rows' order."""
    model.eval()

    def batch_logits(batch: dict[str, np.ndarray]) -> np.ndarray:
        with autocast(device):
            logits = model(torch.from_numpy(batch["input_ids"]).to(device, non_blocking=True),
                           torch.from_numpy(batch["attention_mask"]).to(device, non_blocking=True)).logits
        return logits.float().cpu().numpy()

    return logits_in_order(batch_logits, tokens, batch_size)


def score(model: ComplaintClassifier, tokens: Tokens, batch_size: int, device: torch.device) -> np.ndarray:
    """Non-complaint probability of every row."""
    return non_complaint_probability(predict_logits(model, tokens, batch_size, device))
