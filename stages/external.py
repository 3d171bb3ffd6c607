"""Score every model the pipeline trains on the external labeled set, which none of them trained on.

Models: the baseline, the tutorial's recipe, the default recipe (models/bert), the refit model that makes the test
predictions (models/serving, with `predict.engine`), the default's and the refit's ensembles with the baseline
(`ensemble.method`, fitted on dev as the ensemble stage does), and, when `seeds.refits` > 0, the refit averaged with
the extra refits of refit_seeds. Per model: the validation metrics' keys, the AUC's standard error, calibration error, the same
at the pipeline's threshold, AUC per airline and per negative reason. Pairs of models: AUC difference with a paired
bootstrap interval and standard error.

Reads: data/external/tweets.parquet, models/{baseline.joblib,tutorial,bert,serving}, models/bert/dev_probabilities.csv,
data/baseline_oof.csv, data/refit_seeds, metrics/threshold.json, params `external`, `predict`, `ensemble`, `compare`.
Writes: metrics/external.json, plots/external/{model}/{roc,calibration,slices,probabilities}.csv
Run:   python -m stages.external --tweets data/external/tweets.parquet --baseline models/baseline.joblib \
           --tutorial models/tutorial --bert models/bert --serving models/serving \
           --bert-dev models/bert/dev_probabilities.csv --baseline-oof data/baseline_oof.csv \
           --refit-seeds data/refit_seeds --threshold metrics/threshold.json --metrics metrics/external.json --plots plots/external
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from complaints import cli
from complaints.analysis import reliability_curve
from complaints.baseline import load_baseline
from complaints.config import load_section
from complaints.ensemble import EnsembleParams, combine, fitted_stacker, paired
from complaints.io import DataError, atomic_dir, read_json, read_parquet, write_json, write_table
from complaints.prediction import PredictParams
from complaints.predictor import Predictor
from complaints.reporting import CompareParams, bootstrap_auc_difference, roc_points
from complaints.transfer import ExternalParams, external_metrics, seed_ensemble, slice_table

logger = logging.getLogger(__name__)

COMPARISONS = (("refit", "bert"), ("refit", "tutorial"), ("refit", "baseline"), ("bert", "tutorial"),
               ("bert", "baseline"), ("ensemble", "bert"), ("refit_ensemble", "refit"), ("refit_seeds", "refit"))


def main(argv: Sequence[str] | None = None) -> None:
    """Score, measure and compare every model on the external tweets."""
    arguments = cli.parser(__doc__)
    for option in ("--tweets", "--baseline", "--tutorial", "--bert", "--serving", "--bert-dev", "--baseline-oof",
                   "--refit-seeds", "--threshold", "--metrics", "--plots"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "external", ExternalParams)
    engine = load_section(args.params, "predict", PredictParams).engine
    ensemble = load_section(args.params, "ensemble", EnsembleParams)
    bootstrap = load_section(args.params, "compare", CompareParams)

    tweets = read_parquet(args.tweets)
    texts, labels = tweets["text"].tolist(), tweets["label"].to_numpy()
    if np.unique(labels).size < 2:
        raise DataError(f"{args.tweets}: every label is {labels[0]}; an AUC needs external tweets of both classes")
    probability = {"baseline": load_baseline(args.baseline).predict_proba(texts)[:, 1]}
    for name, folder, folder_engine in (("tutorial", args.tutorial, "torch"), ("bert", args.bert, "torch"),
                                        ("refit", args.serving, engine)):
        probability[name] = Predictor.load(folder, params.batch_size, engine=folder_engine).non_complaint_probability(texts)
    stacker = fitted_stacker(ensemble.method, paired(args.bert_dev, args.baseline_oof))
    probability["ensemble"] = combine(ensemble.method, probability["bert"], probability["baseline"], stacker)
    probability["refit_ensemble"] = combine(ensemble.method, probability["refit"], probability["baseline"], stacker)
    refit_seeds = seed_ensemble(args.refit_seeds, tweets["id"].to_numpy(), probability["refit"])
    if refit_seeds is not None:
        probability["refit_seeds"] = refit_seeds

    threshold = read_json(args.threshold)["threshold"]
    metrics = {name: external_metrics(tweets, model_probability, threshold) for name, model_probability in probability.items()}
    for name, model in metrics.items():
        logger.info("%s: AUC %.4f (SE %.4f), accuracy %.2f%%, calibration error %.3f", name, model["auc"], model["auc_se"],
                    100 * model["accuracy"], model["calibration_error"])
    metrics["compare"] = {}
    for candidate, reference in (pair for pair in COMPARISONS if pair[0] in probability):
        difference = bootstrap_auc_difference(labels, probability[candidate], probability[reference],
                                              bootstrap.resamples, bootstrap.seed)
        metrics["compare"] |= {f"{candidate}_vs_{reference}_{key}": value for key, value in difference.items()}
        logger.info("%s - %s: AUC %+.4f (95%% CI %+.4f to %+.4f, SE %.4f)", candidate, reference, *difference.values())

    with atomic_dir(args.plots) as staging:
        for name, model_probability in probability.items():
            (staging / name).mkdir()
            write_table(roc_points(labels, model_probability), staging / name / "roc.csv")
            write_table(reliability_curve(labels, model_probability), staging / name / "calibration.csv")
            write_table(slice_table(metrics[name]), staging / name / "slices.csv")
            write_table(tweets[["id", "label"]].assign(probability=model_probability), staging / name / "probabilities.csv")
    write_json(metrics, args.metrics)


if __name__ == "__main__":
    cli.run(main)
