"""GPU smoke check: a tiny BERT config through the project's real training and inference code on CUDA.

A random 2-layer BERT with a word-level vocabulary (nothing downloaded) is saved as a local model folder; synthetic
tweets are encoded with the project's `encode`; `train_classifier` fine-tunes it under `make_accelerator()` (bf16
mixed precision on a GPU with native bf16) with the default recipe's code paths: dev split and best epoch, mean
pooling, layer-wise learning-rate decay and self-training on unlabeled tweets. The model folder is saved with
`save_classifier` and scored back through `Predictor` (torch engine, CUDA when present). Prints what it saw as JSON
and exits non-zero if a claim fails. Runs on the CPU too (a dry run: precision `no`).

Run:  PYTHONPATH=src python checks/gpu_smoke.py OUT_FOLDER
"""
from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from sklearn.metrics import roc_auc_score
from transformers import BertConfig, BertModel, BertTokenizerFast

from complaints.text.encoding import encode
from complaints.modeling.torch_scoring import predict_logits, score
from complaints.modeling.model import save_classifier
from complaints.serving.predictor import Predictor
from complaints.core.runtime import configure_torch
from complaints.text.tokens import Tokens
from complaints.modeling.training import TrainParams, make_accelerator, train_classifier

COMPLAINT_WORDS = ["delayed", "cancelled", "lost", "rude", "worst", "waiting", "broken", "refund"]
PRAISE_WORDS = ["thanks", "great", "love", "awesome", "smooth", "helpful", "friendly", "perfect"]
FILLER = ["flight", "crew", "bag", "gate", "seat", "today", "again", "service"]
MAX_LENGTH = 16


def synthetic_tweets() -> tuple[list[str], np.ndarray]:
    """Tweets whose label follows their sentiment word: complaint (0) or non-complaint (1)."""
    texts, labels = [], []
    for (first, second), label in itertools.chain(
        ((pair, 0) for pair in itertools.product(COMPLAINT_WORDS, FILLER)),
        ((pair, 1) for pair in itertools.product(PRAISE_WORDS, FILLER)),
    ):
        texts.append(f"@united {first} {second} {FILLER[len(texts) % len(FILLER)]}")
        labels.append(label)
    return texts, np.array(labels)


def tiny_encoder(folder: Path) -> BertTokenizerFast:
    """A random tiny BERT and its word-level tokenizer, saved as a local model folder."""
    folder.mkdir(parents=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(COMPLAINT_WORDS + PRAISE_WORDS + FILLER))
    tokenizer = BertTokenizerFast(vocab={word: index for index, word in enumerate(words)})
    tokenizer.save_pretrained(folder)
    configure_torch(0)
    config = BertConfig(vocab_size=len(words), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=32)
    BertModel(config).save_pretrained(folder)
    return tokenizer


def main(out: Path) -> int:
    """Train, score, save, reload and score again; print and save what was seen."""
    started = time.perf_counter()
    texts, labels = synthetic_tweets()
    tokenizer = tiny_encoder(out / "encoder")
    encoded = encode(tokenizer, texts, MAX_LENGTH)
    tweets = Tokens(np.arange(len(texts)), encoded["input_ids"], encoded["attention_mask"], labels)
    rows = np.random.default_rng(0).permutation(len(texts))
    labeled, unlabeled = tweets.subset(np.sort(rows[:96])), tweets.subset(np.sort(rows[96:]))
    unlabeled = Tokens(unlabeled.ids, unlabeled.input_ids, unlabeled.attention_mask, None)
    held_out_labels = labels[np.sort(rows[96:])]

    accelerator = make_accelerator()
    params = TrainParams(epochs=4, batch_size=16, lr=2e-3, eval_batch_size=64, head_hidden=16, pooling="mean",
                         dev_size=0.25, best_epoch=True, layer_decay=0.8, self_training=True, pseudo_confidence=0.6)
    trained = train_classifier(str(out / "encoder"), labeled, params, MAX_LENGTH, accelerator, unlabeled=unlabeled)
    device = accelerator.device
    logits = predict_logits(trained.model, unlabeled, 64, device)
    probability = score(trained.model, unlabeled, 64, device)
    save_classifier(trained.model, tokenizer, out / "model")
    predictor = Predictor.load(out / "model", batch_size=64, engine="torch")
    reloaded = predictor.non_complaint_probability([texts[row] for row in unlabeled.ids])

    seen = {
        "torch": torch.__version__, "transformers": transformers.__version__,
        "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "device": str(device), "mixed_precision": accelerator.mixed_precision,
        "model_device": str(next(trained.model.parameters()).device),
        "pseudo_labeled": trained.self_training["pseudo_labeled"], "unlabeled": trained.self_training["unlabeled"],
        "teacher_dev_auc": [row["dev_auc"] for row in trained.self_training["teacher_history"]],
        "student_dev_auc": [row["dev_auc"] for row in trained.history],
        "train_loss": [row["train_loss"] for row in trained.history],
        "held_out_auc": float(roc_auc_score(held_out_labels, probability)),
        "logits_finite": bool(np.isfinite(logits).all()),
        "reloaded_max_difference": float(np.abs(reloaded - probability).max()),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(seen, indent=1))
    (out / "gpu_smoke.json").write_text(json.dumps(seen, indent=1) + "\n")
    claims = {
        "trained on CUDA in bf16 when a GPU is present": not torch.cuda.is_available()
        or (seen["model_device"].startswith("cuda") and seen["mixed_precision"] in ("bf16", "fp16")),
        "finite logits": seen["logits_finite"],
        "training loss fell": seen["train_loss"][-1] < seen["train_loss"][0],
        "self-training pseudo-labeled tweets": seen["pseudo_labeled"] > 0,
        "the saved folder scores as the trained model": seen["reloaded_max_difference"] < 0.02,
    }
    failed = [claim for claim, held in claims.items() if not held]
    print("FAILED: " + "; ".join(failed) if failed else "all claims held")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
