"""Predict the test tweets with the model refitted on all labeled data.

Reads: models/bert_full, data/tokens/test.safetensors, data/split/test.parquet, params `predict`, `train.eval_batch_size`.
`predict.int8` runs the model as dynamic int8 on the CPU (faster, but see the README's benchmark before using it).
Writes: predictions/test.csv (id, text, probability, label), metrics/predict.json, predictions/review_sample.csv,
plots/predict/threshold_sweep.csv (share of test tweets labeled non-complaint per threshold)
Run:   python -m stages.predict --tokens data/tokens --split data/split --model models/bert_full \
           --out predictions/test.csv --metrics metrics/predict.json --review predictions/review_sample.csv \
           --sweep plots/predict/threshold_sweep.csv
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from complaints import cli
from complaints.config import load_section
from complaints.io import DataError, read_parquet, write_json, write_table
from complaints.metrics import SWEEP_THRESHOLDS
from complaints.model import load_classifier, quantized_int8
from complaints.prediction import PredictParams, label_predictions, prediction_summary, review_sample, share_sweep
from complaints.runtime import configure_torch, inference_device
from complaints.training import Tokens, TrainParams, non_complaint_probability, predict_logits

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Score, threshold and summarize the test tweets."""
    arguments = cli.parser(__doc__)
    for option in ("--tokens", "--split", "--model", "--out", "--metrics", "--review", "--sweep"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "predict", PredictParams)
    batch_size = load_section(args.params, "train", TrainParams).eval_batch_size

    configure_torch(params.review_seed)
    device = inference_device()
    tokens = Tokens.load(args.tokens / "test.safetensors")
    test = read_parquet(args.split / "test.parquet")
    if not np.array_equal(tokens.ids, test["id"].to_numpy()):
        raise DataError(f"{args.tokens / 'test.safetensors'} and {args.split / 'test.parquet'} list different ids: rerun tokenize")
    model = load_classifier(args.model).to(device)
    if params.int8 and device.type == "cpu":
        model = quantized_int8(model)
    probability = non_complaint_probability(predict_logits(model, tokens, batch_size, device))

    predictions = label_predictions(test, probability, params.threshold)
    summary = prediction_summary(predictions, params.threshold)
    write_table(predictions, args.out)
    write_table(review_sample(predictions, params.review_size, params.review_seed), args.review)
    write_table(share_sweep(probability, SWEEP_THRESHOLDS), args.sweep)
    write_json(summary, args.metrics)
    logger.info("%d of %d test tweets predicted non-complaint at threshold %.2f",
                summary["non_complaints"], summary["tweets"], params.threshold)


if __name__ == "__main__":
    cli.run(main)
