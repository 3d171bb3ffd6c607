"""Choose the teacher's share in its average with the default recipe (`bert_teacher`, the students' teacher) on the
external set: the best share from 0 to 1 where it beats the plain average beyond the paired bootstrap's noise, else
the plain average.

Reads: data/external/tweets.parquet, the external scores of the default recipe and the teacher
(scores/external/bert.csv, scores/distill/teacher.csv), params `compare` (the bootstrap).
Writes: models/bert_teacher.json (teacher_weight, the sweep and the best share's difference to the plain average),
which bert_teacher, distill_targets and export_large read; plots/teacher_share/teacher_weight.csv (AUC per share)
Run:   python -m stages.teacher_share --tweets data/external/tweets.parquet --bert scores/external/bert.csv \
           --teacher scores/distill/teacher.csv --out models/bert_teacher.json --plots plots/teacher_share
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from complaints.core import stage
from complaints.core.config import load_section
from complaints.core.io import atomic_dir, read_parquet, write_json, write_table
from complaints.evaluation.ensemble import choose_teacher_share
from complaints.evaluation.external import aligned_scores
from complaints.evaluation.figures import CompareParams

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Sweep the teacher's share, choose it by the rule and write the choice."""
    arguments = stage.parser(__doc__)
    for option in ("--tweets", "--bert", "--teacher", "--out", "--plots"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    bootstrap = load_section(args.params, "compare", CompareParams)
    tweets = read_parquet(args.tweets)
    labels = tweets["label"].to_numpy()
    bert, teacher = (aligned_scores(path, tweets) for path in (args.bert, args.teacher))
    choice = choose_teacher_share(labels, bert, teacher, bootstrap)
    write_json(choice, args.out)
    with atomic_dir(args.plots) as staging:
        write_table(pd.DataFrame(choice["sweep"]), staging / "teacher_weight.csv")
    logger.info("teacher's share: %.1f (best %.1f at AUC %.4f, %+.4f against the plain average, 95%% CI %+.4f to %+.4f)",
                choice["teacher_weight"], choice["best"], choice["best_auc"], choice["best_vs_average_difference"],
                choice["best_vs_average_ci_low"], choice["best_vs_average_ci_high"])


if __name__ == "__main__":
    stage.run(main)
