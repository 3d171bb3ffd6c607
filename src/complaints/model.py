"""The tutorial's classifier: a pretrained encoder, pooled (its [CLS] state, or the mean of its tokens) -> Linear(hidden, 50)
-> ReLU -> Linear(50, 2)."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModel, PreTrainedTokenizerBase

ENCODER_DIR = "encoder"
HEAD_WEIGHTS = "classifier.safetensors"
HEAD_CONFIG = "classifier.json"
POOLINGS = ("cls", "mean")


def pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """One vector per tweet: the [CLS] state (the tutorial) or the mean over real tokens (how all-MiniLM-L6-v2 was trained)."""
    if pooling == "cls":
        return last_hidden_state[:, 0, :]
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


class ComplaintClassifier(nn.Module):
    """Encoder + two-layer head giving logits for (complaint, non-complaint)."""

    def __init__(self, encoder: nn.Module, head_hidden: int = 50, freeze_encoder: bool = False, pooling: str = "cls") -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling {pooling!r}: expected one of {', '.join(POOLINGS)}")
        self.encoder = encoder
        self.head_hidden = head_hidden
        self.pooling = pooling
        self.classifier = nn.Sequential(
            nn.Linear(encoder.config.hidden_size, head_hidden), nn.ReLU(), nn.Linear(head_hidden, 2)
        )
        self.encoder.requires_grad_(not freeze_encoder)
        if getattr(encoder, "pooler", None) is not None:
            # The head pools the last hidden state itself; BERT's pooler gets no gradient (and DDP wants none).
            encoder.pooler.requires_grad_(False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, 2) from the pooled last hidden state."""
        last_hidden_state = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.classifier(pool(last_hidden_state, attention_mask, self.pooling))


def pretrained_classifier(location: str, head_hidden: int, freeze_encoder: bool, pooling: str) -> ComplaintClassifier:
    """A fresh head on a pretrained encoder (seed the RNG first: the head's init draws from it)."""
    encoder = AutoModel.from_pretrained(location)
    return ComplaintClassifier(encoder, head_hidden, freeze_encoder, pooling)


def quantized_int8(model: ComplaintClassifier) -> nn.Module:
    """Dynamic int8 copy for CPU inference: Linear weights per-channel int8, activations quantized on the fly."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    return quantize_dynamic(model, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


def save_classifier(model: ComplaintClassifier, tokenizer: PreTrainedTokenizerBase, folder: Path) -> None:
    """Encoder and tokenizer via `save_pretrained` (loadable by any transformers user), head as safetensors."""
    model.encoder.save_pretrained(folder / ENCODER_DIR, safe_serialization=True)
    tokenizer.save_pretrained(folder / ENCODER_DIR)
    save_file({name: tensor.contiguous() for name, tensor in model.classifier.state_dict().items()}, folder / HEAD_WEIGHTS)
    (folder / HEAD_CONFIG).write_text(json.dumps({"head_hidden": model.head_hidden, "pooling": model.pooling, "labels": ["complaint", "non-complaint"]}))


def load_classifier(folder: Path) -> ComplaintClassifier:
    """Load what `save_classifier` wrote."""
    head = json.loads((folder / HEAD_CONFIG).read_text())
    model = ComplaintClassifier(AutoModel.from_pretrained(folder / ENCODER_DIR), head["head_hidden"], pooling=head["pooling"])
    model.classifier.load_state_dict(load_file(folder / HEAD_WEIGHTS))
    return model.eval()
