"""Evaluate a fine-tuned model on the validation split, once, with the baseline's metric keys.

Reads: models/bert (or models/tutorial), data/tokens/{encoder}/val.safetensors, params `evaluate.batch_size`.
Writes: metrics/bert.json (auc, accuracy, precision, recall, f1, the kept epoch and its dev AUC),
plots/bert/{roc,confusion,threshold_sweep,val_probabilities}.csv
Run:   python -m stages.evaluate --tokens data/tokens/model --model models/bert --metrics metrics/bert.json --plots plots/bert
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from complaints.core import stage
from complaints.core.machine import pin_threads
from complaints.core.config import load_section
from complaints.modeling.torch_scoring import score
from complaints.modeling.model import load_classifier
from complaints.evaluation.figures import EvaluateParams, chosen_epoch_summary, write_evaluation
from complaints.core.runtime import configure_torch, inference_device
from complaints.text.tokens import Tokens
from complaints.modeling.training import read_training_record

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Score the validation split and write the metrics and plot data."""
    arguments = stage.parser(__doc__)
    for option in ("--tokens", "--model", "--metrics", "--report", "--plots"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "evaluate", EvaluateParams)

    configure_torch()  # inference draws nothing at random; this sets threads and deterministic kernels
    device = inference_device()
    validation = Tokens.load(args.tokens / "val.safetensors")
    extra = chosen_epoch_summary(read_training_record(args.model / "training.json"))
    probability = score(load_classifier(args.model).to(device), validation, params.batch_size, device)
    table = pd.DataFrame({"id": validation.ids, "label": validation.labels})
    metrics = write_evaluation(table, probability, extra, args.metrics, args.report, args.plots)
    logger.info("validation AUC %.4f, accuracy %.2f%%", metrics["auc"], 100 * metrics["accuracy"])


if __name__ == "__main__":
    stage.run(main, setup=pin_threads)
