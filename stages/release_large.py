"""Assemble the large release (`dvc artifacts get . complaint-classifier-large`): the two-encoder ensemble's serving
folder with its release record and model card.

Reads: models/serving_large (ensemble.json, the member folders with their ONNX graphs, threshold.json, manifest.json),
reports/export_large.json, reports/external_distill.json, reports/student.json (the distilled student's validation
report, for the comparison)
Writes: models/release_large/ (the serving folder's files and member folders byte for byte, release.json, README.md)
Run:   python -m stages.release_large --serving models/serving_large --reports reports --out models/release_large
"""
from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from complaints.core import stage
from complaints.release.card import LARGE_ARTIFACT, LargeCardInputs, large_card, release_record
from complaints.core.io import DataError, atomic_dir, read_json, write_json
from complaints.serving.modelfolder import ENSEMBLE_FILE, ensemble_members

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Copy the serving folder, add the release record and the card."""
    arguments = stage.parser(__doc__)
    for option in ("--serving", "--reports", "--out"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    members = ensemble_members(args.serving)
    if members is None:
        raise DataError(f"{args.serving}: no {ENSEMBLE_FILE}, so not an ensemble folder; run `dvc repro distill/dvc.yaml:export_large`")
    inputs = LargeCardInputs(
        export=read_json(args.reports / "export_large.json"),
        external=read_json(args.reports / "external_distill.json"), released=read_json(args.reports / "student.json"),
        trainings={name: read_json(args.serving / name / "training.json") for name in members},
        configs={name: read_json(args.serving / name / "config.json") for name in members})
    with atomic_dir(args.out) as staging:
        shutil.copytree(args.serving, staging, dirs_exist_ok=True)
        write_json(release_record(LARGE_ARTIFACT, inputs.export["engine"], inputs.export["validation"]["auc"]),
                   staging / "release.json")
        (staging / "README.md").write_text(large_card(inputs), encoding="utf-8")
    logger.info("released %s: %s, threshold %.4f, validation AUC %.4f", args.out, ", ".join(members),
                inputs.export["threshold"]["threshold"], inputs.export["validation"]["auc"])


if __name__ == "__main__":
    stage.run(main)
