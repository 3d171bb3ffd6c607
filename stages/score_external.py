"""Score the external labeled tweets with one fine-tuned model folder (one stage per model of the models list).

Reads: data/external/tweets.parquet, the model folder (PyTorch), params `external.batch_size`.
Writes: scores/external/{model}.csv or scores/distill/{model}.csv (id, label, non_complaint_probability), which the
pipeline's `external` summary measures and compares
Run:   python -m stages.score_external --tweets data/external/tweets.parquet --model models/bert \
           --out scores/external/bert.csv
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from complaints.core import stage
from complaints.core.config import load_section
from complaints.core.io import read_parquet, write_table
from complaints.core.machine import pin_threads
from complaints.evaluation.external import ExternalParams
from complaints.serving.predictor import Predictor

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Score every external tweet with the model and write its probabilities."""
    arguments = stage.parser(__doc__)
    for option in ("--tweets", "--model", "--out"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "external", ExternalParams)
    tweets = read_parquet(args.tweets)
    predictor = Predictor.load(args.model, params.batch_size, engine="torch")
    probability = predictor.non_complaint_probability(tweets["text"].tolist())
    write_table(tweets[["id", "label"]].assign(non_complaint_probability=probability), args.out)
    logger.info("%s: scored %d external tweets", args.model, len(tweets))


if __name__ == "__main__":
    stage.run(main, setup=pin_threads)
