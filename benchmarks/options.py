"""Recipe options judged on the external set by the rule fixed before looking.

Each recipe option is a `dvc exp` of `train@bert`, or with `--model student` / `--model teacher` of that stage (one
params switch, the same dev split and seed; the epoch kept is chosen on dev). Its model is fetched from the DVC cache
(`dvc get . models/<model> --rev <exp>`), scored on the external tweets and compared with the committed model's scores
on the same tweets (scores/external/<model>.csv, or scores/distill/ for the teacher's chain):
AUC difference with a paired bootstrap 95% interval and standard error. Ensembles against the single refit come from
`reports/external.json`: the committed refit + baseline, and each `--ensembles` experiment's (`seeds.refits`).
The rule: a difference smaller than two standard errors is not acted on, and the cheaper option wins a tie; the
standard errors count training's noise too (each recipe's seed spread, `python -m benchmarks.spread`), so an option
run at one seed must beat the default by more than the seed-to-seed change of the recipe.

Needs the pipeline's outputs (data/external, scores/) and the experiments in this repository's cache.
Run:  python -m benchmarks.options --round 2 layer-decay-0.8 pooling-cls self-training --ensembles refit-seeds
      python -m benchmarks.options --round 3 --model student temperature-1 alpha-0.9 teacher-mpnet labeled-only
Writes benchmarks/results/options-round{N}.json, and external.json (the committed run's comparisons the README's
goals need); `python -m benchmarks.report` puts the tables in docs/quality.md and the goals in the README.
`--comparisons-only` refreshes external.json alone, after `dvc repro distill/dvc.yaml`.
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import yaml
from sklearn.metrics import roc_auc_score

from benchmarks.compare import RESULTS, ROOT, run_header, save
from complaints.core.io import read_json, read_parquet, read_probabilities
from complaints.serving.predictor import Predictor
from complaints.evaluation.figures import auc_standard_error, bootstrap_auc_difference
from complaints.evaluation.external import ExternalParams
from complaints.evaluation.model_list import ModelEntry, load_models

RESAMPLES, SEED = 2000, 0
# The ensembles of the refit the external stage compares with the refit alone.
ENSEMBLES = {"refit_ensemble", "refit_seeds"}


def verdict(difference: dict, seed_variance: float = 0.0) -> str:
    """The rule: only a difference of at least two standard errors is acted on. The standard error combines the
    test set's noise (the paired bootstrap's `se`) with training's: `seed_variance` is the sum over both sides of
    each one's seed variance over its seed count (its spread, benchmarks/results/spread.json)."""
    if abs(difference["difference"]) < 2 * (difference["se"] ** 2 + seed_variance) ** 0.5:
        return "tie"
    return "better" if difference["difference"] > 0 else "worse"


def training_noise(model: str, seeds: tuple[int, int] = (1, 1)) -> float | None:
    """The seed variance of a difference between two options of `model`'s recipe run at `seeds` seeds each: the
    recipe's external-AUC seed variance (its train fit's spread) over each side's seed count; None if unmeasured."""
    path = RESULTS / "spread.json"
    recipe = read_json(path)["recipes"].get(model, {}) if path.exists() else {}
    figure = recipe.get("fits", {}).get("train", {}).get("external_auc")
    if figure is None or len(recipe["fits"]["train"]["seeds"]) < 2:
        return None
    return sum(figure["std"] ** 2 / count for count in seeds)


# The params section each model's recipe comes from (training.json records it as `train`); a student's also records
# its `distill` section.
RECIPE_SECTIONS = {"bert": "train", "student": "train", "teacher": "teacher_train"}
# What a student's training.json records in its `distill` section besides the params.
DISTILL_COUNTS = {("distill", "labeled_tweets"), ("distill", "unlabeled_tweets")}


def pipeline_scores(entry: ModelEntry):
    """The external-set scores (`id, label, non_complaint_probability`) of the pipeline's own run of a model."""
    folder = "external" if entry.pipeline == "dvc.yaml" else "distill"
    return read_probabilities(ROOT / "scores" / folder / f"{entry.name}.csv")


def switches(training: dict, default: dict, recipe_section: str = "train") -> dict:
    """The dotted recipe (and `distill`) params an experiment changed against the default."""
    return {f"{prefix}.{key}": value for section, prefix in (("train", recipe_section), ("distill", "distill"))
            for key, value in training.get(section, {}).items()
            if key in default.get(section, {}) and (section, key) not in DISTILL_COUNTS
            and default[section][key] != value}


def fetched(path: str, experiment: str, destination: Path) -> Path:
    """A file or folder of the project as the experiment left it (from Git or the DVC cache)."""
    subprocess.run(["dvc", "get", ".", path, "--rev", experiment, "-o", str(destination)], cwd=ROOT, check=True,
                   capture_output=True)
    return destination


def changed_params(params: dict, default: dict, prefix: str = "") -> dict:
    """Dotted params keys whose values differ from the default's."""
    changed = {}
    for key, value in params.items():
        if isinstance(value, dict) and isinstance(default.get(key), dict):
            changed |= changed_params(value, default[key], f"{prefix}{key}.")
        elif default.get(key) != value:
            changed[f"{prefix}{key}"] = value
    return changed


def ensemble_entries(experiment: str, metrics: dict, switch: dict) -> list[dict]:
    """Every ensemble the external stage compared with the single refit."""
    compare = metrics["compare"]
    entries = []
    for candidate in sorted({key.split("_vs_refit_")[0] for key in compare if "_vs_refit_" in key} & ENSEMBLES):
        if candidate not in metrics:
            continue
        difference = {key: compare[f"{candidate}_vs_refit_{key}"] for key in ("difference", "ci_low", "ci_high", "se")}
        entries.append({"experiment": experiment, "candidate": candidate, "switch": switch,
                        "external_auc": metrics[candidate]["auc"], "external_auc_se": metrics[candidate]["auc_se"],
                        "refit_external_auc": metrics["refit"]["auc"], "vs_refit": difference,
                        "verdict": verdict(difference)})
    return entries


def committed_comparisons(report: dict, share: dict) -> dict:
    """What the README's goals need of the committed run of the teacher's chain (reports/ and models/ are not in
    git): the student against its teacher, the student's refit against the default's refit, and the teacher's share
    swept and chosen (reports/external_distill.json, models/bert_teacher.json)."""
    compare = report["compare"]
    pairs = {pair: {key: compare[f"{pair}_{key}"] for key in ("difference", "ci_low", "ci_high", "se")}
             for pair in ("student_vs_bert_teacher", "student_full_vs_bert_full")}
    weight = share | {"verdict": verdict({key: share[f"best_vs_average_{key}"] for key in ("difference", "se")})}
    return run_header() | {"teacher_weight": weight, "comparisons": pairs}


def judge(name: str, folder: Path, tweets, reference, default_training: dict, batch_size: int,
          recipe_section: str) -> dict:
    """One option's model against the default on the external tweets."""
    training = read_json(folder / "training.json")
    probability = Predictor.load(folder, batch_size).non_complaint_probability(tweets["text"].tolist())
    labels = tweets["label"].to_numpy()
    difference = bootstrap_auc_difference(labels, probability, reference, RESAMPLES, SEED)
    return {"experiment": name, "switch": switches(training, default_training, recipe_section), "chosen_epoch": training["chosen_epoch"],
            "dev_auc": max(epoch["dev_auc"] for epoch in training["history"]),
            "external_auc": float(roc_auc_score(labels, probability)),
            "external_auc_se": auc_standard_error(labels, probability),
            "vs_default": difference, "verdict": verdict(difference)}


def main(argv: list[str] | None = None) -> None:
    """Fetch, score and judge every experiment named."""
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--round", type=int, help="the round of options (names the results file)")
    arguments.add_argument("--comparisons-only", action="store_true",
                           help="only refresh external.json from the committed run (after `dvc repro distill/dvc.yaml`)")
    arguments.add_argument("--model", default="bert", choices=sorted(RECIPE_SECTIONS),
                           help="the model folder the experiments changed (models/<model>)")
    arguments.add_argument("experiments", nargs="*", help="experiments of train@bert (or of the student stage)")
    arguments.add_argument("--ensembles", nargs="*", default=[], help="experiments of seeds.refits (refit_seeds)")
    args = arguments.parse_args(argv)
    if args.comparisons_only:
        save(committed_comparisons(read_json(ROOT / "reports" / "external_distill.json"),
                                   read_json(ROOT / "models" / "bert_teacher.json")), "external")
        return
    if args.round is None:
        arguments.error("--round is required unless --comparisons-only")
    tweets = read_parquet(ROOT / "data" / "external" / "tweets.parquet")
    entry = load_models(ROOT / "params.yaml")[args.model]
    reference = pipeline_scores(entry)
    if reference["id"].tolist() != tweets["id"].tolist():
        raise SystemExit(f"the pipeline's external scores of {args.model} are not for data/external/tweets.parquet: "
                         f"run `dvc repro {entry.pipeline}`")
    default_training = read_json(ROOT / "models" / args.model / "training.json")
    batch_size = ExternalParams().batch_size
    metrics = read_json(ROOT / "reports" / "external.json")
    default_metrics = metrics if entry.pipeline == "dvc.yaml" else read_json(ROOT / "reports" / "external_distill.json")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    options, ensembles = [], ensemble_entries("(committed)", metrics, {}) if args.model == "bert" else []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.experiments:
            folder = fetched(f"models/{args.model}", name, Path(scratch) / name)
            options.append(judge(name, folder, tweets, reference["non_complaint_probability"].to_numpy(), default_training,
                                 batch_size, RECIPE_SECTIONS[args.model]))
            option = options[-1]
            print(f"{name}: {option['switch']} external AUC {option['external_auc']:.4f}, vs default "
                  f"{option['vs_default']['difference']:+.4f} (SE {option['vs_default']['se']:.4f}): {option['verdict']}")
        for name in args.ensembles:
            switch = changed_params(yaml.safe_load(fetched("params.yaml", name, Path(scratch) / f"{name}.yaml").read_text()),
                                    params)
            measured = read_json(fetched("reports/external.json", name, Path(scratch) / f"{name}.json"))
            # Only the ensembles the committed run does not have (the committed ones are listed once, above).
            ensembles += [entry for entry in ensemble_entries(name, measured, switch) if entry["candidate"] not in metrics]
    for entry in ensembles:
        print(f"{entry['candidate']} ({entry['experiment']}): external AUC {entry['external_auc']:.4f}, vs refit "
              f"{entry['vs_refit']['difference']:+.4f} (SE {entry['vs_refit']['se']:.4f}): {entry['verdict']}")
    save(committed_comparisons(read_json(ROOT / "reports" / "external_distill.json"),
                               read_json(ROOT / "models" / "bert_teacher.json")), "external")
    save(run_header() | {"round": args.round, "model": args.model, "default_epochs": default_training["train"]["epochs"],
                         "default_distill": default_training.get("distill"),
                         "default_external_auc": default_metrics[args.model]["auc"], "options": options,
                         "ensembles": ensembles},
         f"options-round{args.round}")


if __name__ == "__main__":
    main()
