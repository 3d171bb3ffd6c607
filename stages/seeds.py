"""Score the seed stage's models of the training split on validation: the spread of the default recipe's quality.

Reads: models/seeds/train-{seed} for each of `seeds.seeds` (the seed stage), data/tokens/val.safetensors,
metrics/bert.json (the main seed's run), params `seeds` and `evaluate.batch_size`.
Writes: metrics/seeds.json (AUC, accuracy and F1 averaged over the seeds, the main one included), reports/seeds.json
(with each one's standard deviation, min, max and per-seed values)
Run:   python -m stages.seeds --tokens data/tokens --models models/seeds --main metrics/bert.json \
           --metrics metrics/seeds.json --report reports/seeds.json
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from complaints.core import stage
from complaints.core.machine import pin_threads
from complaints.core.config import load_section
from complaints.evaluation.figures import HEADLINE, EvaluateParams, write_metrics
from complaints.core.io import read_json
from complaints.core.metrics import classification_metrics
from complaints.modeling.model import load_classifier
from complaints.core.runtime import configure_torch, inference_device
from complaints.evaluation.seeds import SeedsParams, seed_folder, seed_spread
from complaints.text.tokens import Tokens
from complaints.modeling.torch_scoring import score

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Score each seed's model on validation; summarize all seeds with the main one."""
    arguments = stage.parser(__doc__)
    for option in ("--tokens", "--models", "--main", "--metrics", "--report"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    seeds = load_section(args.params, "seeds", SeedsParams)
    batch_size = load_section(args.params, "evaluate", EvaluateParams).batch_size

    configure_torch()
    device = inference_device()
    validation = Tokens.load(args.tokens / "val.safetensors")
    per_seed = {"main": read_json(args.main)}
    for seed in seeds.seeds:
        model = load_classifier(seed_folder(args.models, "train", seed)).to(device)
        per_seed[seed] = classification_metrics(validation.labels, score(model, validation, batch_size, device))
        logger.info("seed %d: validation AUC %.4f, accuracy %.2f%%", seed, per_seed[seed]["auc"],
                    100 * per_seed[seed]["accuracy"])
    spread = seed_spread(per_seed)
    write_metrics(spread, HEADLINE, args.metrics, args.report)
    logger.info("%d seeds: AUC %.4f ± %.4f", spread["seeds"], spread["auc"], spread["auc_std"])


if __name__ == "__main__":
    stage.run(main, setup=pin_threads)
