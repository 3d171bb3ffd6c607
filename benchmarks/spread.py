"""The training spread of every recipe that ships or teaches: the same stage at several seeds, nothing else changed.

Each recipe is the pipeline's own stage (its `cmd` read from dvc.yaml) run again with `--seed N` and its own output
folders under benchmarks/work/spread (argparse keeps the last value of a repeated option); the recipe's params seed
is the pipeline's own run where the workspace has its model, else run like the others. A train fit is scored on
validation and on the external set, a refit (trained on validation too) on the external set only. A student's seeds share the pipeline's teacher targets.

Run:  python -m benchmarks.spread --recipe bert --seeds 42 1 2 3 4
      python -m benchmarks.spread --recipe teacher --seeds 42 1 2
      python -m benchmarks.spread --recipe student --seeds 42 1 2
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
from complaints.core.io import read_json, read_parquet, sha256_of
from complaints.core.metrics import classification_metrics
from complaints.serving.predictor import Predictor

WORK = ROOT / "benchmarks" / "work" / "spread"
BATCH_SIZE = 128


@dataclass(frozen=True)
class Recipe:
    """The pipeline stages that fit one recipe on the training split and, where it has one, on all labeled tweets."""

    train: str
    refit: str | None
    section: str


RECIPES = {"bert": Recipe("train@bert", "refit@bert_full", "train"),
           "teacher": Recipe("distill/dvc.yaml:train@teacher", None, "teacher_train"),
           "student": Recipe("distill/dvc.yaml:student@student", "distill/dvc.yaml:student_refit@student_full", "train")}


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


def main(argv: list[str] | None = None) -> None:
    """Fit and score each seed of one recipe that is not measured yet, saving after each."""
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--recipe", choices=sorted(RECIPES), required=True)
    arguments.add_argument("--seeds", type=int, nargs="+", required=True)
    args = arguments.parse_args(argv)
    recipe = RECIPES[args.recipe]
    params_seed = yaml.safe_load((ROOT / "params.yaml").read_text())[recipe.section]["seed"]
    results = load_results()
    validation = read_parquet(ROOT / "data" / "split" / "val.parquet")
    external = read_parquet(ROOT / "data" / "external" / "tweets.parquet")
    entry = results["recipes"].setdefault(args.recipe, {"stages": [recipe.train, recipe.refit], "fits": {}})
    fits = {"train": recipe.train} | ({"refit": recipe.refit} if recipe.refit else {})
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
