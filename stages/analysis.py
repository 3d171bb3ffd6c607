"""Where each model fails on the validation split, the baseline and the fine-tuned model side by side: metrics per
slice (airline, length band, URL, hashtag, each with its count), the most confident mistakes, calibration.

Reads: data/split/val.parquet (text, airline, label), plots/{model}/val_probabilities.csv for each model named.
Writes: plots/analysis/{model}/{slices,calibration,mistakes}.csv, reports/analysis.json (each model's expected
calibration error and its weakest slice with at least 30 tweets)
Run:   python -m stages.analysis --split data/split --models baseline bert --plots plots --out plots/analysis \
           --report reports/analysis.json
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from complaints.core import stage
from complaints.evaluation.analysis import confident_mistakes, expected_calibration_error, reliability_curve, slice_metrics
from complaints.core.io import DataError, atomic_dir, read_parquet, read_probabilities, write_json, write_table

logger = logging.getLogger(__name__)
SOLID_SLICE = 30  # tweets: a smaller slice is reported but not ranked, unless no slice is this large


def main(argv: Sequence[str] | None = None) -> None:
    """Slice, rank the mistakes, bin the probabilities, for every model."""
    arguments = stage.parser(__doc__)
    arguments.add_argument("--split", type=Path, required=True)
    arguments.add_argument("--models", nargs="+", required=True)
    for option in ("--plots", "--out", "--report"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)

    validation = read_parquet(args.split / "val.parquet")
    summary = {}
    with atomic_dir(args.out) as staging:
        for model in args.models:
            path = args.plots / model / "val_probabilities.csv"
            scores = read_probabilities(path)
            if scores["id"].tolist() != validation["id"].tolist():
                raise DataError(f"{path}: not the validation tweets of {args.split / 'val.parquet'}; rerun the pipeline")
            probability = scores["non_complaint_probability"].to_numpy()
            slices = slice_metrics(validation, probability)
            curve = reliability_curve(validation["label"].to_numpy(), probability)
            (staging / model).mkdir()
            write_table(slices, staging / model / "slices.csv")
            write_table(curve, staging / model / "calibration.csv")
            write_table(confident_mistakes(validation, probability).assign(
                characters=lambda table: table["text"].str.len()), staging / model / "mistakes.csv")
            ranked = slices.dropna(subset=["auc"])
            solid = ranked[ranked["tweets"] >= SOLID_SLICE]
            weakest = (solid if len(solid) else ranked).sort_values(["auc", "tweets"]).iloc[0]
            summary |= {f"{model}_ece": expected_calibration_error(curve),
                        f"{model}_weakest_slice_auc": float(weakest["auc"]),
                        f"{model}_weakest_slice": f"{weakest['slice_kind']}: {weakest['slice']} ({weakest['tweets']} tweets)"}
            logger.info("%s: ECE %.4f, weakest slice %s (AUC %.4f)", model, summary[f"{model}_ece"],
                        summary[f"{model}_weakest_slice"], weakest["auc"])
    write_json(summary, args.report)


if __name__ == "__main__":
    stage.run(main)
