"""Write the one-page report a reviewer reads in a pull request: reports/report.md and its charts.

Headline metrics against the commit the run started from (read from that commit's dvc.lock and the local DVC cache),
the validation ROC of every model, the threshold sweep, calibration, the slices and the worst mistakes.
Reads: metrics/*.json, plots/{baseline,tutorial,bert,ensemble}/roc.csv, plots/threshold/sweep.csv,
plots/analysis/{baseline,bert}/*.csv, and dvc.lock at git HEAD.
Writes: reports/report.md, reports/figures/{roc,threshold_sweep,calibration,slices}.png
Run:   python -m stages.report --metrics metrics --plots plots --out reports/report.md --figures reports/figures
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from complaints import cli
from complaints.config import project_root
from complaints.io import atomic_dir, atomic_path, read_json
from complaints.report import (
    HEADLINE, MODELS, calibration_figure, headline_table, mistakes_table, previous_metrics, roc_figure, slice_table,
    slices_figure, sweep_figure,
)

ANALYSED = ["baseline", "bert"]


def main(argv: Sequence[str] | None = None) -> None:
    """Draw the charts, write the page."""
    arguments = cli.parser(__doc__)
    for option in ("--metrics", "--plots", "--out", "--figures"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)

    metrics_in_lock = [str(args.metrics / f"{name}.json") for name in HEADLINE + ["threshold"]]
    commit, recorded = previous_metrics(project_root(), metrics_in_lock)
    previous = {Path(path).name: data for path, data in recorded.items()}
    slices = pd.concat([pd.read_csv(args.plots / "analysis" / model / "slices.csv").assign(model=model)
                        for model in ANALYSED], ignore_index=True)
    with atomic_dir(args.figures) as staging:
        roc_figure(args.metrics, args.plots, staging / "roc.png")
        sweep_figure(args.metrics, args.plots, staging / "threshold_sweep.png")
        calibration_figure(args.metrics, args.plots, ANALYSED, staging / "calibration.png")
        slices_figure(slices, ANALYSED, staging / "slices.png")
    analysis, threshold = read_json(args.metrics / "analysis.json"), read_json(args.metrics / "threshold.json")
    figures = Path(os.path.relpath(args.figures, args.out.parent))
    mistakes = pd.read_csv(args.plots / "analysis" / "bert" / "mistakes.csv")
    page = f"""# Evaluation report

Validation: the tutorial's 340 tweets. Every figure below comes from this run's `metrics/` and `plots/`; the release
is `models/release/` (`dvc artifacts get . complaint-classifier`), with its model card in `models/release/README.md`.

## Headline

{headline_table(args.metrics, commit, previous)}

The change is against `dvc.lock` at {f"commit `{commit}`" if commit else "the previous commit (none found)"}, the
commit this run started from; `-` where that commit had no such figure in the local cache.
One standard error of an AUC on 340 tweets is about 0.02.

## ROC

![ROC of every model on validation]({figures / "roc.png"})

## Threshold

The test tweets are labeled at **{threshold["threshold"]:.4f}** (`{threshold["strategy"]}`):
{threshold["non_complaints"]} of {threshold["tweets"]} called non-complaints; validation precision
{threshold["val_precision"]:.3f}, recall {threshold["val_recall"]:.3f}.

![Threshold sweep]({figures / "threshold_sweep.png"})

## Calibration

Expected calibration error: {MODELS["baseline"]} {analysis["baseline_ece"]:.3f}, {MODELS["bert"]} {analysis["bert_ece"]:.3f}.
The threshold strategies and the prior-shift estimate assume calibrated probabilities.

![Calibration]({figures / "calibration.png"})

## Slices

Weakest slice (of those with at least 30 tweets, if any): {MODELS["baseline"]} {analysis["baseline_weakest_slice"]}, AUC
{analysis["baseline_weakest_slice_auc"]:.3f}; {MODELS["bert"]} {analysis["bert_weakest_slice"]}, AUC
{analysis["bert_weakest_slice_auc"]:.3f}. Slices of a few dozen tweets move by 0.05 AUC by chance: read the counts.

![AUC per slice]({figures / "slices.png"})

{slice_table(slices, ANALYSED)}

## The default recipe's most confident mistakes

{mistakes_table(mistakes)}
"""
    with atomic_path(args.out) as tmp:
        tmp.write_text(page, encoding="utf-8")


if __name__ == "__main__":
    cli.run(main)
