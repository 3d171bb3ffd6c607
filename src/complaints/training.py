"""Fine-tuning and inference: length-grouped batches with dynamic padding, the tutorial's optimizer and schedule."""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from complaints.config import require
from complaints.io import DataError, read_arrays
from complaints.metrics import classification_metrics
from complaints.model import ComplaintClassifier

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainParams:
    """The `train` section: the tutorial's recipe (AdamW, linear schedule without warmup, clip 1.0)."""

    seed: int = 42
    epochs: int = 2
    batch_size: int = 32
    lr: float = 5.0e-5
    eps: float = 1.0e-8
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    head_hidden: int = 50
    freeze_bert: bool = False
    eval_batch_size: int = 128

    def __post_init__(self) -> None:
        require(self.epochs >= 1, "train.epochs", self.epochs, "an integer >= 1")
        require(self.batch_size >= 1, "train.batch_size", self.batch_size, "an integer >= 1")
        require(self.eval_batch_size >= 1, "train.eval_batch_size", self.eval_batch_size, "an integer >= 1")
        require(self.lr > 0, "train.lr", self.lr, "a positive number")
        require(self.eps > 0, "train.eps", self.eps, "a positive number")
        require(self.weight_decay >= 0, "train.weight_decay", self.weight_decay, "a number >= 0")
        require(self.warmup_steps >= 0, "train.warmup_steps", self.warmup_steps, "an integer >= 0")
        require(self.max_grad_norm > 0, "train.max_grad_norm", self.max_grad_norm, "a positive number")
        require(self.head_hidden >= 1, "train.head_hidden", self.head_hidden, "an integer >= 1")


@dataclass(frozen=True)
class Tokens:
    """One tokenized split: padded ids and masks, tweet ids, and labels when known."""

    ids: np.ndarray
    input_ids: np.ndarray
    attention_mask: np.ndarray
    labels: np.ndarray | None

    @classmethod
    def load(cls, path: Path) -> Tokens:
        """Read a tokenize-stage file; labels must be 0 or 1."""
        arrays = read_arrays(path)
        labels = arrays.get("labels")
        if labels is not None and not np.isin(labels, (0, 1)).all():
            row = int(np.flatnonzero(~np.isin(labels, (0, 1)))[0])
            raise DataError(f"{path}: label {labels[row]} for id {arrays['id'][row]}, expected 0 or 1")
        return cls(arrays["id"], arrays["input_ids"], arrays["attention_mask"], labels)

    @classmethod
    def concat(cls, parts: list[Tokens]) -> Tokens:
        """Several labeled splits as one (the refit on all labeled data)."""
        return cls(*(np.concatenate([getattr(part, name) for part in parts]) for name in
                     ("ids", "input_ids", "attention_mask", "labels")))

    @functools.cached_property
    def lengths(self) -> np.ndarray:
        """Tokens per tweet, special tokens included."""
        return self.attention_mask.sum(axis=1)

    def batch(self, indices: list[int] | np.ndarray) -> dict[str, torch.Tensor]:
        """Rows `indices`, padded only to their longest row (dynamic padding)."""
        width = int(self.lengths[indices].max())
        batch = {
            "input_ids": torch.from_numpy(self.input_ids[indices, :width].astype(np.int64)),
            "attention_mask": torch.from_numpy(self.attention_mask[indices, :width].astype(np.int64)),
        }
        if self.labels is not None:
            batch["labels"] = torch.from_numpy(self.labels[indices].astype(np.int64))
        return batch


class LengthGroupedBatches(Sampler[list[int]]):
    """Shuffled batches of similar length: shuffle, sort within chunks of `group` batches, shuffle batch order."""

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int, group: int = 50) -> None:
        self.lengths = torch.as_tensor(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.group = group
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Each epoch draws its own order from `seed + epoch`, so a run is reproducible epoch by epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator)
        chunk = self.batch_size * self.group
        batches = []
        for start in range(0, len(order), chunk):
            part = order[start:start + chunk]
            part = part[torch.argsort(self.lengths[part], descending=True, stable=True)]
            batches.extend(part[i:i + self.batch_size].tolist() for i in range(0, len(part), self.batch_size))
        for position in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[position]


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Indices sorted by length (longest first) cut into batches, for inference."""
    order = np.argsort(-lengths, kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


@torch.inference_mode()
def predict_logits(model: ComplaintClassifier, tokens: Tokens, batch_size: int, device: torch.device) -> torch.Tensor:
    """Logits for every row, in the rows' order; batches sorted by length so padding is minimal."""
    model.eval()
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    logits = torch.empty((len(tokens.ids), 2), dtype=torch.float32)
    for indices in sorted_batches(tokens.lengths, batch_size):
        batch = tokens.batch(indices)
        with autocast:
            output = model(batch["input_ids"].to(device, non_blocking=True), batch["attention_mask"].to(device, non_blocking=True))
        logits[torch.from_numpy(indices)] = output.float().cpu()
    return logits


def non_complaint_probability(logits: torch.Tensor) -> np.ndarray:
    """Softmax probability of label 1 (non-complaint)."""
    return torch.softmax(logits, dim=1)[:, 1].numpy().astype(np.float64)


def validation_row(model: ComplaintClassifier, tokens: Tokens, batch_size: int, device: torch.device) -> dict:
    """Validation loss, accuracy and AUC, as the tutorial's per-epoch table."""
    logits = predict_logits(model, tokens, batch_size, device)
    metrics = classification_metrics(tokens.labels, non_complaint_probability(logits))
    loss = F.cross_entropy(logits, torch.from_numpy(tokens.labels.astype(np.int64))).item()
    return {"val_loss": loss, "val_accuracy": metrics["accuracy"], "val_auc": metrics["auc"]}


def fine_tune(
    model: ComplaintClassifier,
    train: Tokens,
    validation: Tokens | None,
    params: TrainParams,
    accelerator: Accelerator,
    on_epoch: Callable[[dict], None] = lambda row: None,
) -> list[dict]:
    """Train with AdamW and a linear schedule; after each epoch report train loss and validation metrics."""
    sampler = LengthGroupedBatches(train.lengths, params.batch_size, params.seed)
    loader = DataLoader(range(len(train.ids)), batch_sampler=sampler, collate_fn=train.batch)
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(
        trainable, lr=params.lr, eps=params.eps, weight_decay=params.weight_decay,
        fused=accelerator.device.type == "cuda",
    )
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    # Total steps from the loader actually trained on (the tutorial took them from the train-only loader).
    total_steps = len(loader) * params.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, params.warmup_steps, total_steps)
    logger.info(
        "fine-tuning on %d tweets, %d epochs, %d batches of %d per epoch, %d steps, device %s, precision %s",
        len(train.ids), params.epochs, len(loader), params.batch_size, total_steps,
        accelerator.device, accelerator.mixed_precision,
    )
    history = []
    for epoch in range(params.epochs):
        sampler.set_epoch(epoch)
        model.train()
        started = time.perf_counter()
        # Summed on the device: no per-batch .item() sync in the hot loop.
        loss_sum = torch.zeros((), device=accelerator.device)
        for batch in tqdm(loader, desc=f"epoch {epoch + 1}/{params.epochs}", disable=not accelerator.is_main_process):
            logits = model(batch["input_ids"], batch["attention_mask"])
            loss = F.cross_entropy(logits.float(), batch["labels"])
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(trainable, params.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sum += loss.detach()
        row = {"epoch": epoch + 1, "train_loss": (loss_sum / len(loader)).item(),
               "seconds": time.perf_counter() - started}
        if validation is not None:
            row.update(validation_row(accelerator.unwrap_model(model), validation, params.eval_batch_size, accelerator.device))
        history.append(row)
        on_epoch(row)
    return history


def without_timings(history: list[dict]) -> list[dict]:
    """The history minus wall times, so outputs are the same bytes run after run."""
    return [{name: value for name, value in row.items() if name != "seconds"} for row in history]


def epoch_table(history: list[dict]) -> str:
    """The tutorial's per-epoch table."""
    header = f"{'Epoch':^7} | {'Train Loss':^10} | {'Val Loss':^8} | {'Val Acc':^7} | {'Val AUC':^7} | {'Elapsed':^7}"
    lines = [header, "-" * len(header)]
    for row in history:
        validation = (
            f"{row['val_loss']:^8.6f} | {100 * row['val_accuracy']:^7.2f} | {row['val_auc']:^7.4f}"
            if "val_loss" in row else f"{'-':^8} | {'-':^7} | {'-':^7}"
        )
        lines.append(f"{row['epoch']:^7} | {row['train_loss']:^10.6f} | {validation} | {row['seconds']:^7.1f}")
    return "\n".join(lines)
