"""The one-page evaluation report a reviewer reads in a pull request: headline metrics and their change against the
commit the run started from, charts drawn with matplotlib (one colour per model or series, labelled axes), the
slices and the worst mistakes."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from complaints.core.io import read_json

MODELS = {"baseline": "TF-IDF + NB baseline", "tutorial": "tutorial's recipe", "bert": "default recipe",
          "ensemble": "default + baseline"}
COLOURS = {"baseline": "#1f77b4", "tutorial": "#ff7f0e", "bert": "#2ca02c", "ensemble": "#9467bd"}
HEADLINE = ["baseline", "tutorial", "bert", "ensemble"]
PNG = {"dpi": 110, "metadata": {"Software": None}}  # no version string in the file: the same bytes run after run


def chart(width: float, height: float):
    """A figure and its axes, drawn off screen (matplotlib's Figure needs no GUI backend)."""
    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


def previous_metrics(root: Path, paths: list[str]) -> tuple[str | None, dict[str, dict]]:
    """The metrics files (paths from the project root) at git HEAD, read by DVC's own API as `dvc metrics diff` reads
    them: (commit, path -> data). Empty when there is no git or no HEAD, and a file is left out when its data is not in
    this cache."""
    import dvc.api
    from dvc.scm import RevError

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None, {}
    found = {}
    for path in paths:
        try:
            found[path] = dvc.api.metrics_show(path, repo=str(root), rev="HEAD")
        except (FileNotFoundError, RevError):
            continue
    return commit, found


def change(now: float, before: float | None, digits: int = 4) -> str:
    """`now` with its change from `before`, as `dvc metrics diff` shows it."""
    if before is None:
        return f"{now:.{digits}f} | - | -"
    return f"{now:.{digits}f} | {before:.{digits}f} | {round(now - before, digits) + 0.0:+.{digits}f}"


def headline_table(metrics: Path, commit: str | None, previous: dict[str, dict]) -> str:
    """Each model's validation AUC, accuracy and F1, now, at the previous commit, and the change."""
    lines = [f"| model | metric | this run | {commit or 'previous'} | change |", "|---|---|---:|---:|---:|"]
    for model in HEADLINE:
        now, before = read_json(metrics / f"{model}.json"), previous.get(f"{model}.json", {})
        for metric in ("auc", "accuracy", "f1"):
            lines.append(f"| {MODELS[model]} | {metric} | {change(now[metric], before.get(metric))} |")
    threshold, before = read_json(metrics / "threshold.json"), previous.get("threshold.json", {})
    lines.append(f"| test predictions | non-complaints at {threshold['threshold']:.4f} | "
                 f"{change(threshold['non_complaints'], before.get('non_complaints'), 0)} |")
    return "\n".join(lines)


def roc_figure(metrics: Path, plots: Path, target: Path) -> None:
    """Every model's validation ROC curve on one chart."""
    figure, axes = chart(6, 5)
    for model, name in MODELS.items():
        roc = pd.read_csv(plots / model / "roc.csv")
        auc = read_json(metrics / f"{model}.json")["auc"]
        axes.plot(roc["fpr"], roc["tpr"], color=COLOURS[model], label=f"{name} (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    axes.set(xlabel="false positive rate (complaints called non-complaints)",
             ylabel="true positive rate (non-complaints found)", title="Validation ROC, 340 tweets")
    axes.legend(loc="lower right")
    save(figure, target)


def sweep_figure(metrics: Path, plots: Path, target: Path) -> None:
    """Validation precision and recall, and the share of test tweets called non-complaint, per threshold."""
    sweep = pd.read_csv(plots / "threshold" / "sweep.csv")
    threshold = read_json(metrics / "threshold.json")["threshold"]
    figure, axes = chart(6, 4.8)
    for column, colour, label in (("precision", "#2ca02c", "validation precision (non-complaint)"),
                                  ("recall", "#d62728", "validation recall (non-complaint)"),
                                  ("test_non_complaint_share", "#1f77b4", "share of test tweets called non-complaint")):
        axes.plot(sweep["threshold"], sweep[column], color=colour, marker="o", markersize=3, label=label)
    axes.axvline(threshold, color="black", linestyle="--", label=f"chosen threshold {threshold:.2f}")
    axes.set(xlabel="threshold on the non-complaint probability", ylabel="share", ylim=(0, 1.02),
             title="Threshold sweep (default recipe)")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize=8)
    save(figure, target)


def calibration_figure(reports: Path, plots: Path, models: list[str], target: Path) -> None:
    """Reliability curves: mean predicted probability against the observed share of non-complaints, per bin."""
    figure, axes = chart(5.5, 5)
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for model in models:
        curve = pd.read_csv(plots / "analysis" / model / "calibration.csv").dropna()
        ece = read_json(reports / "analysis.json")[f"{model}_ece"]
        axes.plot(curve["predicted"], curve["observed"], color=COLOURS[model], marker="o",
                  label=f"{MODELS[model]} (ECE {ece:.3f})")
    axes.set(xlabel="mean predicted probability of non-complaint (10 bins)",
             ylabel="observed share of non-complaints", title="Calibration on validation", xlim=(0, 1), ylim=(0, 1))
    axes.legend(loc="upper left")
    save(figure, target)


def slices_figure(slices: pd.DataFrame, models: list[str], target: Path) -> None:
    """AUC per slice, one bar per model, the tweet count in each label."""
    first = slices[slices["model"] == models[0]].reset_index(drop=True)
    labels = [f"{row.slice} (n={row.tweets})" for row in first.itertuples()]
    figure, axes = chart(7, 0.32 * len(labels) + 1.2)
    height = 0.8 / len(models)
    for offset, model in enumerate(models):
        values = slices[slices["model"] == model]["auc"].to_numpy()
        axes.barh([i + offset * height for i in range(len(labels))], values, height=height, color=COLOURS[model],
                  label=MODELS[model])
    axes.set_yticks([i + height * (len(models) - 1) / 2 for i in range(len(labels))], labels, fontsize=8)
    axes.invert_yaxis()
    axes.axvline(0.5, color="grey", linestyle=":", label="chance")
    axes.set(xlabel="validation AUC in the slice (no bar: one class only)", xlim=(0, 1),
             title="Where the models fail: AUC per slice")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=8)
    save(figure, target)


def save(figure: Figure, target: Path) -> None:
    """Write a figure as PNG."""
    figure.tight_layout()
    figure.savefig(target, **PNG)


def slice_markdown(slices: pd.DataFrame, models: list[str]) -> str:
    """The slices side by side: count, share of non-complaints, each model's AUC and accuracy."""
    wide = slices.pivot_table(index=["slice_kind", "slice", "tweets", "non_complaint_share"], columns="model",
                              values=["auc", "accuracy"], sort=False).reset_index()
    header = "| slice | tweets | non-complaints | " + " | ".join(
        f"{MODELS[model]} AUC | {MODELS[model]} accuracy" for model in models) + " |"
    lines = [header, "|---|---:|---:|" + "---:|---:|" * len(models)]
    for _, row in wide.iterrows():
        cells = " | ".join(f"{row[('auc', model)]:.3f} | {row[('accuracy', model)]:.1%}" for model in models)
        lines.append(f"| {row[('slice_kind', '')]}: {row[('slice', '')]} | {row[('tweets', '')]} | "
                     f"{row[('non_complaint_share', '')]:.0%} | {cells} |")
    return "\n".join(lines).replace("nan", "n/a")


def mistakes_table(mistakes: pd.DataFrame) -> str:
    """The most confident mistakes of one model, with their text."""
    lines = ["| mistake | probability of non-complaint | tweet |", "|---|---:|---|"]
    for row in mistakes.itertuples():
        text = " ".join(row.text.split()).replace("|", "\\|")
        lines.append(f"| {row.mistake} | {row.non_complaint_probability:.3f} | {text} |")
    return "\n".join(lines)


def report_page(metrics: Path, reports: Path, plots: Path, figures: Path, commit: str | None, previous: dict[str, dict],
                slices: pd.DataFrame, analysed: list[str]) -> str:
    """The page: headline table, charts (linked from `figures`), threshold, calibration, slices and mistakes."""
    analysis, threshold = read_json(reports / "analysis.json"), read_json(reports / "threshold.json")
    mistakes = pd.read_csv(plots / "analysis" / "bert" / "mistakes.csv")
    return f"""# Evaluation report

Validation: the tutorial's 340 tweets. Every figure below comes from this run's `metrics/`, `reports/` and `plots/`; the release
is `models/release/` (`dvc artifacts get . complaint-classifier`), with its model card in `models/release/README.md`.

## Headline

{headline_table(metrics, commit, previous)}

The change is against `dvc.lock` at {f"commit `{commit}`" if commit else "the previous commit (none found)"}, the
commit this run started from (its headline metrics are in git); `-` where that commit had no such figure.
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

{slice_markdown(slices, analysed)}

## The default recipe's most confident mistakes

{mistakes_table(mistakes)}
"""
