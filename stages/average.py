"""The default recipe and the teacher averaged on validation (`bert_teacher`), the teacher's share from params.

Reads: each member's val_probabilities.csv (plots/bert, plots/teacher), params `bert_teacher`.
Writes: metrics/bert_teacher.json (validation metrics), reports/bert_teacher.json,
plots/bert_teacher/{roc,confusion,threshold_sweep,val_probabilities}.csv
Run:   python -m stages.average --bert plots/bert/val_probabilities.csv --teacher plots/teacher/val_probabilities.csv \
           --metrics metrics/bert_teacher.json --report reports/bert_teacher.json --plots plots/bert_teacher
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from complaints.core import stage
from complaints.core.config import load_section
from complaints.evaluation.ensemble import EncoderEnsembleParams, averaged
from complaints.evaluation.figures import write_evaluation
from complaints.core.skipping import skipped_upstream

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Average the two encoders on validation and write the metrics and plot data."""
    arguments = stage.parser(__doc__)
    for option in ("--bert", "--teacher", "--metrics", "--report", "--plots"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    if skipped_upstream([args.bert, args.teacher], [args.metrics, args.report, args.plots]):
        return
    params = load_section(args.params, "bert_teacher", EncoderEnsembleParams)

    validation, probability = averaged([args.bert, args.teacher], params.weights())
    metrics = write_evaluation(validation, probability, {"teacher_weight": params.teacher_weight}, args.metrics,
                               args.report, args.plots)
    logger.info("default + teacher (teacher's share %.2f): validation AUC %.4f, accuracy %.2f%%", params.teacher_weight,
                metrics["auc"], 100 * metrics["accuracy"])


if __name__ == "__main__":
    stage.run(main)
