"""Choose the non-complaint threshold (`threshold.strategy`) before export, so that the serving folder carries it.

The refit model (PyTorch) scores the test tweets: `target_count` counts them, and the sweep and the EM estimate of
their non-complaint share read them.

Reads: plots/bert/val_probabilities.csv (the train-split model on validation), models/bert_full, data/split (the test
tweets, and the prior the refit model learned from train and val), params `threshold`, `predict.batch_size`.
Writes: metrics/threshold.json (the threshold and the test tweets it calls non-complaints), reports/threshold.json (with
the test share, validation precision/recall at it, the EM prior estimate),
plots/threshold/sweep.csv
Run:   python -m stages.threshold --val plots/bert/val_probabilities.csv --model models/bert_full --split data/split \
           --metrics metrics/threshold.json --report reports/threshold.json --sweep plots/threshold/sweep.csv
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from complaints.core import stage
from complaints.core.machine import pin_threads
from complaints.core.config import load_section
from complaints.core.decision import predicted_labels
from complaints.core.io import read_parquet, read_probabilities, write_table
from complaints.serving.labeling import PredictParams, share_sweep
from complaints.serving.predictor import Predictor
from complaints.evaluation.figures import SWEEP_THRESHOLDS, scores_at, threshold_sweep, write_metrics
from complaints.evaluation.threshold import ThresholdParams, choose_threshold, estimate_prior

logger = logging.getLogger(__name__)

THRESHOLD_HEADLINE = ("threshold", "non_complaints")


def main(argv: Sequence[str] | None = None) -> None:
    """Score the test tweets with the refit model, choose the threshold, summarize."""
    arguments = stage.parser(__doc__)
    for option in ("--val", "--model", "--split", "--metrics", "--report", "--sweep"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "threshold", ThresholdParams)
    batch_size = load_section(args.params, "predict", PredictParams).batch_size

    validation, test = read_probabilities(args.val), read_parquet(args.split / "test.parquet")
    test_probability = Predictor.load(args.model, batch_size, engine="torch").non_complaint_probability(
        test["text"].tolist())
    labels, val_probability = validation["label"].to_numpy(), validation["non_complaint_probability"].to_numpy()
    threshold = choose_threshold(params, labels, val_probability, test_probability)
    at_threshold = scores_at(labels, val_probability, threshold)
    training_labels = pd.concat([read_parquet(args.split / f"{split}.parquet")["label"] for split in ("train", "val")])
    prior, iterations = estimate_prior(test_probability, float(training_labels.mean()))
    count = int(predicted_labels(test_probability, threshold).sum())
    summary = {
        "strategy": params.strategy, "threshold": threshold, "tweets": len(test), "non_complaints": count,
        "non_complaint_share": count / len(test), "val_precision": at_threshold["precision"],
        "val_recall": at_threshold["recall"], "val_f1": at_threshold["f1"], "training_prior": float(training_labels.mean()),
        "prior_estimate": prior, "prior_estimate_count": prior * len(test), "prior_iterations": iterations,
    }
    write_table(threshold_sweep(labels, val_probability).merge(share_sweep(test_probability, SWEEP_THRESHOLDS), on="threshold"),
                args.sweep)
    write_metrics(summary, THRESHOLD_HEADLINE, args.metrics, args.report)
    logger.info("%s threshold %.4f: %d of %d test tweets non-complaint (validation precision %.3f, recall %.3f); "
                "EM estimates %.1f%% non-complaints (%.0f tweets)", params.strategy, threshold, count, len(test),
                summary["val_precision"], summary["val_recall"], 100 * prior, summary["prior_estimate_count"])


if __name__ == "__main__":
    stage.run(main, setup=pin_threads)
