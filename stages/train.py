"""Fine-tune the encoder + head with one recipe (a params section: `train`, `tutorial`, `teacher_train`), for one
model of the models list (params `models`, which dvc.yaml and distill/dvc.yaml loop over).

Reads: data/tokens/{encoder}/{split}.safetensors and model.json (test.safetensors too when the recipe self-trains or
distills on the unlabeled tweets), the recipe's params section; for a refit, the chosen epoch count from its fit's
training.json; for a student (`--targets`, `--teacher`), the teacher's column of the distill_targets file and params
section `distill`.
Fits: `train` trains on the training split (holding out the recipe's dev split to choose the epoch), `refit` on all
labeled tweets (train + val) for the epoch count the fit chose; `--seed` replaces the recipe's seed.
Writes: the model folder (a transformers model: config.json, model.safetensors, the tokenizer and the model's code,
plus training.json (with the teacher's history and pseudo-label counts when self-trained, the `distill` params, the
teacher and tweet counts when distilled) and dev_probabilities.csv when a dev split is held out), dvclive logs
(per-epoch train loss, dev loss, accuracy, AUC)
Run:   python -m stages.train --section train --tokens data/tokens/model --fit train --model models/bert --live dvclive/bert
       python -m stages.train --section train --tokens data/tokens/model --fit refit \
           --epochs-from models/bert/training.json --model models/bert_full --live dvclive/bert_full
       python -m stages.train --section train --tokens data/tokens/model --fit train --targets data/distill_targets.csv \
           --teacher bert_teacher --model models/student --live dvclive/student
       accelerate launch --multi_gpu --num_processes 2 -m stages.train ...   # several GPUs, or CPU processes
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from dvclive import Live

from complaints.core import stage
from complaints.core.machine import pin_threads
from complaints.core.config import load_section, require
from complaints.modeling.distillation import TEACHERS, DistillParams, Teacher
from complaints.text.pretrained import resolve_recorded_model
from complaints.modeling.torch_scoring import score
from complaints.core.io import atomic_dir, write_json, write_table
from complaints.modeling.model import save_classifier
from complaints.text.tokens import Tokens
from complaints.modeling.training import (
    TrainParams, best_epoch, epoch_table, make_accelerator, refit_params, train_classifier,
    unlabeled_tokens, without_timings,
)

logger = logging.getLogger(__name__)

# The splits each fit trains on.
FITS = {"train": ("train",), "refit": ("train", "val")}


def log_epoch(live: Live, row: dict) -> None:
    """One dvclive step per epoch (no wall times: outputs stay byte-identical run after run)."""
    for name, value in without_timings([row])[0].items():
        if name != "epoch":
            live.log_metric(name, value)
    live.next_step()


def main(argv: Sequence[str] | None = None) -> None:
    """Fine-tune and save the classifier."""
    arguments = stage.parser(__doc__)
    arguments.add_argument("--section", default="train", help="params section holding the recipe")
    arguments.add_argument("--tokens", type=Path, required=True)
    arguments.add_argument("--fit", choices=sorted(FITS), required=True, help="train: the training split; refit: train + val")
    arguments.add_argument("--epochs-from", type=Path, help="with --fit refit: training.json whose chosen epoch count to use")
    arguments.add_argument("--seed", type=int, help="replaces the recipe's seed (the seed stages)")
    arguments.add_argument("--targets", type=Path, help="distill from the teacher's probabilities in this file "
                           "(distill_targets.csv), with params section `distill`")
    arguments.add_argument("--teacher", choices=TEACHERS, help="with --targets: the teacher column to learn from")
    arguments.add_argument("--model", type=Path, required=True)
    arguments.add_argument("--live", type=Path, required=True)
    args = arguments.parse_args(argv)
    if (args.targets is None) != (args.teacher is None):
        arguments.error("--targets and --teacher go together (a student and the teacher it learns from)")
    accelerator = make_accelerator()
    params = load_section(args.params, args.section, TrainParams)
    if args.seed is not None:
        params = dataclasses.replace(params, seed=args.seed)
    if args.fit == "refit":
        if args.epochs_from is None:
            arguments.error("--fit refit needs --epochs-from, the selection run's training.json")
        params = refit_params(params, args.epochs_from)
    train_on = FITS[args.fit]
    teacher = None if args.targets is None else Teacher.load(load_section(args.params, "distill", DistillParams),
                                                             args.teacher, args.targets)
    require(teacher is None or not params.self_training, f"{args.section}.self_training", params.self_training,
            "false for a distilled student (--targets)")
    unlabeled_needed = params.self_training or (teacher is not None and teacher.params.unlabeled)

    labeled = Tokens.concat([Tokens.load(args.tokens / f"{split}.safetensors") for split in train_on])
    # Resolved by name on this machine (tokens may come from a teammate's cache); its vocabulary must be the tokens'.
    recorded = resolve_recorded_model(args.tokens / "model.json", args.params)

    # Under `accelerate launch` (several processes), only the main process logs and saves.
    main_process = accelerator.is_main_process
    with Live(str(args.live), save_dvc_exp=False, dvcyaml=None) if main_process else contextlib.nullcontext() as live:
        trained = train_classifier(recorded.location, labeled, params, recorded.record["max_len"], accelerator,
                                   on_epoch=lambda row: main_process and log_epoch(live, row),
                                   unlabeled=unlabeled_tokens(unlabeled_needed, args.tokens), teacher=teacher)
    accelerator.wait_for_everyone()
    if not main_process:
        return
    chosen = best_epoch(trained.history) if params.best_epoch else len(trained.history)
    logger.info("trained on %s, kept epoch %d\n%s", "+".join(train_on), chosen, epoch_table(trained.history))
    with atomic_dir(args.model) as staging:
        save_classifier(trained.model, recorded.tokenizer, staging)
        write_json({"model": recorded.record, "train": dataclasses.asdict(params), "train_on": list(train_on),
                    "processes": accelerator.num_processes, "chosen_epoch": chosen,
                    "history": without_timings(trained.history)}
                   | ({"self_training": trained.self_training} if trained.self_training else {})
                   | ({"distill": dataclasses.asdict(teacher.params) | {"teacher": teacher.column} | trained.distillation}
                      if teacher else {}),
                   staging / "training.json")
        if trained.dev is not None:
            probability = score(trained.model, trained.dev, params.eval_batch_size, accelerator.device)
            write_table(pd.DataFrame({"id": trained.dev.ids, "label": trained.dev.labels,
                                      "non_complaint_probability": probability}),
                        staging / "dev_probabilities.csv")


if __name__ == "__main__":
    stage.run(main, setup=pin_threads)
