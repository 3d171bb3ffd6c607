"""Score and label the test tweets with the serving folder, through the one predictor the CLI and the service use
(raw text in: cleaning, tokenizer and truncation come from the model folder; the threshold is the folder's own).

Reads: models/serving, data/split/test.parquet, params `predict`, `threshold.review_size`, `threshold.review_seed`.
Writes: predictions/test_scores.parquet (id, text, non_complaint_probability), predictions/test.csv (the same and label),
predictions/review_sample.csv (a seeded sample of predicted non-complaints for a human to read)
Run:   python -m stages.predict --split data/split --model models/serving --scores predictions/test_scores.parquet \
           --out predictions/test.csv --review predictions/review_sample.csv
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from complaints.core import stage
from complaints.core.machine import pin_threads
from complaints.core.config import load_section
from complaints.core.io import read_parquet, write_table
from complaints.serving.modelfolder import folder_threshold
from complaints.serving.labeling import PredictParams, label_predictions, review_sample
from complaints.serving.predictor import Predictor
from complaints.evaluation.threshold import ThresholdParams

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Score the test tweets, label them at the folder's threshold, sample some for review."""
    arguments = stage.parser(__doc__)
    for option in ("--split", "--model", "--scores", "--out", "--review"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "predict", PredictParams)
    review = load_section(args.params, "threshold", ThresholdParams)

    test = read_parquet(args.split / "test.parquet")
    threshold = folder_threshold(args.model).value
    predictor = Predictor.load(args.model, params.batch_size, engine=params.engine)
    scores = test[["id", "text"]].assign(non_complaint_probability=predictor.non_complaint_probability(test["text"].tolist()))
    predictions = label_predictions(scores, threshold)
    write_table(scores, args.scores)
    write_table(predictions, args.out)
    write_table(review_sample(predictions, review.review_size, review.review_seed), args.review)
    logger.info("%d of %d test tweets non-complaint at the folder's threshold %.4f (%s)",
                int(predictions["label"].sum()), len(test), threshold, params.engine)


if __name__ == "__main__":
    stage.run(main, setup=pin_threads)
