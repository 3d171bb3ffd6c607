"""Fine-tune the encoder + head with the tutorial's recipe; validate after each epoch when asked.

Reads: data/tokens/{split}.safetensors and model.json, params `train`.
Writes: the model folder (encoder/ via save_pretrained with its tokenizer, classifier.safetensors, training.json),
dvclive logs (per-epoch train loss and validation loss, accuracy, AUC)
Run:   python -m stages.train --tokens data/tokens --train-on train --validate-on val --model models/bert --live dvclive/train
       python -m stages.train --tokens data/tokens --train-on train val --model models/bert_full --live dvclive/refit
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from accelerate import Accelerator
from dvclive import Live

from complaints import cli
from complaints.config import load_section
from complaints.encoding import load_tokenizer, resolve_model
from complaints.io import atomic_dir, read_json, write_json
from complaints.model import pretrained_classifier, save_classifier
from complaints.runtime import configure_torch, mixed_precision
from complaints.training import Tokens, TrainParams, epoch_table, fine_tune, without_timings

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
    arguments.add_argument("--tokens", type=Path, required=True)
    arguments.add_argument("--train-on", nargs="+", required=True, help="splits to train on, e.g. train val")
    arguments.add_argument("--validate-on", help="split to validate on after each epoch")
    arguments.add_argument("--model", type=Path, required=True)
    arguments.add_argument("--live", type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "train", TrainParams)

    configure_torch(params.seed)
    train = Tokens.concat([Tokens.load(args.tokens / f"{split}.safetensors") for split in args.train_on])
    validation = Tokens.load(args.tokens / f"{args.validate_on}.safetensors") if args.validate_on else None
    # Resolve the model by name on this machine: the recorded path may be another machine's (a pulled cache).
    location = resolve_model(read_json(args.tokens / "model.json")["name"])
    accelerator = Accelerator(mixed_precision=mixed_precision())
    model = pretrained_classifier(location, params.head_hidden, params.freeze_bert)

    # Under `accelerate launch` (several processes), only the main process logs and saves.
    main_process = accelerator.is_main_process
    with Live(str(args.live), save_dvc_exp=False, dvcyaml=None) if main_process else contextlib.nullcontext() as live:
        history = fine_tune(model, train, validation, params, accelerator,
                            on_epoch=lambda row: main_process and log_epoch(live, row))
    accelerator.wait_for_everyone()
    if not main_process:
        return
    logger.info("trained on %s\n%s", "+".join(args.train_on), epoch_table(history))
    with atomic_dir(args.model) as staging:
        save_classifier(accelerator.unwrap_model(model), load_tokenizer(location), staging)
        write_json({"model": read_json(args.tokens / "model.json"), "train": asdict(params), "train_on": args.train_on,
                    "history": without_timings(history)},
                   staging / "training.json")


if __name__ == "__main__":
    cli.run(main)
