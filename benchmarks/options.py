"""Recipe options judged on the external set by the rule fixed before looking.

Each option is a `dvc exp` of `train@bert` (one params switch, the same dev split and seed; the epoch kept is chosen
on dev). Its model is fetched from the DVC cache (`dvc get . models/bert --rev <exp>`), scored on the external tweets
and compared with the committed default's scores on the same tweets (plots/external/bert/probabilities.csv): AUC
difference with a paired bootstrap 95% interval and standard error. The rule: a difference smaller than two standard
errors is not acted on, and the cheaper option wins a tie.

Needs the pipeline's outputs (data/external, plots/external) and the experiments in this repository's cache.
Run:  python -m benchmarks.options lr-3e-5 lr-1e-4 epochs-3 warmup-50 wd-0.01 pooling-cls   # ~1 min each on 2 cores
Writes benchmarks/results/options.json; `python -m benchmarks.report` puts the table in README.md.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from sklearn.metrics import roc_auc_score

from benchmarks.compare import ROOT, run_header, save
from complaints.io import read_json, read_parquet, read_probabilities
from complaints.predictor import Predictor
from complaints.reporting import auc_standard_error, bootstrap_auc_difference
from complaints.transfer import ExternalParams

RESAMPLES, SEED = 2000, 0


def verdict(difference: dict) -> str:
    """The rule: only a difference of at least two standard errors is acted on."""
    if abs(difference["difference"]) < 2 * difference["se"]:
        return "tie"
    return "better" if difference["difference"] > 0 else "worse"


def switches(training: dict, default: dict) -> dict:
    """The `train` params an experiment changed against the default."""
    return {key: value for key, value in training["train"].items() if default["train"].get(key) != value}


def judge(name: str, folder: Path, tweets, reference, default_training: dict, batch_size: int) -> dict:
    """One option's model against the default on the external tweets."""
    training = read_json(folder / "training.json")
    probability = Predictor.load(folder, batch_size).non_complaint_probability(tweets["text"].tolist())
    labels = tweets["label"].to_numpy()
    difference = bootstrap_auc_difference(labels, probability, reference, RESAMPLES, SEED)
    return {"experiment": name, "switch": switches(training, default_training), "chosen_epoch": training["chosen_epoch"],
            "dev_auc": max(epoch["dev_auc"] for epoch in training["history"]),
            "external_auc": float(roc_auc_score(labels, probability)),
            "external_auc_se": auc_standard_error(labels, probability),
            "vs_default": difference, "verdict": verdict(difference)}


def main(argv: list[str] | None = None) -> None:
    """Fetch, score and judge every experiment named."""
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("experiments", nargs="+")
    args = arguments.parse_args(argv)
    tweets = read_parquet(ROOT / "data" / "external" / "tweets.parquet")
    reference = read_probabilities(ROOT / "plots" / "external" / "bert" / "probabilities.csv")
    if reference["id"].tolist() != tweets["id"].tolist():
        raise SystemExit("plots/external/bert/probabilities.csv is not for data/external/tweets.parquet: run `dvc repro`")
    default_training = read_json(ROOT / "models" / "bert" / "training.json")
    batch_size = ExternalParams().batch_size
    options = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.experiments:
            folder = Path(scratch) / name
            subprocess.run(["dvc", "get", ".", "models/bert", "--rev", name, "-o", str(folder)], cwd=ROOT, check=True,
                           capture_output=True)
            options.append(judge(name, folder, tweets, reference["probability"].to_numpy(), default_training, batch_size))
            option = options[-1]
            print(f"{name}: {option['switch']} external AUC {option['external_auc']:.4f}, vs default "
                  f"{option['vs_default']['difference']:+.4f} (SE {option['vs_default']['se']:.4f}): {option['verdict']}")
    metrics = json.loads((ROOT / "metrics" / "external.json").read_text())
    save(run_header() | {"default_external_auc": metrics["bert"]["auc"], "options": options}, "options")


if __name__ == "__main__":
    main()
