"""The tutorial's classifier as a transformers model: a pretrained encoder, pooled (its [CLS] state, or the mean of its
tokens) -> Linear(hidden, 50) -> ReLU -> Linear(50, 2), labels `complaint` (0) and `non-complaint` (1).

This file imports only torch and transformers: `save_pretrained` copies it into every model folder, so
`transformers.pipeline("text-classification", model=FOLDER, trust_remote_code=True)` loads a folder without this
project installed.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedConfig, PreTrainedModel, PreTrainedTokenizerBase
from transformers.configuration_utils import SubConfigSpec
from transformers.modeling_outputs import SequenceClassifierOutput

POOLINGS = ("cls", "mean")


class ComplaintConfig(PreTrainedConfig):
    """The encoder's own config, the head's width and pooling, and the `max_length` the model was trained with."""

    model_type = "complaint-classifier"
    sub_configs_defaults = {"encoder": SubConfigSpec(config_class=AutoConfig, model_type="bert")}

    encoder: PreTrainedConfig | dict | None = None
    head_hidden: int = 50
    pooling: str = "cls"
    max_length: int = 64


def pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """One vector per tweet: the [CLS] state (the tutorial) or the mean over real tokens (how all-MiniLM-L6-v2 was trained)."""
    if pooling == "cls":
        return last_hidden_state[:, 0, :]
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


class ComplaintClassifier(PreTrainedModel):
    """Encoder + two-layer head giving logits for (complaint, non-complaint)."""

    config_class = ComplaintConfig
    base_model_prefix = "encoder"
    _supports_sdpa = True

    def __init__(self, config: ComplaintConfig, encoder: nn.Module | None = None) -> None:
        super().__init__(config)
        if config.pooling not in POOLINGS:
            raise ValueError(f"pooling {config.pooling!r}: expected one of {', '.join(POOLINGS)}")
        self.encoder = encoder if encoder is not None else AutoModel.from_config(config.encoder)
        self.classifier = nn.Sequential(
            nn.Linear(config.encoder.hidden_size, config.head_hidden), nn.ReLU(), nn.Linear(config.head_hidden, 2)
        )
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Nothing: the head keeps PyTorch's default init (as the tutorial's), the encoder arrives initialized."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: object) -> SequenceClassifierOutput:
        """Logits of shape (batch, 2) from the pooled last hidden state (token types, labels and the like are ignored)."""
        last_hidden_state = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return SequenceClassifierOutput(logits=self.classifier(pool(last_hidden_state, attention_mask, self.config.pooling)))


def pretrained_classifier(location: str, head_hidden: int, freeze_encoder: bool, pooling: str, max_length: int, *,
                          label_words: tuple[str, str]) -> ComplaintClassifier:
    """A fresh head on a pretrained encoder, its labels 0 and 1 named `label_words` (seed the RNG first: the head's
    init draws from it)."""
    encoder = AutoModel.from_pretrained(location)
    encoder.config.name_or_path = ""  # where the encoder was loaded from differs by machine; the tokens record names it
    attention = encoder.config._attn_implementation
    config = ComplaintConfig(encoder=encoder.config, head_hidden=head_hidden, pooling=pooling, max_length=max_length,
                             id2label=dict(enumerate(label_words)), label2id={label: index for index, label in enumerate(label_words)})
    model = ComplaintClassifier(config, encoder=encoder)
    # The outer model's init clears the encoder's (shared) attention choice, and BERT would fall back to eager.
    model.set_attn_implementation(attention)
    model.encoder.requires_grad_(not freeze_encoder)
    if getattr(model.encoder, "pooler", None) is not None:
        # The head pools the last hidden state itself; BERT's pooler gets no gradient (and DDP wants none).
        model.encoder.pooler.requires_grad_(False)
    return model


def save_classifier(model: ComplaintClassifier, tokenizer: PreTrainedTokenizerBase, folder: Path) -> None:
    """Config, weights (safetensors), this file as the model's code, and the tokenizer truncating at `max_length`."""
    ComplaintConfig.register_for_auto_class()
    ComplaintClassifier.register_for_auto_class("AutoModelForSequenceClassification")
    model.save_pretrained(folder)
    tokenizer.model_max_length = model.config.max_length
    tokenizer.save_pretrained(folder)


def load_classifier(folder: Path, attn_implementation: str | None = None) -> ComplaintClassifier:
    """Load what `save_classifier` wrote, in eval mode."""
    options = {} if attn_implementation is None else {"attn_implementation": attn_implementation}
    return ComplaintClassifier.from_pretrained(folder, **options).eval()
