"""Inference engines side by side, in one run on this machine: the tutorial's code, PyTorch fp32, ONNX Runtime fp32
and ONNX Runtime int8, from raw test tweets to probabilities (tokenization included), each in its own process.

Reports tweets/s on the 4,553 test tweets, single-tweet latency (p50, p95), peak memory, the share of the two cores'
fp32 peak each reaches (the nominal AVX2 FMA peak, and the best matrix multiply measured on this machine, in the
same run), and each engine's agreement with PyTorch at the pipeline's threshold.
Needs the pipeline's outputs (`dvc repro` or `dvc pull`): models/serving, metrics/threshold.json, data/split.
Run:  python -m benchmarks.engines            # about 5 minutes on 2 cores
Writes benchmarks/results/engines.json and a dated copy; `python -m benchmarks.report` puts the table in the docs.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.compare import PEAK_GFLOPS, ROOT, run_header, save

SERVING = ROOT / "models" / "serving"
SIDES = ("reference", "torch", "onnx", "onnx-int8")
LATENCY_TWEETS = 200
BATCH_SIZE = 128


def test_tweets() -> list[str]:
    """The 4,553 unlabeled test tweets, raw."""
    import pandas as pd

    return pd.read_parquet(ROOT / "data" / "split" / "test.parquet")["text"].tolist()


def matmul_gflop(padded_tokens: int) -> float:
    """Forward matmul work of the encoder: about 2 FLOP per non-embedding weight per token (MiniLM: 10.6M weights)."""
    config = json.loads((SERVING / "config.json").read_text())["encoder"]
    hidden, layers = config["hidden_size"], config["num_hidden_layers"]
    weights = layers * (4 * hidden * hidden + 2 * hidden * config["intermediate_size"])
    return 2.0 * weights * padded_tokens / 1e9


def reference_side(tweets: list[str], encoder: Path) -> tuple[Callable, int]:
    """The tutorial's inference on our encoder: per-tweet tokenizer calls padded to 64, its DataLoader, `bert_predict`."""
    from benchmarks import reference
    from complaints.text.pretrained import load_tokenizer

    tokenizer = load_tokenizer(str(encoder))
    model = reference.BertClassifier(str(encoder))

    def probabilities(texts: list[str]) -> np.ndarray:
        inputs, masks = reference.preprocessing_for_bert(tokenizer, texts, 64)
        return reference.bert_predict(model, reference.predict_loader(inputs, masks))[:, 1]

    return probabilities, len(tweets) * 64


def our_side(engine: str, tweets: list[str]) -> tuple[Callable, int]:
    """The project's predictor with one engine; padded tokens of its length-sorted batches."""
    from complaints.text.encoding import encode
    from complaints.serving.predictor import Predictor
    from complaints.text.tokens import sorted_batches

    predictor = Predictor.load(SERVING, BATCH_SIZE, engine=engine)
    lengths = encode(predictor.tokenizer, tweets, predictor.max_length)["attention_mask"].sum(axis=1)
    padded = sum(len(batch) * int(lengths[batch].max()) for batch in sorted_batches(lengths, BATCH_SIZE))
    return predictor.non_complaint_probability, padded


def side(name: str, output: Path, encoder: Path) -> dict:
    """Time one engine in this process; its probabilities go to `output`."""
    tweets = test_tweets()
    if name == "reference":
        probabilities, padded = reference_side(tweets, encoder)
    else:
        probabilities, padded = our_side(name, tweets)
    probability, seconds, figures = timed(probabilities, tweets, LATENCY_TWEETS)
    np.save(output, np.asarray(probability, dtype=np.float64))
    return figures | {
        "gflop_per_s": matmul_gflop(padded) / seconds,
        "fraction_of_fp32_peak": matmul_gflop(padded) / seconds / PEAK_GFLOPS,
        "padded_tokens": padded,
    }


def timed(probabilities: Callable, tweets: list[str], latency_tweets: int) -> tuple[np.ndarray, float, dict]:
    """Score `tweets` after a warm-up, then the first `latency_tweets` one at a time: the probabilities, the seconds
    of the whole run, and tweets/s, single-tweet latency (p50, p95) and this process's peak memory."""
    probabilities(tweets[:16])  # warm-up: first calls allocate
    started = time.perf_counter()
    probability = probabilities(tweets)
    seconds = time.perf_counter() - started
    latency = []
    for tweet in tweets[:latency_tweets]:
        started = time.perf_counter()
        probabilities([tweet])
        latency.append(time.perf_counter() - started)
    return probability, seconds, {
        "tweets_per_s": len(tweets) / seconds,
        "latency_p50_ms": 1000 * float(np.percentile(latency, 50)),
        "latency_p95_ms": 1000 * float(np.percentile(latency, 95)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measured_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    """The best fp32 matrix-multiply rate this machine's cores reach (numpy's BLAS on every core): its real peak."""
    matrix = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        matrix @ matrix
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 / best / 1e9


def agreement(probability: np.ndarray, reference: np.ndarray, threshold: float) -> dict:
    """Against PyTorch fp32: largest probability change, labels kept at the threshold, change in non-complaints."""
    labels, reference_labels = probability > threshold, reference > threshold
    return {"max_probability_change": float(np.abs(probability - reference).max()),
            "labels_kept": float((labels == reference_labels).mean()),
            "non_complaints": int(labels.sum()),
            "non_complaints_change": int(labels.sum()) - int(reference_labels.sum())}


def main(argv: list[str] | None = None) -> None:
    """Run every side in its own process, compare, print, save."""
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    arguments.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    arguments.add_argument("--encoder", type=Path, help=argparse.SUPPRESS)
    args = arguments.parse_args(argv)
    if args.side:
        print(json.dumps(side(args.side, args.output, args.encoder)))
        return
    threshold = json.loads((ROOT / "metrics" / "threshold.json").read_text())["threshold"]
    figures, probability = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        encoder = Path(scratch) / "encoder"
        encoder_only(encoder)
        for name in SIDES:
            output = Path(scratch) / f"{name}.npy"
            command = [sys.executable, "-m", "benchmarks.engines", "--side", name, "--output", str(output),
                       "--encoder", str(encoder)]
            result = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
            figures[name] = json.loads(result.stdout.strip().splitlines()[-1])
            probability[name] = np.load(output)
    peak = measured_peak_gflops()
    for name in SIDES:
        figures[name]["fraction_of_measured_peak"] = figures[name]["gflop_per_s"] / peak
    for name in SIDES[1:]:
        figures[name] |= agreement(probability[name], probability["torch"], threshold)
        figures[name]["speed_vs_reference"] = figures[name]["tweets_per_s"] / figures["reference"]["tweets_per_s"]
    result = {**run_header(), "threshold": threshold, "tweets": len(probability["torch"]),
              "measured_peak_gflops": peak, "nominal_peak_gflops": PEAK_GFLOPS, "engines": figures}
    print(json.dumps(result, indent=2))
    save(result, "engines")


def encoder_only(folder: Path) -> None:
    """The serving model's encoder and tokenizer as a plain transformers model, for the tutorial's classifier."""
    from complaints.modeling.model import load_classifier
    from complaints.serving.predictor import folder_tokenizer

    load_classifier(SERVING).encoder.save_pretrained(folder)
    folder_tokenizer(SERVING).save_pretrained(folder)


if __name__ == "__main__":
    main()
