"""Write the one-page report a reviewer reads in a pull request: reports/report.md and its charts.

Headline metrics against the commit the run started from (read by DVC's API, `dvc.api.metrics_show(rev="HEAD")`, as
`dvc metrics diff` reads them), the validation ROC of every model, the threshold sweep, calibration, the slices and the worst mistakes.
Reads: metrics/*.json (the headline), reports/{threshold,analysis}.json, plots/{baseline,tutorial,bert,ensemble}/roc.csv, plots/threshold/sweep.csv,
plots/analysis/{baseline,bert}/*.csv, and the same metrics at git HEAD through DVC.
Writes: reports/report.md, reports/figures/{roc,threshold_sweep,calibration,slices}.png
Run:   python -m stages.report --metrics metrics --reports reports --plots plots --out reports/report.md --figures reports/figures
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from complaints.core import stage
from complaints.core.config import project_root
from complaints.core.io import atomic_dir, atomic_path
from complaints.release.report import (
    HEADLINE, calibration_figure, previous_metrics, report_page, roc_figure, slices_figure, sweep_figure,
)

ANALYSED = ["baseline", "bert"]


def main(argv: Sequence[str] | None = None) -> None:
    """Draw the charts, write the page."""
    arguments = stage.parser(__doc__)
    for option in ("--metrics", "--reports", "--plots", "--out", "--figures"):
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
        calibration_figure(args.reports, args.plots, ANALYSED, staging / "calibration.png")
        slices_figure(slices, ANALYSED, staging / "slices.png")
    figures = Path(os.path.relpath(args.figures, args.out.parent))
    page = report_page(args.metrics, args.reports, args.plots, figures, commit, previous, slices, ANALYSED)
    with atomic_path(args.out) as tmp:
        tmp.write_text(page, encoding="utf-8")


if __name__ == "__main__":
    stage.run(main)
