"""One predictor behind the `predict` stage, the `complaints` CLI and the HTTP service: raw tweets in,
`(non_complaint_probability, label)` out.

It applies the pipeline's own cleaning and the model folder's tokenizer, truncating at the `max_length` the model was
trained with (recorded in its config.json); identical tweets are scored once; batches are sorted by length; a tweet
is a non-complaint when its probability is above the threshold. A tweet that is empty after cleaning (blank, or
only @mentions) is scored as `[CLS] [SEP]`, as the tokenize stage encodes it.

Engines: `torch` (the folder's safetensors through PyTorch), `onnx` (the exported, fused fp32 graph) and `onnx-int8`
(its dynamic int8 quantization) on ONNX Runtime. The ONNX engines never import torch, so they start faster.

An ensemble folder (`ensemble.json`: member model folders and their weights) loads as one predictor: each member
cleans, tokenizes and scores the tweets its own way, and their probabilities are averaged with the weights.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import transformers
from transformers import PreTrainedTokenizerBase

from complaints.core.averaging import mean_probability
from complaints.text.encoding import encode
from complaints.core.io import read_json
from complaints.serving.modelfolder import ENGINES, check_model_folder, engine_file, ensemble_members
from complaints.core.machine import available_cpus
from complaints.text.tokens import Tokens

UNLIMITED = 1_000_000


def folder_tokenizer(folder: Path) -> PreTrainedTokenizerBase:
    """The folder's own tokenizer class (named in tokenizer_config.json): no config.json, no custom code, no torch.

    Its length limit is lifted: `encode` measures each tweet untruncated, then truncates to `max_length` itself.
    """
    name = read_json(folder / "tokenizer_config.json").get("tokenizer_class", "PreTrainedTokenizerFast")
    return getattr(transformers, name).from_pretrained(folder, model_max_length=UNLIMITED)


def torch_scorer(folder: Path, batch_size: int, threads: int) -> Callable[[Tokens], np.ndarray]:
    """The folder's PyTorch model, on CUDA when present."""
    # Imported here: the ONNX engines must not pay for torch.
    from complaints.modeling.torch_scoring import score
    from complaints.modeling.model import load_classifier
    from complaints.core.runtime import configure_torch, inference_device

    configure_torch(threads=threads)
    device = inference_device()
    model = load_classifier(folder).to(device)
    return lambda tokens: score(model, tokens, batch_size, device)


def onnx_scorer(path: Path, batch_size: int, threads: int) -> Callable[[Tokens], np.ndarray]:
    """An exported graph on ONNX Runtime's CPU provider."""
    from complaints.serving.onnx_engine import OnnxClassifier

    session = OnnxClassifier(path, threads)
    return lambda tokens: session.score(tokens, batch_size)


@dataclass(frozen=True)
class Predictor:
    """A loaded model folder: an engine's scoring function, the tokenizer and the length the model was trained with."""

    score_tokens: Callable[[Tokens], np.ndarray]
    tokenizer: PreTrainedTokenizerBase
    max_length: int
    engine: str

    @classmethod
    def load(cls, folder: Path, batch_size: int = 64, threads: int | None = None,
             engine: str = "torch") -> Predictor | EnsemblePredictor:
        """Load a model folder (a train stage's, or the export stage's with its ONNX files) or an ensemble folder for
        inference."""
        folder = Path(folder)
        check_model_folder(folder, engine)
        members = ensemble_members(folder)
        if members is not None:
            return EnsemblePredictor(tuple(cls.load(folder / name, batch_size, threads, engine) for name in members),
                                     tuple(members.values()), engine)
        threads = threads or available_cpus()
        scorer = (torch_scorer(folder, batch_size, threads) if engine == ENGINES[0]
                  else onnx_scorer(engine_file(folder, engine), batch_size, threads))
        return cls(scorer, folder_tokenizer(folder), read_json(folder / "config.json")["max_length"], engine)

    def non_complaint_probability(self, texts: Sequence[str]) -> np.ndarray:
        """The non-complaint probability of each raw tweet, in order; identical tweets are scored once."""
        first_index: dict[str, int] = {}
        inverse = np.fromiter((first_index.setdefault(text, len(first_index)) for text in texts), dtype=np.int64,
                              count=len(texts))
        if not first_index:
            return np.empty(0, dtype=np.float64)
        encoded = encode(self.tokenizer, list(first_index), self.max_length)
        tokens = Tokens(np.arange(len(first_index)), encoded["input_ids"], encoded["attention_mask"], None)
        return self.score_tokens(tokens)[inverse]


@dataclass(frozen=True)
class EnsemblePredictor:
    """An ensemble folder loaded: each member folder's predictor and its weight in the average of their probabilities."""

    members: tuple[Predictor, ...]
    weights: tuple[float, ...]
    engine: str

    def non_complaint_probability(self, texts: Sequence[str]) -> np.ndarray:
        """The members' non-complaint probabilities of each raw tweet, averaged with their weights."""
        return mean_probability([member.non_complaint_probability(texts) for member in self.members], list(self.weights))
