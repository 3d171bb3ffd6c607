"""Retrain the default recipe with other seeds and score each on validation: the spread of the default's quality.

Reads: data/tokens/{train,val}.safetensors and model.json (test.safetensors when the recipe self-trains), params `train` and `seeds`, metrics/bert.json (the main
seed's run).
Writes: metrics/seeds.json (AUC and accuracy per seed, their mean, standard deviation, min and max)
Run:   python -m stages.seeds --tokens data/tokens --main metrics/bert.json --metrics metrics/seeds.json
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path


from complaints import stage
from complaints.config import load_section
from complaints.pretrained import resolve_recorded_model
from complaints.torch_scoring import score
from complaints.io import read_json, write_json
from complaints.metrics import classification_metrics
from complaints.seeds import SeedsParams, seed_spread
from complaints.tokens import Tokens
from complaints.training import TrainParams, make_accelerator, train_classifier, unlabeled_tokens

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Train once per extra seed; summarize all seeds."""
    arguments = stage.parser(__doc__)
    for option in ("--tokens", "--main", "--metrics"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "train", TrainParams)
    seeds = load_section(args.params, "seeds", SeedsParams).seeds

    train, validation = Tokens.load(args.tokens / "train.safetensors"), Tokens.load(args.tokens / "val.safetensors")
    recorded = resolve_recorded_model(args.tokens / "model.json")
    unlabeled = unlabeled_tokens(params, args.tokens)
    accelerator = make_accelerator()
    per_seed = {params.seed: read_json(args.main)}
    for seed in seeds:
        model = train_classifier(recorded.location, train, dataclasses.replace(params, seed=seed),
                                 recorded.record["max_len"], accelerator, unlabeled=unlabeled).model
        if accelerator.is_main_process:
            probability = score(model, validation, params.eval_batch_size, accelerator.device)
            per_seed[seed] = classification_metrics(validation.labels, probability)
            logger.info("seed %d: validation AUC %.4f, accuracy %.2f%%", seed, per_seed[seed]["auc"],
                        100 * per_seed[seed]["accuracy"])
        # Each seed's model, optimizer and loader go before the next seed's are built.
        del model
        accelerator.free_memory()
    if accelerator.is_main_process:
        spread = seed_spread(per_seed)
        write_json(spread, args.metrics)
        logger.info("%d seeds: AUC %.4f ± %.4f, accuracy %.2f%% ± %.2f", len(per_seed), spread["auc_mean"],
                    spread["auc_std"], 100 * spread["accuracy_mean"], 100 * spread["accuracy_std"])


if __name__ == "__main__":
    stage.run(main)
