"""The teachers' probabilities a student learns from: the default recipe and the teacher encoder, both trained on the
training split alone, score every labeled and unlabeled tweet; their average with the teacher's share the
teacher_share stage chose is `bert_teacher`.

Reads: models/bert with data/tokens, models/teacher with data/teacher_tokens ({train,val,test}.safetensors each),
the chosen share (models/bert_teacher.json), params `evaluate.batch_size`.
Writes: data/distill_targets.csv (id, split, and the non-complaint probability of `bert`, `teacher` and `bert_teacher`),
reports/distill_targets.json (tweets and mean probabilities per split)
Run:   python -m stages.distill_targets --bert models/bert --tokens data/tokens/model --teacher models/teacher \
           --teacher-tokens data/tokens/teacher --share models/bert_teacher.json --out data/distill_targets.csv --report reports/distill_targets.json
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from complaints.core import stage
from complaints.core.machine import pin_threads
from complaints.core.config import load_section
from complaints.core.averaging import mean_probability
from complaints.evaluation.ensemble import teacher_share_weights
from complaints.evaluation.figures import EvaluateParams
from complaints.core.io import DataError, write_json, write_table
from complaints.modeling.model import load_classifier
from complaints.core.runtime import configure_torch, inference_device
from complaints.text.tokens import Tokens
from complaints.modeling.torch_scoring import score

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


def scored(model_folder: Path, tokens_folder: Path, batch_size: int) -> pd.DataFrame:
    """One model's non-complaint probability for every tweet of every split: id, split, probability."""
    device = inference_device()
    model = load_classifier(model_folder).to(device)
    parts = []
    for split in SPLITS:
        tokens = Tokens.load(tokens_folder / f"{split}.safetensors")
        parts.append(pd.DataFrame({"id": tokens.ids, "split": split,
                                   "probability": score(model, tokens, batch_size, device)}))
    return pd.concat(parts, ignore_index=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Score every tweet with both encoders and write their probabilities and the ensemble's."""
    arguments = stage.parser(__doc__)
    for option in ("--bert", "--tokens", "--teacher", "--teacher-tokens", "--share", "--out", "--report"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    weights = teacher_share_weights(args.share)
    batch_size = load_section(args.params, "evaluate", EvaluateParams).batch_size

    configure_torch()
    bert = scored(args.bert, args.tokens, batch_size)
    teacher = scored(args.teacher, args.teacher_tokens, batch_size)
    if not bert[["id", "split"]].equals(teacher[["id", "split"]]):
        raise DataError(f"{args.tokens} and {args.teacher_tokens}: do not hold the same tweets; rerun "
                        f"`dvc repro tokenize distill/dvc.yaml:teacher_tokenize`")
    targets = bert[["id", "split"]].assign(bert=bert["probability"], teacher=teacher["probability"])
    targets["bert_teacher"] = mean_probability([targets["bert"].to_numpy(), targets["teacher"].to_numpy()], weights)
    write_table(targets, args.out)
    summary = {split: {"tweets": int(len(rows))} | {name: float(np.mean(rows[name])) for name in ("bert", "teacher", "bert_teacher")}
               for split, rows in targets.groupby("split", sort=False)}
    write_json({"teacher_weight": weights[1], "mean_non_complaint_probability": summary}, args.report)
    logger.info("teacher probabilities for %d tweets (%s)", len(targets),
                ", ".join(f"{split} {entry['tweets']}" for split, entry in summary.items()))


if __name__ == "__main__":
    stage.run(main, setup=pin_threads)
