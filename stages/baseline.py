"""Fit the tutorial's TF-IDF + Multinomial NB baseline on the training split; evaluate on validation.

Reads: data/split/{train,val}.parquet, params `baseline`.
Writes: models/baseline.joblib, metrics/baseline.json, plots/baseline/{roc,confusion,val_probabilities}.csv,
plots/baseline_cv/cv_auc.csv, data/baseline_oof.csv (out-of-fold probabilities of the training tweets, for stacking)
Run:   python -m stages.baseline --split data/split --model models/baseline.joblib \
           --metrics metrics/baseline.json --plots plots/baseline --cv-plot plots/baseline_cv/cv_auc.csv \
           --oof data/baseline_oof.csv
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import joblib

from complaints.core import stage
from complaints.baseline.tfidf import BaselineParams, fit_baseline
from complaints.core.config import load_section, project_root, resolve_path
from complaints.core.io import atomic_path, read_parquet, write_table
from complaints.evaluation.figures import write_evaluation
from complaints.baseline.tfidf import english_stopwords

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Tune, fit, evaluate and save the baseline."""
    arguments = stage.parser(__doc__)
    for option in ("--split", "--model", "--metrics", "--report", "--plots", "--cv-plot", "--oof"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "baseline", BaselineParams)

    train, val = read_parquet(args.split / "train.parquet"), read_parquet(args.split / "val.parquet")
    stopwords = english_stopwords(resolve_path(params.nltk_data, project_root()))
    fitted = fit_baseline(train["text"].tolist(), train["label"].to_numpy(), stopwords, params)
    pipeline, cv_auc, best_alpha = fitted.pipeline, fitted.cv_auc, fitted.best_alpha
    alpha = pipeline.get_params()["nb__alpha"]
    logger.info("CV-best alpha %.1f (CV AUC %.4f); fitted with alpha %.1f", best_alpha, cv_auc["cv_auc"].max(), alpha)

    with atomic_path(args.model) as tmp:
        joblib.dump(pipeline, tmp)
    write_table(cv_auc, args.cv_plot)
    write_table(train[["id", "label"]].assign(non_complaint_probability=fitted.out_of_fold), args.oof)
    probability = pipeline.predict_proba(val["text"].tolist())[:, 1]
    extra = {"alpha": alpha, "cv_best_alpha": best_alpha, "cv_auc": float(cv_auc["cv_auc"].max())}
    metrics = write_evaluation(val, probability, extra, args.metrics, args.report, args.plots)
    logger.info("validation AUC %.4f, accuracy %.2f%%", metrics["auc"], 100 * metrics["accuracy"])


if __name__ == "__main__":
    stage.run(main)
