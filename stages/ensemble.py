"""Combine the fine-tuned model with the baseline (`ensemble.method`: average or stack) and evaluate on validation.

Reads: models/bert/dev_probabilities.csv, data/baseline_oof.csv (baseline out-of-fold on the training split),
plots/{bert,baseline}/val_probabilities.csv, params `ensemble`.
Writes: models/ensemble.json (the fitted combination, which the external stage applies), metrics/ensemble.json
(validation metrics, the dev AUC that chooses the method, stacker weights),
plots/ensemble/{roc,confusion,threshold_sweep,val_probabilities}.csv
Run:   python -m stages.ensemble --bert-dev models/bert/dev_probabilities.csv --baseline-oof data/baseline_oof.csv \
           --bert-val plots/bert/val_probabilities.csv --baseline-val plots/baseline/val_probabilities.csv \
           --combination models/ensemble.json --metrics metrics/ensemble.json --plots plots/ensemble
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from complaints.core import stage
from complaints.core.config import load_section
from complaints.evaluation.ensemble import EnsembleParams, dev_auc, fitted_combination, paired
from complaints.evaluation.figures import write_evaluation
from complaints.core.io import write_json

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Fit the combination on dev, score validation."""
    arguments = stage.parser(__doc__)
    for option in ("--bert-dev", "--baseline-oof", "--bert-val", "--baseline-val", "--combination", "--metrics",
                   "--report", "--plots"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "ensemble", EnsembleParams)

    dev, validation = paired(args.bert_dev, args.baseline_oof), paired(args.bert_val, args.baseline_val)
    combination = fitted_combination(params.method, dev)
    probability = combination.non_complaint_probability(validation["bert"].to_numpy(), validation["baseline"].to_numpy())
    extra = {"method": params.method,
             "dev_auc": dev_auc(params.method, dev["label"].to_numpy(), dev["bert"].to_numpy(), dev["baseline"].to_numpy(), params)}
    if combination.method == "stack":
        extra |= {"weight_bert": combination.weight_bert, "weight_baseline": combination.weight_baseline}
    metrics = write_evaluation(validation, probability, extra, args.metrics, args.report, args.plots)
    write_json(vars(combination), args.combination)
    logger.info("%s ensemble: dev AUC %.4f; validation AUC %.4f, accuracy %.2f%%",
                params.method, extra["dev_auc"], metrics["auc"], 100 * metrics["accuracy"])


if __name__ == "__main__":
    stage.run(main)
