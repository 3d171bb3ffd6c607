"""Score the test tweets with the model refitted on all labeled data.

Reads: models/bert_full, data/tokens/test.safetensors, data/split/test.parquet, params `predict`, `train.eval_batch_size`.
`predict.int8` runs the model as dynamic int8 on the CPU (faster, but see the README's benchmark before using it).
Writes: predictions/test_scores.parquet (id, text, probability); the threshold stage labels them.
Run:   python -m stages.predict --tokens data/tokens --split data/split --model models/bert_full \
           --out predictions/test_scores.parquet
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from complaints import cli
from complaints.config import load_section
from complaints.io import DataError, read_parquet, write_table
from complaints.model import load_classifier, quantized_int8
from complaints.prediction import PredictParams
from complaints.runtime import configure_torch, inference_device
from complaints.training import Tokens, TrainParams, score

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Score the test tweets."""
    arguments = cli.parser(__doc__)
    for option in ("--tokens", "--split", "--model", "--out"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "predict", PredictParams)
    train_params = load_section(args.params, "train", TrainParams)

    configure_torch(seed=0)  # inference draws nothing at random; this sets threads and deterministic kernels
    device = inference_device()
    tokens = Tokens.load(args.tokens / "test.safetensors")
    test = read_parquet(args.split / "test.parquet")
    if not np.array_equal(tokens.ids, test["id"].to_numpy()):
        raise DataError(f"{args.tokens / 'test.safetensors'} and {args.split / 'test.parquet'} list different ids: rerun tokenize")
    model = load_classifier(args.model).to(device)
    if params.int8 and device.type == "cpu":
        model = quantized_int8(model)
    probability = score(model, tokens, train_params.eval_batch_size, device)
    write_table(test[["id", "text"]].assign(probability=probability), args.out)
    logger.info("scored %d test tweets", len(test))


if __name__ == "__main__":
    cli.run(main)
