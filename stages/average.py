"""The default recipe and the teacher averaged on validation (`bert_teacher`), with the teacher's share the
teacher_share stage chose.

Reads: each member's val_probabilities.csv (plots/bert, plots/teacher), the chosen share (models/bert_teacher.json).
Writes: metrics/bert_teacher.json (validation metrics), reports/bert_teacher.json,
plots/bert_teacher/{roc,confusion,threshold_sweep,val_probabilities}.csv
Run:   python -m stages.average --bert plots/bert/val_probabilities.csv --teacher plots/teacher/val_probabilities.csv \
           --share models/bert_teacher.json --metrics metrics/bert_teacher.json --report reports/bert_teacher.json \
           --plots plots/bert_teacher
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from complaints.core import stage
from complaints.evaluation.ensemble import averaged, teacher_share_weights
from complaints.evaluation.figures import write_evaluation

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Average the two encoders on validation and write the metrics and plot data."""
    arguments = stage.parser(__doc__)
    for option in ("--bert", "--teacher", "--share", "--metrics", "--report", "--plots"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    weights = teacher_share_weights(args.share)
    validation, probability = averaged([args.bert, args.teacher], weights)
    metrics = write_evaluation(validation, probability, {"teacher_weight": weights[1]}, args.metrics, args.report,
                               args.plots)
    logger.info("default + teacher (teacher's share %.2f): validation AUC %.4f, accuracy %.2f%%", weights[1],
                metrics["auc"], 100 * metrics["accuracy"])


if __name__ == "__main__":
    stage.run(main)
