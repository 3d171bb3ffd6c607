"""Score every model the pipeline trains on the external labeled set, which none of them trained on.

Models: the baseline, the tutorial's recipe, the default recipe (models/bert) and its refit (models/bert_full), the
teacher (models/teacher) and its weighted average with the default recipe (`bert_teacher`, the teacher's share from
params `bert_teacher`), the distilled student and its refit (models/student, models/student_full), the serving folder
that makes the test predictions (`serving`, with `predict.engine`), the default's and the refit's ensembles with the
baseline (the combination the ensemble stage fitted, models/ensemble.json), and, when `seeds.fits` holds `refit`, the
refit averaged with the seed stage's refits (`refit_seeds`). A model the pipeline skipped (the first look without the
teacher: complaints.core.skipping) is left out, with every figure that needs it.
Per model: the validation metrics' keys, the AUC's standard error, calibration error, the same at the serving folder's
threshold, AUC per airline and per negative reason. Pairs of models: AUC difference with a paired bootstrap interval
and standard error. The teacher's share in `bert_teacher`: the AUC at each share from 0 to 1, and the best share
against the plain average.

Reads: data/external/tweets.parquet, models/{baseline.joblib,tutorial,bert,bert_full,teacher,student,student_full,
serving,ensemble.json}, models/seeds, params `external`, `predict.engine`, `compare`, `seeds`, `bert_teacher`.
Writes: metrics/external/{model}.json (AUC, its standard error, accuracy and F1), reports/external.json (every figure,
the comparisons, the teacher's share), plots/external/{model}/{roc,calibration,slices,probabilities}.csv,
plots/external/teacher_weight.csv
Run:   python -m stages.external --tweets data/external/tweets.parquet --baseline models/baseline.joblib \
           --tutorial models/tutorial --bert models/bert --refit models/bert_full --teacher models/teacher \
           --student models/student --student-refit models/student_full --serving models/serving \
           --ensemble models/ensemble.json --seeds models/seeds --metrics metrics/external \
           --report reports/external.json --plots plots/external
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from complaints.core import stage
from complaints.core.machine import pin_threads
from complaints.evaluation.analysis import reliability_curve
from complaints.baseline.tfidf import load_baseline
from complaints.core.config import load_section
from complaints.core.averaging import mean_probability
from complaints.evaluation.ensemble import EncoderEnsembleParams, best_teacher_weight, read_combination, teacher_weight_sweep
from complaints.core.io import DataError, atomic_dir, read_parquet, write_json, write_table
from complaints.serving.labeling import PredictParams
from complaints.serving.modelfolder import folder_threshold
from complaints.serving.predictor import Predictor
from complaints.evaluation.figures import HEADLINE, CompareParams, bootstrap_auc_difference, roc_points
from complaints.evaluation.external import ExternalParams, external_metrics, slice_rows
from complaints.evaluation.seeds import SeedsParams, seed_folder
from complaints.core.skipping import skipped_reason

logger = logging.getLogger(__name__)

COMPARISONS = (("refit", "bert"), ("refit", "tutorial"), ("refit", "baseline"), ("bert", "tutorial"),
               ("bert", "baseline"), ("ensemble", "bert"), ("refit_ensemble", "refit"), ("refit_seeds", "refit"),
               ("teacher", "bert"), ("bert_teacher", "bert"), ("bert_teacher", "refit"), ("student", "bert"),
               ("student", "bert_teacher"), ("student_refit", "refit"), ("student_refit", "bert_teacher"), ("bert_teacher", "student_refit"),
               ("serving", "refit"))
EXTERNAL_HEADLINE = (*HEADLINE, "auc_se")


def main(argv: Sequence[str] | None = None) -> None:
    """Score, measure and compare every model on the external tweets."""
    arguments = stage.parser(__doc__)
    for option in ("--tweets", "--baseline", "--tutorial", "--bert", "--refit", "--teacher", "--student",
                   "--student-refit", "--serving", "--ensemble", "--seeds", "--metrics", "--report", "--plots"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "external", ExternalParams)
    engine = load_section(args.params, "predict", PredictParams).engine
    bootstrap = load_section(args.params, "compare", CompareParams)
    refit_seeds = load_section(args.params, "seeds", SeedsParams).refit_seeds()
    encoders = load_section(args.params, "bert_teacher", EncoderEnsembleParams)

    tweets = read_parquet(args.tweets)
    texts, labels = tweets["text"].tolist(), tweets["label"].to_numpy()
    if np.unique(labels).size < 2:
        raise DataError(f"{args.tweets}: every label is {labels[0]}; an AUC needs external tweets of both classes")
    probability = {"baseline": load_baseline(args.baseline).predict_proba(texts)[:, 1]}
    for name, folder, folder_engine in (("tutorial", args.tutorial, "torch"), ("bert", args.bert, "torch"),
                                        ("refit", args.refit, "torch"), ("teacher", args.teacher, "torch"),
                                        ("student", args.student, "torch"), ("student_refit", args.student_refit, "torch"),
                                        ("serving", args.serving, engine)):
        if (reason := skipped_reason(folder)) is not None:
            logger.info("%s: left out (%s)", name, reason)
            continue
        probability[name] = Predictor.load(folder, params.batch_size, engine=folder_engine).non_complaint_probability(texts)
    if "teacher" in probability:
        probability["bert_teacher"] = mean_probability([probability["bert"], probability["teacher"]], encoders.weights())
    combination = read_combination(args.ensemble)
    probability["ensemble"] = combination.non_complaint_probability(probability["bert"], probability["baseline"])
    probability["refit_ensemble"] = combination.non_complaint_probability(probability["refit"], probability["baseline"])
    if refit_seeds:
        members = [Predictor.load(seed_folder(args.seeds, "refit", seed), params.batch_size).non_complaint_probability(texts)
                   for seed in refit_seeds]
        probability["refit_seeds"] = mean_probability([probability["refit"], *members])

    threshold = folder_threshold(args.serving).value
    metrics = {name: external_metrics(tweets, model_probability, threshold) for name, model_probability in probability.items()}
    for name, model in metrics.items():
        logger.info("%s: AUC %.4f (SE %.4f), accuracy %.2f%%, calibration error %.3f", name, model["auc"], model["auc_se"],
                    100 * model["accuracy"], model["calibration_error"])
    metrics["compare"] = {}
    for candidate, reference in (pair for pair in COMPARISONS if set(pair) <= set(probability)):
        difference = bootstrap_auc_difference(labels, probability[candidate], probability[reference],
                                              bootstrap.resamples, bootstrap.seed)
        metrics["compare"] |= {f"{candidate}_vs_{reference}_{key}": value for key, value in difference.items()}
        logger.info("%s - %s: AUC %+.4f (95%% CI %+.4f to %+.4f, SE %.4f)", candidate, reference, *difference.values())

    sweep = None
    if "teacher" in probability:
        sweep = teacher_weight_sweep(labels, probability["bert"], probability["teacher"])
        metrics["teacher_weight"] = best_teacher_weight(labels, probability["bert"], probability["teacher"], sweep,
                                                        bootstrap) | {"params": encoders.teacher_weight}
        logger.info("teacher's share in bert_teacher: best %.1f on the external set (AUC %.4f), %+.4f against the "
                    "average", metrics["teacher_weight"]["best"], metrics["teacher_weight"]["best_auc"],
                    metrics["teacher_weight"]["best_vs_average_difference"])

    with atomic_dir(args.plots) as staging:
        if sweep is not None:
            write_table(sweep, staging / "teacher_weight.csv")
        for name, model_probability in probability.items():
            (staging / name).mkdir()
            write_table(roc_points(labels, model_probability), staging / name / "roc.csv")
            write_table(reliability_curve(labels, model_probability), staging / name / "calibration.csv")
            write_table(slice_rows(metrics[name]), staging / name / "slices.csv")
            write_table(tweets[["id", "label"]].assign(non_complaint_probability=model_probability), staging / name / "probabilities.csv")
    with atomic_dir(args.metrics) as staging:
        for name in probability:
            write_json({key: metrics[name][key] for key in EXTERNAL_HEADLINE}, staging / f"{name}.json")
    write_json(metrics, args.report)


if __name__ == "__main__":
    stage.run(main, setup=pin_threads)
