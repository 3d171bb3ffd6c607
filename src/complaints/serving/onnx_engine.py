"""ONNX Runtime as the predictor's engine: the exported graph's logits for length-sorted token batches (no torch)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime

from complaints.modeling.logits import logits_in_order, non_complaint_probability
from complaints.text.tokens import Tokens


class OnnxClassifier:
    """An ONNX Runtime session on the CPU over an exported classifier graph."""

    def __init__(self, path: Path, threads: int) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def batch_logits(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Logits of one batch."""
        feeds = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        return self.session.run(["logits"], feeds)[0]

    def score(self, tokens: Tokens, batch_size: int) -> np.ndarray:
        """Non-complaint probability of every row."""
        return non_complaint_probability(logits_in_order(self.batch_logits, tokens, batch_size))
