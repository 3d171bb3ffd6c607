"""Combine the fine-tuned model with the baseline (`ensemble.method`: average or stack) and evaluate on validation.

Reads: models/bert/dev_probabilities.csv, data/baseline_oof.csv (baseline out-of-fold on the training split),
plots/{bert,baseline}/val_probabilities.csv, params `ensemble`.
Writes: metrics/ensemble.json (validation metrics, the dev AUC that chooses the method, stacker weights),
plots/ensemble/{roc,confusion,threshold_sweep,val_probabilities}.csv
Run:   python -m stages.ensemble --bert-dev models/bert/dev_probabilities.csv --baseline-oof data/baseline_oof.csv \
           --bert-val plots/bert/val_probabilities.csv --baseline-val plots/baseline/val_probabilities.csv \
           --metrics metrics/ensemble.json --plots plots/ensemble
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from complaints import cli
from complaints.config import load_section
from complaints.ensemble import EnsembleParams, combine, dev_auc, fit_stacker, stack_features
from complaints.io import DataError, read_probabilities
from complaints.reporting import write_evaluation

logger = logging.getLogger(__name__)


def paired(bert_path: Path, baseline_path: Path) -> pd.DataFrame:
    """`id, label, bert, baseline` for the tweets of `bert_path`, which must all be in `baseline_path`."""
    bert, baseline = read_probabilities(bert_path), read_probabilities(baseline_path)
    table = bert.merge(baseline[["id", "probability"]], on="id", how="left", suffixes=("_bert", "_baseline"))
    missing = table.loc[table["probability_baseline"].isna(), "id"]
    if len(missing):
        raise DataError(f"{baseline_path}: no probability for id {missing.iloc[0]} of {bert_path}; rerun the pipeline")
    return table.rename(columns={"probability_bert": "bert", "probability_baseline": "baseline"})


def main(argv: Sequence[str] | None = None) -> None:
    """Fit the combination on dev, score validation."""
    arguments = cli.parser(__doc__)
    for option in ("--bert-dev", "--baseline-oof", "--bert-val", "--baseline-val", "--metrics", "--plots"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "ensemble", EnsembleParams)

    dev, validation = paired(args.bert_dev, args.baseline_oof), paired(args.bert_val, args.baseline_val)
    stacker = fit_stacker(stack_features(dev["bert"], dev["baseline"]), dev["label"]) if params.method == "stack" else None
    probability = combine(params.method, validation["bert"].to_numpy(), validation["baseline"].to_numpy(), stacker)
    extra = {"method": params.method,
             "dev_auc": dev_auc(params.method, dev["label"].to_numpy(), dev["bert"].to_numpy(), dev["baseline"].to_numpy(), params)}
    if stacker is not None:
        extra |= {"weight_bert": float(stacker.coef_[0][0]), "weight_baseline": float(stacker.coef_[0][1])}
    metrics = write_evaluation(validation, probability, extra, args.metrics, args.plots)
    logger.info("%s ensemble: dev AUC %.4f; validation AUC %.4f, accuracy %.2f%%",
                params.method, extra["dev_auc"], metrics["auc"], 100 * metrics["accuracy"])


if __name__ == "__main__":
    cli.run(main)
