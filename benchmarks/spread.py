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
      python -m benchmarks.spread --recipe teacher --option warmup --seeds 42 1 2 \
          --set teacher_train.warmup_steps=26 --set teacher_train.weight_decay=0.01   # an option of a recipe
      python -m benchmarks.spread --judge teacher+warmup teacher
Each seed is saved as it finishes (benchmarks/results/spread.json, one entry per recipe with its seeds and CPU model;
an option's under `options`, as `recipe+option`, with its switches); a rerun skips the seeds already measured on this
CPU. An option trains the recipe's stage with a copy of params.yaml that has its switches (`--params`), and keeps
each seed's external scores for the bootstrap. `python -m benchmarks.report` shows them in the README and
docs/quality.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmarks.compare import RESULTS, ROOT, cpu_model, run_header
from benchmarks.options import pipeline_scores, verdict
from complaints.core.config import load_section
from complaints.core.io import read_json, read_parquet, read_probabilities, sha256_of, write_table
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


def fit(stage: str, seed: int, folder: Path, train_folder: Path | None,
        params: Path | None = None) -> tuple[Path, float]:
    """Run the stage's own command at `seed` into `folder` (with another params file for an option); the model
    folder and the seconds it took."""
    command, _ = stage_command(stage)
    overrides = ["--seed", str(seed), "--model", str(folder), "--live", str(folder.with_name(f"{folder.name}-live"))]
    if params is not None:
        overrides += ["--params", str(params)]
    if train_folder is not None:
        overrides += ["--epochs-from", str(train_folder / "training.json")]
    started = time.perf_counter()
    subprocess.run(shlex.split(command) + overrides, cwd=ROOT, check=True)
    return folder, time.perf_counter() - started


def pipeline_model(stage: str) -> Path | None:
    """The pipeline's own model of the stage in the workspace, if `dvc repro` made it."""
    folder = ROOT / stage_command(stage)[1]
    return folder if (folder / "training.json").is_file() else None


def measure(folder: Path, seconds: float | None, validation, external, on_validation: bool,
            scores: Path | None = None) -> dict:
    """One fitted model's figures: validation metrics (train fits), external AUC, epoch kept and weight digest; its
    external scores are written to `scores` where given."""
    predictor = Predictor.load(folder, BATCH_SIZE, engine="torch")
    probability = predictor.non_complaint_probability(external["text"].tolist())
    if scores is not None:
        write_table(pd.DataFrame({"id": external["id"], "label": external["label"],
                                  "non_complaint_probability": probability}), scores)
    figures = {"chosen_epoch": read_json(folder / "training.json")["chosen_epoch"],
               "seconds": seconds and round(seconds, 1), "weights_sha256": sha256_of(folder / "model.safetensors"),
               "external_auc": classification_metrics(external["label"].to_numpy(), probability)["auc"]}
    if on_validation:
        scored = classification_metrics(validation["label"].to_numpy(),
                                        predictor.non_complaint_probability(validation["text"].tolist()))
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


def save_entry(group: str, name: str, entry: dict) -> None:
    """Write one entry of spread.json atomically over the file as it is now, with this run's header: a judge run
    beside a training keeps both writes."""
    path = RESULTS / "spread.json"
    results = load_results()
    results.setdefault(group, {})[name] = entry
    staging = path.with_name(f"spread.json.{os.getpid()}.tmp")
    staging.write_text(json.dumps(results | run_header(), indent=2) + "\n")
    staging.replace(path)


OPTION_MARK = "+"
# A first round at one seed drops an option that loses to its recipe by more than this (issue 35).
FIRST_ROUND_DROP = 0.02


def option_switches(settings: list[str], params: dict, section: str) -> dict:
    """`--set SECTION.KEY=VALUE` switches as {dotted key: value}; each must be a key of the recipe's params section."""
    switches = {}
    for setting in settings:
        key, separator, value = setting.partition("=")
        prefix, _, name = key.partition(".")
        if not separator or prefix != section or name not in params[section]:
            raise SystemExit(f"--set {setting}: expected {section}.KEY=VALUE with KEY one of params.yaml's "
                             f"`{section}` keys ({', '.join(params[section])})")
        switches[key] = parsed_value(value)
    return switches


def parsed_value(text: str):
    """A switch's value as YAML 1.2 reads it (as DVC's `-S` does): PyYAML's 1.1 reads `2e-5` as a string."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def option_folder(name: str) -> Path:
    """An option's work folder: its params file, and each seed's model folder and external scores."""
    return WORK / "options" / name


def option_params(name: str, params: dict, switches: dict) -> Path:
    """A copy of params.yaml with an option's switches, in the option's work folder."""
    changed = {section: dict(values) for section, values in params.items()}
    for key, value in switches.items():
        section, name_in_section = key.split(".", 1)
        changed[section][name_in_section] = value
    path = option_folder(name) / "params.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(changed, sort_keys=False))
    return path


def option_scores(name: str, seed: int) -> Path:
    """Where an option's seed keeps its external scores."""
    return option_folder(name) / f"train-{seed}-external.csv"


def measured_fit(results: dict, name: str) -> dict:
    """A model's or an option's (`recipe+option`) train fit in the spread; an option at one seed borrows its
    recipe's seed spread."""
    recipe = name.split(OPTION_MARK)[0]
    group = results.get("options", {}) if OPTION_MARK in name else results["recipes"]
    if name not in group or recipe not in results["recipes"]:
        raise SystemExit(f"{name} has no spread yet: run `python -m benchmarks.spread --recipe {recipe}` first")
    fit = group[name]["fits"]["train"]
    if OPTION_MARK in name and len(fit["seeds"]) == 1:
        borrowed = results["recipes"][recipe]["fits"]["train"]["external_auc"]["std"]
        return fit | {"external_auc": fit["external_auc"] | {"std": borrowed}}
    return fit


def judged_scores(results: dict, models: dict[str, ModelEntry], name: str):
    """External scores for the bootstrap: a model's pipeline run, or its option's fit at the recipe's params seed
    (else its first seed)."""
    if OPTION_MARK not in name:
        return pipeline_scores(models[name])
    seeds = results["options"][name]["fits"]["train"]["seeds"]
    params_seed = results["options"][name]["params_seed"]
    return read_probabilities(option_scores(name, params_seed if params_seed in seeds else seeds[0]))


def judged(results: dict, models: dict[str, ModelEntry], candidate: str, reference: str) -> dict:
    """The rule counting training's noise on two train fits (models of the list, or options `recipe+option`): the
    difference of their seed means of external AUC, whose squared standard error is the paired bootstrap's (on one
    run of each) plus each side's seed variance over its seed count. An option at one seed that loses by more than
    FIRST_ROUND_DROP is dropped."""
    fits = {name: measured_fit(results, name) for name in (candidate, reference)}
    compare = load_section(ROOT / "params.yaml", "compare", CompareParams)
    scores = {name: judged_scores(results, models, name) for name in (candidate, reference)}
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
            "dropped": len(fits[candidate]["seeds"]) == 1 and difference < -FIRST_ROUND_DROP,
            "seeds": {name: fit["seeds"] for name, fit in fits.items()}}


def main(argv: list[str] | None = None) -> None:
    """Fit and score each seed of one recipe (or of one option of it) that is not measured yet, saving after each;
    or judge two measured fits."""
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    models = load_models(ROOT / "params.yaml")
    known = recipes(models)
    arguments.add_argument("--recipe", choices=sorted(known),
                           help="a model of the models list trained on the training split (its refit follows)")
    arguments.add_argument("--seeds", type=int, nargs="+")
    arguments.add_argument("--no-refit", action="store_true", help="fit the training split only, not the refit")
    arguments.add_argument("--option", help="name an option of the recipe (its train fit only), given by --set")
    arguments.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                           help="with --option: a switch of the recipe's params section (repeatable)")
    arguments.add_argument("--judge", nargs=2, metavar=("CANDIDATE", "REFERENCE"),
                           help="judge two measured models (or options, `recipe+option`) by the rule counting "
                                "training's noise, and save the verdict")
    args = arguments.parse_args(argv)
    if args.judge:
        results = load_results()
        comparison = judged(results, models, *args.judge)
        save_entry("comparisons", "_vs_".join(args.judge), comparison)
        print(json.dumps(comparison, indent=2))
        return
    if not (args.recipe and args.seeds):
        arguments.error("--recipe and --seeds are required unless --judge is given")
    if bool(args.option) != bool(args.set):
        arguments.error("--option and --set go together (an option is its switches)")
    recipe = known[args.recipe]
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params_seed = params[recipe.section]["seed"]
    results = load_results()
    validation = read_parquet(ROOT / "data" / "split" / "val.parquet")
    external = read_parquet(ROOT / "data" / "external" / "tweets.parquet")
    if args.option:
        name = f"{args.recipe}{OPTION_MARK}{args.option}"
        switches = option_switches(args.set, params, recipe.section)
        entry = results.setdefault("options", {}).setdefault(
            name, {"recipe": args.recipe, "switch": switches, "params_seed": params_seed, "fits": {}})
        if entry["switch"] != switches:
            raise SystemExit(f"{name} was measured with {entry['switch']}, not {switches}: name the new option anew")
        fit_option(entry, name, recipe.train, args.seeds, option_params(name, params, switches),
                   validation, external)
        return
    entry = results["recipes"].setdefault(args.recipe, {"fits": {}})
    stages = {"train": recipe.train} | ({"refit": recipe.refit} if recipe.refit else {})
    fits = {"train": recipe.train} if args.no_refit else stages
    entry["stages"] = {fit_name: stage for fit_name, stage in stages.items()
                       if fit_name in fits or fit_name in entry["fits"]}  # each fit measured, as named today
    for seed in args.seeds:
        train_folder = None
        for fit_name, stage in fits.items():
            per_seed = entry["fits"].setdefault(fit_name, {"per_seed": {}})["per_seed"]
            # The params seed is the pipeline's own run where the workspace has it (its time not measured here).
            folder = pipeline_model(stage) if seed == params_seed else None
            if str(seed) not in per_seed:
                seconds = None
                if folder is None:
                    folder, seconds = fit(stage, seed, seed_folder(stage, fit_name, seed), train_folder)
                per_seed[str(seed)] = measure(folder, seconds, validation, external, fit_name == "train")
                record("recipes", args.recipe, entry, fit_name, seed)
            train_folder = folder or seed_folder(stage, fit_name, seed)


def fit_option(entry: dict, name: str, stage: str, seeds: list[int], params: Path,
               validation, external) -> None:
    """Each seed of an option not measured yet: the recipe's train fit under the option's params, scored and saved."""
    measured = entry["fits"].setdefault("train", {"per_seed": {}})
    for seed in seeds:
        if str(seed) not in measured["per_seed"]:
            folder, seconds = fit(stage, seed, option_folder(name) / f"train-{seed}", None, params)
            measured["per_seed"][str(seed)] = measure(folder, seconds, validation, external, True,
                                                      option_scores(name, seed))
            record("options", name, entry, "train", seed)


def record(group: str, name: str, entry: dict, fit_name: str, seed: int) -> None:
    """Add a seed's figures to its fit's summary and save the entry."""
    measured = entry["fits"][fit_name]
    measured |= {"seeds": sorted(int(s) for s in measured["per_seed"])} | summary(measured["per_seed"])
    save_entry(group, name, entry)
    print(f"{name} {fit_name} seed {seed}: {measured['per_seed'][str(seed)]}", file=sys.stderr)


if __name__ == "__main__":
    main()
