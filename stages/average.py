"""Average several models' validation probabilities (the default recipe and the teacher) and evaluate the mean.

Reads: each member's val_probabilities.csv (plots/bert, plots/teacher).
Writes: metrics/bert_teacher.json (validation metrics), reports/bert_teacher.json,
plots/bert_teacher/{roc,confusion,threshold_sweep,val_probabilities}.csv
Run:   python -m stages.average --members plots/bert/val_probabilities.csv plots/teacher/val_probabilities.csv \
           --metrics metrics/bert_teacher.json --report reports/bert_teacher.json --plots plots/bert_teacher
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from complaints import stage
from complaints.ensemble import averaged
from complaints.evaluation import write_evaluation

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Average the members on validation and write the metrics and plot data."""
    arguments = stage.parser(__doc__)
    arguments.add_argument("--members", type=Path, nargs="+", required=True)
    for option in ("--metrics", "--report", "--plots"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)

    validation, probability = averaged(args.members)
    metrics = write_evaluation(validation, probability, {"members": len(args.members)}, args.metrics, args.report,
                               args.plots)
    logger.info("average of %d: validation AUC %.4f, accuracy %.2f%%", len(args.members), metrics["auc"],
                100 * metrics["accuracy"])


if __name__ == "__main__":
    stage.run(main)
