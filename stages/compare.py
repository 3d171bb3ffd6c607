"""Paired bootstrap of validation AUC differences: each candidate against each reference, on the same tweets.

Reads: plots/{name}/val_probabilities.csv of every model named, params `compare`.
Writes: reports/compare.json (`{candidate}_vs_{reference}`: AUC difference, its 95% interval and standard error)
Run:   python -m stages.compare --candidates bert ensemble student --references baseline tutorial --plots plots \
           --report reports/compare.json
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from complaints.core import stage
from complaints.core.config import load_section
from complaints.core.io import DataError, read_probabilities, write_json
from complaints.evaluation.figures import CompareParams, bootstrap_auc_difference

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Bootstrap every candidate-reference pair."""
    arguments = stage.parser(__doc__)
    arguments.add_argument("--candidates", nargs="+", required=True)
    arguments.add_argument("--references", nargs="+", required=True)
    arguments.add_argument("--plots", type=Path, required=True)
    arguments.add_argument("--report", type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "compare", CompareParams)

    candidates = list(dict.fromkeys(args.candidates))  # the released recipe may be named twice
    tables = {name: read_probabilities(args.plots / name / "val_probabilities.csv") for name in candidates + args.references}
    first = tables[args.references[0]]
    labels = first["label"].to_numpy()
    if np.unique(labels).size < 2:
        raise DataError(f"{args.plots / args.references[0] / 'val_probabilities.csv'}: every label is {labels[0]}; "
                        f"an AUC difference needs validation tweets of both classes")
    for name, table in tables.items():
        if not np.array_equal(table[["id", "label"]].to_numpy(), first[["id", "label"]].to_numpy()):
            raise DataError(f"{args.plots / name / 'val_probabilities.csv'}: not the same validation tweets as {args.references[0]}")
    results = {}
    for candidate in candidates:
        for reference in args.references:
            difference = bootstrap_auc_difference(labels, tables[candidate]["non_complaint_probability"].to_numpy(),
                                                  tables[reference]["non_complaint_probability"].to_numpy(), params.resamples, params.seed)
            results |= {f"{candidate}_vs_{reference}_{key}": value for key, value in difference.items()}
            logger.info("%s - %s: AUC %+.4f (95%% CI %+.4f to %+.4f, SE %.4f)", candidate, reference, *difference.values())
    write_json(results, args.report)


if __name__ == "__main__":
    stage.run(main)
