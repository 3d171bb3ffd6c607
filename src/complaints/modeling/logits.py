"""From batch logits to non-complaint probabilities, whatever runs the model (PyTorch or ONNX Runtime); no torch here."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from complaints.text.tokens import Tokens, sorted_batches

BatchLogits = Callable[[dict[str, np.ndarray]], np.ndarray]


def logits_in_order(batch_logits: BatchLogits, tokens: Tokens, batch_size: int) -> np.ndarray:
    """`batch_logits` over length-sorted, dynamically padded batches; rows back in the tokens' order (float32)."""
    logits = np.empty((len(tokens.ids), 2), dtype=np.float32)
    for indices in sorted_batches(tokens.lengths, batch_size):
        logits[indices] = batch_logits(tokens.batch(indices))
    return logits


def non_complaint_probability(logits: np.ndarray) -> np.ndarray:
    """Softmax probability of label 1 (non-complaint), computed in float64 from the logits."""
    logits = logits.astype(np.float64)
    return 1.0 / (1.0 + np.exp(logits[:, 0] - logits[:, 1]))
