"""Choose the non-complaint threshold (`threshold.strategy`), label the test tweets, estimate their non-complaint share.

Reads: predictions/test_scores.parquet, plots/bert/val_probabilities.csv (the train-split model on validation),
data/split/{train,val}.parquet (the prior the refitted model learned), params `threshold`.
Writes: predictions/test.csv (id, text, probability, label), predictions/review_sample.csv, metrics/threshold.json
(threshold, test counts, validation precision/recall at it, EM prior estimate), plots/threshold/sweep.csv
Run:   python -m stages.threshold --scores predictions/test_scores.parquet --val plots/bert/val_probabilities.csv \
           --split data/split --out predictions/test.csv --review predictions/review_sample.csv \
           --metrics metrics/threshold.json --sweep plots/threshold/sweep.csv
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from complaints import cli
from complaints.config import load_section
from complaints.io import read_parquet, read_probabilities, write_json, write_table
from complaints.reporting import SWEEP_THRESHOLDS, scores_at, threshold_sweep
from complaints.prediction import label_predictions, review_sample, share_sweep
from complaints.threshold import ThresholdParams, choose_threshold, estimate_prior

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Threshold, label, summarize."""
    arguments = cli.parser(__doc__)
    for option in ("--scores", "--val", "--split", "--out", "--review", "--metrics", "--sweep"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "threshold", ThresholdParams)

    scores, validation = read_parquet(args.scores), read_probabilities(args.val)
    test_probability, labels, val_probability = (
        scores["probability"].to_numpy(), validation["label"].to_numpy(), validation["probability"].to_numpy()
    )
    threshold = choose_threshold(params, labels, val_probability, test_probability)
    predictions = label_predictions(scores, threshold)
    at_threshold = scores_at(labels, val_probability, threshold)
    training_labels = pd.concat([read_parquet(args.split / f"{split}.parquet")["label"] for split in ("train", "val")])
    prior, iterations = estimate_prior(test_probability, float(training_labels.mean()))
    count = int(predictions["label"].sum())
    summary = {
        "strategy": params.strategy, "threshold": threshold, "tweets": len(predictions), "non_complaints": count,
        "non_complaint_share": count / len(predictions), "val_precision": at_threshold["precision"],
        "val_recall": at_threshold["recall"], "val_f1": at_threshold["f1"], "training_prior": float(training_labels.mean()),
        "prior_estimate": prior, "prior_estimate_count": prior * len(predictions), "prior_iterations": iterations,
    }
    write_table(predictions, args.out)
    write_table(review_sample(predictions, params.review_size, params.review_seed), args.review)
    write_table(threshold_sweep(labels, val_probability).merge(share_sweep(test_probability, SWEEP_THRESHOLDS), on="threshold"),
                args.sweep)
    write_json(summary, args.metrics)
    logger.info("%s threshold %.4f: %d of %d test tweets non-complaint (validation precision %.3f, recall %.3f); "
                "EM estimates %.1f%% non-complaints (%.0f tweets)", params.strategy, threshold, count, len(predictions),
                summary["val_precision"], summary["val_recall"], 100 * prior, summary["prior_estimate_count"])


if __name__ == "__main__":
    cli.run(main)
