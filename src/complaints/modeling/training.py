"""Fine-tuning: length-grouped batches with dynamic padding, the tutorial's optimizer and schedule (optionally with
layer-wise learning-rate decay), an inner dev split held out of the training data to pick the best epoch, optional
self-training on unlabeled tweets or distillation from a teacher's probabilities, and one or several processes through
accelerate."""
from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import broadcast_object_list, gather_object
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from complaints.core.config import require
from complaints.core.decision import LABEL_WORDS
from complaints.modeling.distillation import Teacher, as_unlabeled, distillation_loss
from complaints.modeling.torch_scoring import predict_logits, score
from complaints.core.io import DataError, read_json
from complaints.core.metrics import classification_metrics
from complaints.modeling.model import POOLINGS, ComplaintClassifier, pretrained_classifier
from complaints.core.runtime import configure_torch, mixed_precision
from complaints.modeling.logits import non_complaint_probability
from complaints.text.tokens import Tokens

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainParams:
    """A training recipe (the `train` and `tutorial` sections): AdamW, linear schedule, clip 1.0, pooling, epoch choice.

    With `dev_size` > 0 a stratified share of the training data is held out as a dev split, scored after each
    epoch; with `best_epoch` the weights of the epoch with the best dev AUC are kept. The validation split is
    never used for a choice. `layer_decay` < 1 gives each encoder layer that share of the learning rate of the layer
    above it (the head keeps `lr`). With `self_training` the trained model labels the unlabeled tweets it calls with at
    least `pseudo_confidence`, and a fresh model is trained on the labeled and those pseudo-labeled tweets.
    """

    SECTION: ClassVar[str] = "train"

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
    pooling: str = "cls"
    dev_size: float = 0.0
    dev_seed: int = 2020
    best_epoch: bool = False
    layer_decay: float = 1.0
    self_training: bool = False
    pseudo_confidence: float = 0.9
    # Stop once the dev AUC has not improved for this many epochs (null: train every epoch).
    patience: int | None = None
    # Re-initialise the encoder's top layers before fine-tuning (Zhang et al. 2021, "Revisiting Few-sample BERT
    # Fine-tuning": the top layers are the most task-specific and the least useful as pretrained).
    reinit_top_layers: int = 0
    # End with the mean of the weights after each of the last this many epochs (0: off), in place of one epoch.
    average_last_epochs: int = 0
    # The encoder layers kept, by index from the bottom (null: all): a shallower, faster model (recipe train_3_layers).
    encoder_layers: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        require(self.pooling in POOLINGS, "train.pooling", self.pooling, f"one of {', '.join(POOLINGS)}")
        require(0 <= self.dev_size < 1, "train.dev_size", self.dev_size, "a share in [0, 1)")
        require(not self.best_epoch or self.dev_size > 0, "train.best_epoch", self.best_epoch,
                "false unless train.dev_size > 0 (the best epoch is chosen on the dev split)")
        require(self.epochs >= 1, "train.epochs", self.epochs, "an integer >= 1")
        require(self.batch_size >= 1, "train.batch_size", self.batch_size, "an integer >= 1")
        require(self.eval_batch_size >= 1, "train.eval_batch_size", self.eval_batch_size, "an integer >= 1")
        require(self.lr > 0, "train.lr", self.lr, "a positive number")
        require(self.eps > 0, "train.eps", self.eps, "a positive number")
        require(self.weight_decay >= 0, "train.weight_decay", self.weight_decay, "a number >= 0")
        require(self.warmup_steps >= 0, "train.warmup_steps", self.warmup_steps, "an integer >= 0")
        require(self.max_grad_norm > 0, "train.max_grad_norm", self.max_grad_norm, "a positive number")
        require(self.head_hidden >= 1, "train.head_hidden", self.head_hidden, "an integer >= 1")
        require(0 < self.layer_decay <= 1, "train.layer_decay", self.layer_decay, "a number in (0, 1]")
        require(0.5 <= self.pseudo_confidence < 1, "train.pseudo_confidence", self.pseudo_confidence,
                "a probability in [0.5, 1)")
        require(self.encoder_layers is None or list(self.encoder_layers) == sorted(set(self.encoder_layers)),
                "train.encoder_layers", self.encoder_layers, "null, or layer indices in increasing order")
        require(self.patience is None or (self.patience >= 1 and self.dev_size > 0), "train.patience", self.patience,
                "null, or an integer >= 1 with train.dev_size > 0 (early stopping watches the dev split)")
        require(self.reinit_top_layers >= 0, "train.reinit_top_layers", self.reinit_top_layers, "an integer >= 0")
        require(self.average_last_epochs >= 0 and not (self.average_last_epochs and self.best_epoch),
                "train.average_last_epochs", self.average_last_epochs,
                "an integer >= 0, and 0 when train.best_epoch is true (the weights are one epoch's or an average)")


def make_accelerator() -> Accelerator:
    """accelerate for this machine: CUDA with its mixed precision, else the CPU, where several processes (torchrun,
    `accelerate launch --multi_gpu`) train together over gloo; accelerate only does that when told it is on the CPU."""
    return Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=mixed_precision())


def torch_batch(tokens: Tokens, teacher_probability: np.ndarray | None, indices: list[int]) -> dict[str, torch.Tensor]:
    """A training batch as tensors, with the teacher's probabilities when distilling (the DataLoader's collate)."""
    batch = {name: torch.from_numpy(array) for name, array in tokens.batch(indices).items()}
    if teacher_probability is not None:
        batch["teacher_probability"] = torch.from_numpy(teacher_probability[indices])
    return batch


def batch_loss(logits: torch.Tensor, batch: dict[str, torch.Tensor], teacher: Teacher | None) -> torch.Tensor:
    """Cross-entropy on the labels, or with a teacher the distillation loss of its `T` and `alpha`."""
    if teacher is None:
        return F.cross_entropy(logits, batch["labels"])
    return distillation_loss(logits, batch["labels"], batch["teacher_probability"], teacher.params.temperature,
                             teacher.params.alpha)


def hold_out_dev(tokens: Tokens, share: float, seed: int) -> tuple[Tokens, Tokens | None]:
    """(train, dev): a stratified, seeded `share` of the rows held out as dev; no dev when share is 0."""
    if share == 0:
        return tokens, None
    train_rows, dev_rows = train_test_split(
        np.arange(len(tokens.ids)), test_size=share, random_state=seed, stratify=tokens.labels
    )
    return tokens.subset(np.sort(train_rows)), tokens.subset(np.sort(dev_rows))


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


def layer_depth(name: str, layers: int) -> int:
    """Depth of a classifier parameter: 0 for the embeddings, i + 1 for encoder layer i, layers + 1 above them."""
    if ".embeddings." in f".{name}":
        return 0
    layer = re.search(r"\.layer\.(\d+)\.", name)
    return int(layer.group(1)) + 1 if layer else layers + 1


def parameter_groups(model: ComplaintClassifier, lr: float, layer_decay: float) -> list[dict]:
    """AdamW groups of the trainable parameters: one at `lr`, or with layer-wise decay one per depth at
    lr * layer_decay ** (layers + 1 - depth)."""
    trainable = [(name, parameter) for name, parameter in model.named_parameters() if parameter.requires_grad]
    if layer_decay == 1:
        return [{"params": [parameter for _, parameter in trainable], "lr": lr}]
    layers = model.config.encoder.num_hidden_layers
    depths: dict[int, list[torch.nn.Parameter]] = {}
    for name, parameter in trainable:
        depths.setdefault(layer_depth(name, layers), []).append(parameter)
    return [{"params": parameters, "lr": lr * layer_decay ** (layers + 1 - depth)}
            for depth, parameters in sorted(depths.items())]


def dev_row(model: ComplaintClassifier, tokens: Tokens, batch_size: int, device: torch.device) -> dict:
    """Dev loss, accuracy and AUC, as the tutorial's per-epoch table."""
    logits = predict_logits(model, tokens, batch_size, device)
    metrics = classification_metrics(tokens.labels, non_complaint_probability(logits))
    loss = F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(tokens.labels.astype(np.int64))).item()
    return {"dev_loss": loss, "dev_accuracy": metrics["accuracy"], "dev_auc": metrics["auc"]}


def best_epoch(history: list[dict]) -> int:
    """The epoch (from 1) with the highest dev AUC; the first of ties."""
    return max(history, key=lambda row: (row["dev_auc"], -row["epoch"]))["epoch"]


def agreed_across_processes(row: dict, accelerator: Accelerator) -> dict:
    """The same epoch row on every process (dev metrics from the main process); fails if the losses disagree."""
    if accelerator.num_processes == 1:
        return row
    row = broadcast_object_list([row], from_process=0)[0] | {"train_loss": row["train_loss"]}
    rows = gather_object([without_timings([row])[0]])
    if any(other != rows[0] for other in rows[1:]):
        raise RuntimeError(f"epoch {row['epoch']}: processes disagree on the history: {rows}")
    if accelerator.is_main_process:
        logger.info("epoch %d: history agrees across %d processes", row["epoch"], accelerator.num_processes)
    return row


def fine_tune(
    model: ComplaintClassifier,
    train: Tokens,
    dev: Tokens | None,
    params: TrainParams,
    accelerator: Accelerator,
    on_epoch: Callable[[dict], None] = lambda row: None,
    teacher: Teacher | None = None,
) -> list[dict]:
    """Train with AdamW and a linear schedule (on the teacher's probabilities too when given); after each epoch
    report train loss and dev metrics.

    With `params.best_epoch` the model ends with the weights of its best dev-AUC epoch, not its last. Under several
    processes (`accelerate launch`) each takes its share of every epoch's batches; the train loss is averaged over
    all of them, and the main process alone scores the dev split and keeps the best weights.
    """
    sampler = LengthGroupedBatches(train.lengths, params.batch_size, params.seed)
    targets = None if teacher is None else teacher.probability(train.ids)
    loader = DataLoader(range(len(train.ids)), batch_sampler=sampler,
                        collate_fn=functools.partial(torch_batch, train, targets))
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(
        parameter_groups(model, params.lr, params.layer_decay), lr=params.lr, eps=params.eps,
        weight_decay=params.weight_decay, fused=accelerator.device.type == "cuda",
    )
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    # Total steps from the loader actually trained on (the tutorial took them from the train-only loader).
    total_steps = len(loader) * params.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, params.warmup_steps, total_steps)
    logger.info(
        "fine-tuning on %d tweets, %d epochs, %d batches of %d per epoch and process, %d processes, %d steps, "
        "device %s, precision %s", len(train.ids), params.epochs, len(loader), params.batch_size,
        accelerator.num_processes, total_steps, accelerator.device, accelerator.mixed_precision,
    )
    history, best_state, last_states = [], None, collections.deque(maxlen=params.average_last_epochs or None)
    for epoch in range(params.epochs):
        sampler.set_epoch(epoch)
        model.train()
        started = time.perf_counter()
        # Summed on the device: no per-batch .item() sync in the hot loop.
        loss_sum = torch.zeros((), device=accelerator.device)
        for batch in tqdm(loader, desc=f"epoch {epoch + 1}/{params.epochs}", disable=not accelerator.is_main_process):
            logits = model(batch["input_ids"], batch["attention_mask"]).logits
            loss = batch_loss(logits.float(), batch, teacher)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(trainable, params.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sum += loss.detach()
        row = {"epoch": epoch + 1, "train_loss": accelerator.reduce(loss_sum / len(loader), reduction="mean").item(),
               "seconds": time.perf_counter() - started}
        if dev is not None and accelerator.is_main_process:
            row.update(dev_row(accelerator.unwrap_model(model), dev, params.eval_batch_size, accelerator.device))
        row = agreed_across_processes(row, accelerator)
        history.append(row)
        if params.best_epoch and best_epoch(history) == row["epoch"] and accelerator.is_main_process:
            # A CPU copy: the best weights survive the next epoch's updates.
            best_state = cpu_state(accelerator.unwrap_model(model))
        if params.average_last_epochs and accelerator.is_main_process:
            last_states.append(cpu_state(accelerator.unwrap_model(model)))
        on_epoch(row)
        if params.patience and row["epoch"] - best_epoch(history) >= params.patience:
            logger.info("no better dev AUC for %d epochs: stopped after epoch %d", params.patience, row["epoch"])
            break
    if params.average_last_epochs and last_states:
        best_state = mean_state(list(last_states))
    if best_state is not None:
        accelerator.unwrap_model(model).load_state_dict(best_state)
    return history


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the model's weights, which survives the next epoch's updates."""
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in model.state_dict().items()}


def mean_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of several copies of one model's weights (integer buffers: the last copy's)."""
    return {name: (torch.stack([state[name] for state in states]).mean(0) if tensor.is_floating_point() else tensor)
            for name, tensor in states[-1].items()}


def keep_encoder_layers(model: ComplaintClassifier, kept: tuple[int, ...] | None) -> None:
    """Keep only the encoder layers `kept` (by index, in order), each with its pretrained weights; None keeps all."""
    if kept is None:
        return
    layers = model.encoder.encoder.layer
    require(all(0 <= index < len(layers) for index in kept), "train.encoder_layers", list(kept),
            f"indices of the encoder's {len(layers)} layers (0 to {len(layers) - 1})")
    model.encoder.encoder.layer = torch.nn.ModuleList(layers[index] for index in kept)
    for config in (model.encoder.config, model.config.encoder):
        config.num_hidden_layers = len(kept)


def reinit_top_layers(model: ComplaintClassifier, count: int) -> None:
    """Draw the encoder's top `count` layers afresh with the encoder's own initialisation (seed the RNG first)."""
    if count == 0:
        return
    layers = model.encoder.encoder.layer
    require(count <= len(layers), "train.reinit_top_layers", count, f"at most the encoder's {len(layers)} layers")
    for layer in layers[len(layers) - count:]:
        for tensor in itertools.chain(layer.parameters(), layer.buffers()):
            # from_pretrained marks loaded tensors initialised, and transformers' init functions skip marked tensors.
            tensor._is_hf_initialized = False
        layer.apply(model.encoder._init_weights)


def pseudo_labeled(model: ComplaintClassifier, unlabeled: Tokens, confidence: float, batch_size: int,
                   device: torch.device) -> Tokens:
    """The unlabeled rows the model calls with at least `confidence`, labeled with its call."""
    probability = score(model, unlabeled, batch_size, device)
    rows = np.flatnonzero(np.maximum(probability, 1 - probability) >= confidence)
    picked = unlabeled.subset(rows)
    return Tokens(picked.ids, picked.input_ids, picked.attention_mask, (probability[rows] >= 0.5).astype(np.int64))


def agreed_pseudo_labels(model: ComplaintClassifier, unlabeled: Tokens, params: TrainParams,
                         accelerator: Accelerator) -> Tokens:
    """Pseudo-labels from the main process, the same on every process (their rows must match for the next run)."""
    picked = None
    if accelerator.is_main_process:
        picked = pseudo_labeled(model, unlabeled, params.pseudo_confidence, params.eval_batch_size, accelerator.device)
    return broadcast_object_list([picked], from_process=0)[0] if accelerator.num_processes > 1 else picked


def train_once(location: str, train: Tokens, dev: Tokens | None, params: TrainParams, max_length: int,
               accelerator: Accelerator, on_epoch: Callable[[dict], None],
               teacher: Teacher | None = None) -> tuple[ComplaintClassifier, list[dict]]:
    """Seed, then fine-tune a fresh head on the pretrained encoder: (model, history)."""
    configure_torch(params.seed)
    model = pretrained_classifier(location, params.head_hidden, params.freeze_bert, params.pooling, max_length,
                                  label_words=LABEL_WORDS)
    keep_encoder_layers(model, params.encoder_layers)
    reinit_top_layers(model, params.reinit_top_layers)
    history = fine_tune(model, train, dev, params, accelerator, on_epoch, teacher)
    return accelerator.unwrap_model(model), history


@dataclass
class Trained:
    """A trained classifier: its history (of the student when self-trained), dev split, and what it learned from
    besides the labels (the self-training teacher's record, or the distillation's)."""

    model: ComplaintClassifier
    history: list[dict]
    dev: Tokens | None
    self_training: dict | None = None
    distillation: dict | None = None


def train_classifier(
    location: str, labeled: Tokens, params: TrainParams, max_length: int, accelerator: Accelerator,
    on_epoch: Callable[[dict], None] = lambda row: None, unlabeled: Tokens | None = None,
    teacher: Teacher | None = None,
) -> Trained:
    """Hold out the dev split and fine-tune; with `params.self_training`, that model (the teacher) pseudo-labels
    `unlabeled` and a fresh model (the student) trains on both. Only the student's epochs reach `on_epoch`.
    With a `teacher`, the model learns from its probabilities on the labeled rows and on `unlabeled` when given."""
    train, dev = hold_out_dev(labeled, params.dev_size, params.dev_seed)
    if teacher is not None:
        record = {"labeled_tweets": len(train.ids), "unlabeled_tweets": 0 if unlabeled is None else len(unlabeled.ids)}
        train = train if unlabeled is None else Tokens.concat([train, as_unlabeled(unlabeled)])
        return Trained(*train_once(location, train, dev, params, max_length, accelerator, on_epoch, teacher), dev,
                       distillation=record)
    if not params.self_training:
        return Trained(*train_once(location, train, dev, params, max_length, accelerator, on_epoch), dev)
    teacher, teacher_history = train_once(location, train, dev, params, max_length, accelerator, lambda row: None)
    pseudo = agreed_pseudo_labels(teacher, unlabeled, params, accelerator)
    del teacher
    accelerator.free_memory()
    logger.info("self-training: %d of %d unlabeled tweets pseudo-labeled at confidence >= %.2f (%d non-complaints)",
                len(pseudo.ids), len(unlabeled.ids), params.pseudo_confidence, int(pseudo.labels.sum()))
    student, history = train_once(location, Tokens.concat([train, pseudo]), dev, params, max_length, accelerator,
                                  on_epoch)
    record = {"unlabeled": len(unlabeled.ids), "pseudo_labeled": len(pseudo.ids),
              "pseudo_non_complaints": int(pseudo.labels.sum()), "teacher_history": without_timings(teacher_history)}
    return Trained(student, history, dev, record)


def unlabeled_tokens(needed: bool, tokens_folder: Path) -> Tokens | None:
    """The unlabeled test tweets' tokens when the recipe self-trains or distills on them, else None."""
    return Tokens.load(tokens_folder / "test.safetensors") if needed else None


def refit_params(params: TrainParams, training_record: Path) -> TrainParams:
    """The recipe for a refit on all labeled tweets: the epoch count the selection run chose, no dev split."""
    chosen = read_training_record(training_record)["chosen_epoch"]
    return dataclasses.replace(params, epochs=chosen, dev_size=0.0, best_epoch=False, patience=None)


def read_training_record(path: Path) -> dict:
    """A model folder's training.json, whose `chosen_epoch` must name one of its `history` rows."""
    record = read_json(path)
    epochs = len(record.get("history", []))
    chosen = record.get("chosen_epoch")
    if not isinstance(chosen, int) or isinstance(chosen, bool) or not 1 <= chosen <= epochs:
        raise DataError(f"{path}: 'chosen_epoch' is {chosen!r}, expected an epoch from 1 to {epochs} of its history; "
                        f"rerun the stage that trained it")
    return record


def without_timings(history: list[dict]) -> list[dict]:
    """The history minus wall times, so outputs are the same bytes run after run."""
    return [{name: value for name, value in row.items() if name != "seconds"} for row in history]


def epoch_table(history: list[dict]) -> str:
    """The tutorial's per-epoch table."""
    header = f"{'Epoch':^7} | {'Train Loss':^10} | {'Dev Loss':^8} | {'Dev Acc':^7} | {'Dev AUC':^7} | {'Elapsed':^7}"
    lines = [header, "-" * len(header)]
    for row in history:
        validation = (
            f"{row['dev_loss']:^8.6f} | {100 * row['dev_accuracy']:^7.2f} | {row['dev_auc']:^7.4f}"
            if "dev_loss" in row else f"{'-':^8} | {'-':^7} | {'-':^7}"
        )
        lines.append(f"{row['epoch']:^7} | {row['train_loss']:^10.6f} | {validation} | {row['seconds']:^7.1f}")
    return "\n".join(lines)
