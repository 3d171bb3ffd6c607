"""The training spread of every recipe that ships or teaches: the same stage at several seeds, nothing else changed.

Each recipe is the pipeline's own stage (its `cmd` read from dvc.yaml) run again with `--seed N` and its own output
folders under benchmarks/work/spread (argparse keeps the last value of a repeated option); the recipe's params seed
is the pipeline's own run where the workspace has its model, else run like the others. A train fit is scored on
validation and on the external set, a refit (trained on validation too) on the external set only. A student's seeds share the pipeline's teacher targets.

Run:  python -m benchmarks.spread --recipe bert --seeds 42 1 2 3 4
      python -m benchmarks.spread --recipe teacher --seeds 42 1 2
      python -m benchmarks.spread --recipe student --seeds 42 1 2
      python -m benchmarks.spread --recipe student_3_layers --seeds 42 1 2
      python -m benchmarks.spread --judge student_3_layers student     # the rule, counting training's noise
Each seed is saved as it finishes (benchmarks/results/spread.json, one entry per recipe with its seeds and CPU model);
a rerun skips the seeds already measured on this CPU. `python -m benchmarks.report` shows it in the README.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from benchmarks.compare import RESULTS, ROOT, cpu_model, run_header
from benchmarks.options import verdict
from complaints.core.config import load_section
from complaints.core.io import read_json, read_parquet, read_probabilities, sha256_of
from complaints.core.metrics import classification_metrics
from complaints.evaluation.figures import CompareParams, bootstrap_auc_difference
from complaints.evaluation.model_list import ModelEntry, load_models
from complaints.serving.predictor import Predictor

WORK = ROOT / "benchmarks" / "work" / "spread"
BATCH_SIZE = 128


# The stage that fits each group's models, as its pipeline file names it.
STAGES = {"fits": "train", "refits": "refit", "teachers": "train", "students": "student", "student_refits": "student_refit"}


@dataclass(frozen=True)
class Recipe:
    """The pipeline stages that fit one model of the models list on the training split and, where the list has its
    refit, on all labeled tweets."""

    train: str
    refit: str | None
    section: str


def stage_name(entry: ModelEntry) -> str:
    """The stage that fits a model of the list (`distill/dvc.yaml:` for the teacher's chain)."""
    prefix = "" if entry.pipeline == "dvc.yaml" else f"{entry.pipeline}:"
    return f"{prefix}{STAGES[entry.group]}@{entry.name}"


def recipes(models: dict[str, ModelEntry]) -> dict[str, Recipe]:
    """Every model of the list trained on the training split, with its refit's stage where the list has one."""
    refits = {entry.fit: stage_name(entry) for entry in models.values() if entry.fit}
    return {name: Recipe(stage_name(entry), refits.get(name), entry.recipe)
            for name, entry in models.items() if not entry.fit}


def stage_command(name: str) -> tuple[str, Path]:
    """A stage's command as its pipeline file writes it (`distill/dvc.yaml:` for the teacher's chain), and its model
    folder (the first output)."""
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        stage = repo.stage.collect(name)[0]
        return stage.cmd, Path(stage.outs[0].def_path)


def seed_folder(stage: str, fit_name: str, seed: int) -> Path:
    """Where an extra seed's model folder lies."""
    return WORK / stage.split(":")[-1].replace("@", "-") / f"{fit_name}-{seed}"


def fit(stage: str, seed: int, fit_name: str, train_folder: Path | None) -> tuple[Path, float]:
    """Run the stage's own command at `seed` into the work folder; the model folder and the seconds it took."""
    command, _ = stage_command(stage)
    folder = seed_folder(stage, fit_name, seed)
    overrides = ["--seed", str(seed), "--model", str(folder), "--live", str(folder.with_name(f"{folder.name}-live"))]
    if train_folder is not None:
        overrides += ["--epochs-from", str(train_folder / "training.json")]
    started = time.perf_counter()
    subprocess.run(shlex.split(command) + overrides, cwd=ROOT, check=True)
    return folder, time.perf_counter() - started


def pipeline_model(stage: str) -> Path | None:
    """The pipeline's own model of the stage in the workspace, if `dvc repro` made it."""
    folder = ROOT / stage_command(stage)[1]
    return folder if (folder / "training.json").is_file() else None


def measure(folder: Path, seconds: float | None, validation, external, on_validation: bool) -> dict:
    """One fitted model's figures: validation metrics (train fits), external AUC, epoch kept and weight digest."""
    predictor = Predictor.load(folder, BATCH_SIZE, engine="torch")

    def metrics(tweets) -> dict:
        return classification_metrics(tweets["label"].to_numpy(),
                                      predictor.non_complaint_probability(tweets["text"].tolist()))

    figures = {"chosen_epoch": read_json(folder / "training.json")["chosen_epoch"],
               "seconds": seconds and round(seconds, 1), "weights_sha256": sha256_of(folder / "model.safetensors"),
               "external_auc": metrics(external)["auc"]}
    if on_validation:
        scored = metrics(validation)
        figures |= {"val_auc": scored["auc"], "val_accuracy": scored["accuracy"]}
    return figures


def summary(per_seed: dict) -> dict:
    """Mean, sample standard deviation, minimum and maximum of each figure over the seeds."""
    names = sorted({name for figures in per_seed.values() for name in figures
                    if name.endswith(("_auc", "_accuracy"))})
    return {name: {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                   "min": float(np.min(values)), "max": float(np.max(values))}
            for name in names for values in [[figures[name] for figures in per_seed.values()]]}


def load_results() -> dict:
    """The saved spread, or an empty one; a file from another CPU is not mixed with this one's seeds."""
    path = RESULTS / "spread.json"
    results = read_json(path) if path.exists() else {"recipes": {}}
    if results["recipes"] and results["machine"]["cpu"] != cpu_model():
        raise SystemExit(f"{path} holds seeds measured on {results['machine']['cpu']}, not {cpu_model()}: "
                         f"move it aside to start this CPU's spread")
    return results


def save(results: dict) -> None:
    """Write spread.json atomically, with this run's header."""
    path = RESULTS / "spread.json"
    staging = path.with_suffix(".json.tmp")
    staging.write_text(json.dumps(results | run_header(), indent=2) + "\n")
    staging.replace(path)


def pipeline_scores(entry: ModelEntry):
    """The external-set scores (`id, label, non_complaint_probability`) of the pipeline's own run of a model."""
    folder = "external" if entry.pipeline == "dvc.yaml" else "distill"
    return read_probabilities(ROOT / "scores" / folder / f"{entry.name}.csv")


def judged(results: dict, models: dict[str, ModelEntry], candidate: str, reference: str) -> dict:
    """The rule counting training's noise on two models' train fits: the difference of their seed means of external
    AUC, whose squared standard error is the paired bootstrap's (on the pipeline's own runs of both) plus each side's
    seed variance over its seed count."""
    fits = {name: results["recipes"][name]["fits"]["train"] for name in (candidate, reference)}
    compare = load_section(ROOT / "params.yaml", "compare", CompareParams)
    scores = {name: pipeline_scores(models[name]) for name in (candidate, reference)}
    if not scores[candidate]["id"].equals(scores[reference]["id"]):
        raise SystemExit(f"the external scores of {candidate} and {reference} are not of the same tweets: rerun "
                         f"`dvc repro` for both")
    bootstrap = bootstrap_auc_difference(scores[reference]["label"].to_numpy(),
                                         scores[candidate]["non_complaint_probability"].to_numpy(),
                                         scores[reference]["non_complaint_probability"].to_numpy(),
                                         compare.resamples, compare.seed)
    seed_variance = sum(fit["external_auc"]["std"] ** 2 / len(fit["seeds"]) for fit in fits.values())
    difference = fits[candidate]["external_auc"]["mean"] - fits[reference]["external_auc"]["mean"]
    se = (bootstrap["se"] ** 2 + seed_variance) ** 0.5
    return {"candidate": candidate, "reference": reference, "difference_of_seed_means": difference,
            "bootstrap_se": bootstrap["se"], "seed_variance": seed_variance, "se": se,
            "verdict": verdict({"difference": difference, "se": bootstrap["se"]}, seed_variance),
            "seeds": {name: fit["seeds"] for name, fit in fits.items()}}


def main(argv: list[str] | None = None) -> None:
    """Fit and score each seed of one recipe that is not measured yet, saving after each."""
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    models = load_models(ROOT / "params.yaml")
    known = recipes(models)
    arguments.add_argument("--recipe", choices=sorted(known),
                           help="a model of the models list trained on the training split (its refit follows)")
    arguments.add_argument("--seeds", type=int, nargs="+")
    arguments.add_argument("--no-refit", action="store_true", help="fit the training split only, not the refit")
    arguments.add_argument("--judge", nargs=2, metavar=("CANDIDATE", "REFERENCE"), choices=sorted(known),
                           help="judge two measured models by the rule counting training's noise, and save the verdict")
    args = arguments.parse_args(argv)
    if args.judge:
        results = load_results()
        comparison = judged(results, models, *args.judge)
        results.setdefault("comparisons", {})["_vs_".join(args.judge)] = comparison
        save(results)
        print(json.dumps(comparison, indent=2))
        return
    if not (args.recipe and args.seeds):
        arguments.error("--recipe and --seeds are required unless --judge is given")
    recipe = known[args.recipe]
    params_seed = yaml.safe_load((ROOT / "params.yaml").read_text())[recipe.section]["seed"]
    results = load_results()
    validation = read_parquet(ROOT / "data" / "split" / "val.parquet")
    external = read_parquet(ROOT / "data" / "external" / "tweets.parquet")
    entry = results["recipes"].setdefault(args.recipe, {"stages": [recipe.train, recipe.refit], "fits": {}})
    fits = {"train": recipe.train} | ({"refit": recipe.refit} if recipe.refit and not args.no_refit else {})
    for seed in args.seeds:
        train_folder = None
        for fit_name, stage in fits.items():
            per_seed = entry["fits"].setdefault(fit_name, {"per_seed": {}})["per_seed"]
            # The params seed is the pipeline's own run where the workspace has it (its time not measured here).
            folder = pipeline_model(stage) if seed == params_seed else None
            if str(seed) not in per_seed:
                seconds = None
                if folder is None:
                    folder, seconds = fit(stage, seed, fit_name, train_folder)
                per_seed[str(seed)] = measure(folder, seconds, validation, external, fit_name == "train")
                entry["fits"][fit_name] |= {"seeds": sorted(int(s) for s in per_seed)} | summary(per_seed)
                save(results)
                print(f"{args.recipe} {fit_name} seed {seed}: {per_seed[str(seed)]}", file=sys.stderr)
            train_folder = folder or seed_folder(stage, fit_name, seed)


if __name__ == "__main__":
    main()
