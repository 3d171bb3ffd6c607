"""Fine-tune the encoder + head with one recipe (params section `train`, or `tutorial` for the tutorial's own).

Reads: data/tokens/{split}.safetensors and model.json, the recipe's params section; for a refit, the chosen
epoch count from the selection run's training.json.
Writes: the model folder (encoder/ via save_pretrained with its tokenizer, classifier.safetensors, training.json,
dev_probabilities.csv when a dev split is held out), dvclive logs (per-epoch train loss, dev loss, accuracy, AUC)
Run:   python -m stages.train --tokens data/tokens --train-on train --model models/bert --live dvclive/train
       python -m stages.train --section tutorial --tokens data/tokens --train-on train --model models/tutorial --live dvclive/tutorial
       python -m stages.train --tokens data/tokens --train-on train val --epochs-from models/bert/training.json \
           --model models/bert_full --live dvclive/refit
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from accelerate import Accelerator
from dvclive import Live

from complaints import cli
from complaints.config import load_section
from complaints.encoding import load_tokenizer, resolve_model
from complaints.io import atomic_dir, read_json, write_json, write_table
from complaints.model import save_classifier
from complaints.runtime import mixed_precision
from complaints.training import Tokens, TrainParams, best_epoch, epoch_table, score, train_classifier, without_timings

logger = logging.getLogger(__name__)


def log_epoch(live: Live, row: dict) -> None:
    """One dvclive step per epoch (no wall times: outputs stay byte-identical run after run)."""
    for name, value in without_timings([row])[0].items():
        if name != "epoch":
            live.log_metric(name, value)
    live.next_step()


def main(argv: Sequence[str] | None = None) -> None:
    """Fine-tune and save the classifier."""
    arguments = cli.parser(__doc__)
    arguments.add_argument("--section", default="train", help="params section holding the recipe")
    arguments.add_argument("--tokens", type=Path, required=True)
    arguments.add_argument("--train-on", nargs="+", required=True, help="splits to train on, e.g. train val")
    arguments.add_argument("--epochs-from", type=Path, help="training.json whose chosen epoch count to refit with, no dev")
    arguments.add_argument("--model", type=Path, required=True)
    arguments.add_argument("--live", type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, args.section, TrainParams)
    if args.epochs_from:
        params = dataclasses.replace(params, epochs=read_json(args.epochs_from)["chosen_epoch"], dev_size=0.0, best_epoch=False)

    labeled = Tokens.concat([Tokens.load(args.tokens / f"{split}.safetensors") for split in args.train_on])
    model_record = read_json(args.tokens / "model.json")
    # Resolve the model by name on this machine: the recorded path may be another machine's (a pulled cache).
    location = resolve_model(model_record["name"])
    accelerator = Accelerator(mixed_precision=mixed_precision())

    # Under `accelerate launch` (several processes), only the main process logs and saves.
    main_process = accelerator.is_main_process
    with Live(str(args.live), save_dvc_exp=False, dvcyaml=None) if main_process else contextlib.nullcontext() as live:
        model, history, dev = train_classifier(location, labeled, params, accelerator,
                                               on_epoch=lambda row: main_process and log_epoch(live, row))
    accelerator.wait_for_everyone()
    if not main_process:
        return
    chosen = best_epoch(history) if params.best_epoch else params.epochs
    logger.info("trained on %s, kept epoch %d\n%s", "+".join(args.train_on), chosen, epoch_table(history))
    with atomic_dir(args.model) as staging:
        save_classifier(model, load_tokenizer(location), staging)
        write_json({"model": model_record, "train": dataclasses.asdict(params), "train_on": args.train_on,
                    "chosen_epoch": chosen, "history": without_timings(history)}, staging / "training.json")
        if dev is not None:
            probability = score(model, dev, params.eval_batch_size, accelerator.device)
            write_table(pd.DataFrame({"id": dev.ids, "label": dev.labels, "probability": probability}),
                        staging / "dev_probabilities.csv")


if __name__ == "__main__":
    cli.run(main)
