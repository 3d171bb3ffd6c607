"""Refit the default recipe on all labeled tweets with more seeds and score each on the external tweets, so the
external stage can judge a seed ensemble of refits against the single refit (`seeds.refits` more refits, seeds 1, 2, ...;
none by default).

Reads: data/tokens/{train,val}.safetensors and model.json (test.safetensors when the recipe self-trains), the chosen
epoch count in models/bert/training.json, data/external/tweets.parquet, params `train` and `seeds`.
Writes: data/refit_seeds/seeds.json (the seeds refit), data/refit_seeds/seed_{seed}.csv (id, label, non_complaint_probability on the
external tweets)
Run:   python -m stages.refit_seeds --tokens data/tokens --epochs-from models/bert/training.json \
           --tweets data/external/tweets.parquet --out data/refit_seeds
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

from complaints import stage
from complaints.config import load_section
from complaints.encoding import encode
from complaints.torch_scoring import score
from complaints.io import atomic_dir, read_parquet, write_json, write_table
from complaints.pretrained import resolve_recorded_model
from complaints.tokens import Tokens
from complaints.seeds import SeedsParams
from complaints.training import TrainParams, make_accelerator, refit_params, train_classifier, unlabeled_tokens

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Refit once per extra seed (`seeds.refits` of them); write each refit's external probabilities."""
    arguments = stage.parser(__doc__)
    for option in ("--tokens", "--epochs-from", "--tweets", "--out"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = refit_params(load_section(args.params, "train", TrainParams), args.epochs_from)
    seeds = load_section(args.params, "seeds", SeedsParams).refit_seeds

    labeled = Tokens.concat([Tokens.load(args.tokens / f"{split}.safetensors") for split in ("train", "val")])
    recorded = resolve_recorded_model(args.tokens / "model.json")
    tweets = read_parquet(args.tweets)
    encoded = encode(recorded.tokenizer, tweets["text"].tolist(), recorded.record["max_len"])
    external = Tokens(tweets["id"].to_numpy(), encoded["input_ids"], encoded["attention_mask"], None)
    unlabeled = unlabeled_tokens(params, args.tokens)
    accelerator = make_accelerator()
    probabilities = {}
    for seed in seeds:
        model = train_classifier(recorded.location, labeled, dataclasses.replace(params, seed=seed),
                                 recorded.record["max_len"], accelerator, unlabeled=unlabeled).model
        if accelerator.is_main_process:
            probabilities[seed] = score(model, external, params.eval_batch_size, accelerator.device)
            logger.info("refit with seed %d scored on %d external tweets", seed, len(external.ids))
        del model
        accelerator.free_memory()
    if accelerator.is_main_process:
        with atomic_dir(args.out) as staging:
            write_json({"seeds": list(seeds)}, staging / "seeds.json")
            for seed, probability in probabilities.items():
                write_table(tweets[["id", "label"]].assign(non_complaint_probability=probability), staging / f"seed_{seed}.csv")


if __name__ == "__main__":
    stage.run(main)
