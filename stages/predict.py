"""Score the test tweets with the model refitted on all labeled data, through the one predictor the CLI and the
service use (raw text in: cleaning, tokenizer and truncation come from the model folder).

Reads: models/bert_full, data/split/test.parquet, params `predict`.
Writes: predictions/test_scores.parquet (id, text, probability); the threshold stage labels them.
Run:   python -m stages.predict --split data/split --model models/bert_full --out predictions/test_scores.parquet
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from complaints import cli
from complaints.config import load_section
from complaints.io import read_parquet, write_table
from complaints.prediction import PredictParams
from complaints.predictor import Predictor

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Score the test tweets."""
    arguments = cli.parser(__doc__)
    for option in ("--split", "--model", "--out"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "predict", PredictParams)

    test = read_parquet(args.split / "test.parquet")
    predictor = Predictor.load(args.model, params.batch_size, engine=params.engine)
    probability = predictor.non_complaint_probability(test["text"].tolist())
    write_table(test[["id", "text"]].assign(probability=probability), args.out)
    logger.info("scored %d test tweets", len(test))


if __name__ == "__main__":
    cli.run(main)
