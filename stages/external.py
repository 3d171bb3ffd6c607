"""Measure and compare a pipeline's models on the external labeled set, which none of them trained on.

Models: each model of the models-list groups named by --groups, from the external scores of its score_external stage
(the first --scores folder holding `{name}.csv`). With --baseline, --ensemble and --seeds (dvc.yaml): the baseline,
the default's and the refit's ensembles with it (the combination the ensemble stage fitted), and, when `seeds.fits`
holds `refit`, the refit averaged with the seed stage's refits (`refit_seeds`); with --score-serving, the serving folder
that makes the test predictions (with `predict.engine`). With --share (distill/dvc.yaml): `bert_teacher`, the default
recipe and the teacher averaged with the teacher_share stage's choice. Every figure uses the serving folder's
threshold.
Per model: the validation metrics' keys, the AUC's standard error, calibration error, the same at the serving folder's
threshold, AUC per airline and per negative reason. Pairs of models (COMPARISONS, those present): AUC difference with
a paired bootstrap interval and standard error.

Reads: data/external/tweets.parquet, the scores folders, params `models`, `external`, `predict.engine`, `compare`,
`seeds`; the files named above.
Writes: {metrics}/{model}.json (AUC, its standard error, accuracy and F1), the report (every figure and the
comparisons), {plots}/{model}/{roc,calibration,slices,probabilities}.csv
Run:   python -m stages.external --tweets data/external/tweets.parquet --scores scores/external --groups fits refits \
           --baseline models/baseline.joblib --ensemble models/ensemble.json --seeds models/seeds \
           --serving models/serving --score-serving --metrics metrics/external --report reports/external.json \
           --plots plots/external
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from complaints.baseline.tfidf import load_baseline
from complaints.core import stage
from complaints.core.averaging import mean_probability
from complaints.core.config import load_section
from complaints.core.io import DataError, atomic_dir, read_parquet, write_json, write_table
from complaints.core.machine import pin_threads
from complaints.evaluation.analysis import reliability_curve
from complaints.evaluation.ensemble import read_combination, teacher_share_weights
from complaints.evaluation.external import ExternalParams, aligned_scores, external_metrics, slice_rows
from complaints.evaluation.figures import HEADLINE, CompareParams, bootstrap_auc_difference, roc_points
from complaints.evaluation.model_list import GROUPS, group_names, load_models
from complaints.evaluation.seeds import SeedsParams, seed_folder
from complaints.serving.labeling import PredictParams
from complaints.serving.modelfolder import folder_threshold
from complaints.serving.predictor import Predictor

logger = logging.getLogger(__name__)

# Candidate and reference: compared wherever both are measured (a reference may come from the other pipeline's scores).
COMPARISONS = (("bert_full", "bert"), ("bert_full", "tutorial"), ("bert_full", "baseline"), ("bert", "tutorial"),
               ("bert", "baseline"), ("ensemble", "bert"), ("refit_ensemble", "bert_full"), ("refit_seeds", "bert_full"),
               ("teacher", "bert"), ("bert_teacher", "bert"), ("bert_teacher", "bert_full"), ("student", "bert"),
               ("student", "bert_teacher"), ("student_full", "bert_full"), ("student_full", "bert_teacher"),
               ("student_3_layers", "student"), ("student_3_layers_full", "student_full"),
               ("bert_teacher", "student_full"), ("serving", "bert_full"))
EXTERNAL_HEADLINE = (*HEADLINE, "auc_se")


def scores_file(folders: Sequence[Path], name: str) -> Path | None:
    """The first scores folder's file for the model, if any holds one."""
    return next((folder / f"{name}.csv" for folder in folders if (folder / f"{name}.csv").is_file()), None)


def main(argv: Sequence[str] | None = None) -> None:
    """Measure, compare and write every model's figures on the external tweets."""
    arguments = stage.parser(__doc__)
    arguments.add_argument("--tweets", type=Path, required=True)
    arguments.add_argument("--scores", type=Path, nargs="+", required=True, help="score_external folders, in order")
    arguments.add_argument("--groups", nargs="+", choices=sorted(GROUPS), required=True, help="models-list groups")
    for option in ("--baseline", "--ensemble", "--seeds", "--share"):
        arguments.add_argument(option, type=Path)
    arguments.add_argument("--serving", type=Path, required=True, help="the serving folder (its threshold)")
    arguments.add_argument("--score-serving", action="store_true", help="also measure the serving folder")
    for option in ("--metrics", "--report", "--plots"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "external", ExternalParams)
    bootstrap = load_section(args.params, "compare", CompareParams)
    names = group_names(load_models(args.params), args.groups)

    tweets = read_parquet(args.tweets)
    texts, labels = tweets["text"].tolist(), tweets["label"].to_numpy()
    if np.unique(labels).size < 2:
        raise DataError(f"{args.tweets}: every label is {labels[0]}; an AUC needs external tweets of both classes")
    probability = {}
    for name in names:
        path = scores_file(args.scores, name)
        if path is None:
            raise DataError(f"no external scores of model '{name}' in {', '.join(map(str, args.scores))}; run its "
                            f"score_external stage")
        probability[name] = aligned_scores(path, tweets)
    # References from the other pipeline's scores (the default recipe for the teacher's chain), compared, not reported.
    references = {name: aligned_scores(path, tweets) for name in ("bert", "bert_full")
                  if name not in probability and (path := scores_file(args.scores, name)) is not None}
    if args.share is not None:
        bert, teacher = probability.get("bert", references.get("bert")), probability.get("teacher")
        if bert is None or teacher is None:
            raise DataError(f"{args.share}: bert_teacher needs the external scores of `bert` and `teacher`")
        probability["bert_teacher"] = mean_probability([bert, teacher], teacher_share_weights(args.share))
    if args.baseline is not None:
        probability["baseline"] = load_baseline(args.baseline).predict_proba(texts)[:, 1]
    if args.ensemble is not None:
        combination = read_combination(args.ensemble)
        probability["ensemble"] = combination.non_complaint_probability(probability["bert"], probability["baseline"])
        probability["refit_ensemble"] = combination.non_complaint_probability(probability["bert_full"],
                                                                              probability["baseline"])
    if args.seeds is not None and (refit_seeds := load_section(args.params, "seeds", SeedsParams).refit_seeds()):
        members = [Predictor.load(seed_folder(args.seeds, "refit", seed), params.batch_size).non_complaint_probability(texts)
                   for seed in refit_seeds]
        probability["refit_seeds"] = mean_probability([probability["bert_full"], *members])
    if args.score_serving:
        engine = load_section(args.params, "predict", PredictParams).engine
        probability["serving"] = Predictor.load(args.serving, params.batch_size, engine=engine).non_complaint_probability(texts)

    threshold = folder_threshold(args.serving).value
    metrics = {name: external_metrics(tweets, model_probability, threshold) for name, model_probability in probability.items()}
    for name, model in metrics.items():
        logger.info("%s: AUC %.4f (SE %.4f), accuracy %.2f%%, calibration error %.3f", name, model["auc"], model["auc_se"],
                    100 * model["accuracy"], model["calibration_error"])
    compared = probability | references
    metrics["compare"] = {}
    for candidate, reference in (pair for pair in COMPARISONS if pair[0] in probability and pair[1] in compared):
        difference = bootstrap_auc_difference(labels, compared[candidate], compared[reference],
                                              bootstrap.resamples, bootstrap.seed)
        metrics["compare"] |= {f"{candidate}_vs_{reference}_{key}": value for key, value in difference.items()}
        logger.info("%s - %s: AUC %+.4f (95%% CI %+.4f to %+.4f, SE %.4f)", candidate, reference, *difference.values())

    with atomic_dir(args.plots) as staging:
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
