"""Evaluate a fine-tuned model on the validation split, once, with the baseline's metric keys.

Reads: models/bert (or models/tutorial), data/tokens/val.safetensors, params `train.eval_batch_size`.
Writes: metrics/bert.json (auc, accuracy, precision, recall, f1, the kept epoch and its dev AUC),
plots/bert/{roc,confusion,threshold_sweep,val_probabilities}.csv
Run:   python -m stages.evaluate --tokens data/tokens --model models/bert --metrics metrics/bert.json --plots plots/bert
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from complaints import cli
from complaints.config import load_section
from complaints.io import read_json
from complaints.metrics import write_evaluation
from complaints.model import load_classifier
from complaints.runtime import configure_torch, inference_device
from complaints.training import Tokens, TrainParams, chosen_epoch_summary, score

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Score the validation split and write the metrics and plot data."""
    arguments = cli.parser(__doc__)
    for option in ("--tokens", "--model", "--metrics", "--plots"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "train", TrainParams)

    configure_torch(params.seed)
    device = inference_device()
    validation = Tokens.load(args.tokens / "val.safetensors")
    probability = score(load_classifier(args.model).to(device), validation, params.eval_batch_size, device)
    extra = chosen_epoch_summary(read_json(args.model / "training.json"))
    table = pd.DataFrame({"id": validation.ids, "label": validation.labels})
    metrics = write_evaluation(table, probability, extra, args.metrics, args.plots)
    logger.info("validation AUC %.4f, accuracy %.2f%%", metrics["auc"], 100 * metrics["accuracy"])


if __name__ == "__main__":
    cli.run(main)
