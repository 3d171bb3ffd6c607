"""Assemble the release: the deployable model folder another team picks up (`dvc artifacts get . complaint-classifier`).

Reads: models/serving (the released recipe's refit, its tokenizer and code, its ONNX graphs), reports/{recipe}.json
(the released recipe's validation report, `--recipe`), reports/{tutorial,baseline,ensemble,seeds,compare,threshold,
export}.json
Writes: models/release/ (the serving folder's files byte for byte, its threshold.json and manifest.json included, so
DVC stores the weights once; release.json with the cleaning rules and their version; README.md, the model card)
Run:   python -m stages.release --recipe student --serving models/serving --reports reports --out models/release
"""
from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from complaints.core import stage
from complaints.release.card import ARTIFACT, CardInputs, card, release_record
from complaints.core.io import atomic_dir, read_json, write_json

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Copy the serving folder (its threshold included), add the release record and the card."""
    arguments = stage.parser(__doc__)
    arguments.add_argument("--recipe", required=True, help="the released recipe (`release.recipe`): its validation "
                           "report is reports/{recipe}.json")
    for option in ("--serving", "--reports", "--out"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)

    metrics = {field.name: read_json(args.reports / f"{field.name}.json") for field in fields(CardInputs)
               if field.name not in ("recipe", "model", "training", "config")}
    inputs = CardInputs(**metrics, recipe=args.recipe, model=read_json(args.reports / f"{args.recipe}.json"),
                        training=read_json(args.serving / "training.json"), config=read_json(args.serving / "config.json"))
    threshold = inputs.threshold
    with atomic_dir(args.out) as staging:
        for path in sorted(args.serving.iterdir()):
            shutil.copyfile(path, staging / path.name)
        write_json(release_record(ARTIFACT, inputs.export["default_engine"], inputs.model["auc"]), staging / "release.json")
        (staging / "README.md").write_text(card(inputs), encoding="utf-8")
    logger.info("released %s: threshold %.4f, validation AUC %.4f", args.out, threshold["threshold"], inputs.model["auc"])


if __name__ == "__main__":
    stage.run(main)
