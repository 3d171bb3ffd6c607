"""Time the model in use: single-tweet latency through the predictor and through the HTTP service, and the
throughput of the `complaints` CLI on a 10,000-tweet file, on this machine.

Needs the pipeline's outputs (`dvc repro` or `dvc pull`): models/serving, metrics/threshold.json, data/split.
Run:  python -m benchmarks.serving            # about 3 minutes on 2 cores
Writes benchmarks/results/serving.json and a dated copy; `python -m benchmarks.report` puts the figures in README.md.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.compare import ROOT, run_header, save

MODEL = ROOT / "models" / "serving"
ENGINE = "onnx"  # what `complaints` runs on models/serving by default
COMPLAINTS = str(Path(sys.executable).parent / "complaints")
SINGLE_TWEETS = 200
FILE_TWEETS = 10_000


def real_tweets() -> list[str]:
    """Every tweet of the tutorial's data, test first."""
    return sum((pd.read_parquet(ROOT / "data" / "split" / f"{split}.parquet")["text"].tolist()
                for split in ("test", "train", "val")), [])


def percentiles(seconds: list[float]) -> dict:
    """p50 and p95 in milliseconds."""
    return {"p50_ms": 1000 * float(np.percentile(seconds, 50)), "p95_ms": 1000 * float(np.percentile(seconds, 95))}


def predictor_latency(tweets: list[str]) -> dict:
    """One tweet per call through the in-process predictor (the first calls warm up)."""
    from complaints.predictor import Predictor

    predictor = Predictor.load(MODEL, engine=ENGINE)
    for tweet in tweets[:10]:
        predictor.non_complaint_probability([tweet])
    seconds = []
    for tweet in tweets[:SINGLE_TWEETS]:
        started = time.perf_counter()
        predictor.non_complaint_probability([tweet])
        seconds.append(time.perf_counter() - started)
    return percentiles(seconds)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_latency(tweets: list[str]) -> dict:
    """One tweet per POST /predict to `complaints serve` on 127.0.0.1, from a client in this process."""
    import httpx

    port = free_port()
    process = subprocess.Popen([COMPLAINTS, "serve", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            started = time.perf_counter()
            while True:
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            start_up = time.perf_counter() - started
            for tweet in tweets[:10]:
                client.post("/predict", json={"texts": [tweet]})
            seconds = []
            for tweet in tweets[:SINGLE_TWEETS]:
                started = time.perf_counter()
                client.post("/predict", json={"texts": [tweet]}).raise_for_status()
                seconds.append(time.perf_counter() - started)
    finally:
        process.terminate()
        process.wait()
    return {**percentiles(seconds), "start_up_s": start_up}


def cli_figures(tweets: list[str], scratch: Path) -> dict:
    """`complaints predict` on one tweet (start-up included) and on a file of 10,000 distinct tweets."""
    started = time.perf_counter()
    subprocess.run([COMPLAINTS, "predict", tweets[0]], cwd=ROOT, check=True, capture_output=True)
    one_tweet = time.perf_counter() - started
    # Distinct texts, so the predictor's scoring of identical tweets once does not flatter the figure.
    texts = [tweet if round_ == 0 else f"{tweet} ({round_ + 1})" for round_ in range(2) for tweet in tweets]
    texts = list(dict.fromkeys(texts))[:FILE_TWEETS]
    pd.DataFrame({"id": range(len(texts)), "tweet": texts}).to_csv(scratch / "tweets.csv", index=False)
    started = time.perf_counter()
    subprocess.run([COMPLAINTS, "predict", "--input", str(scratch / "tweets.csv"), "--text-column", "tweet",
                    "--id-column", "id", "--output", str(scratch / "scored.parquet")], cwd=ROOT, check=True,
                   capture_output=True)
    seconds = time.perf_counter() - started
    return {"one_tweet_s": one_tweet, "file_tweets": len(texts), "file_s": seconds, "file_tweets_per_s": len(texts) / seconds}


def main() -> None:
    """Measure, print, save."""
    tweets = real_tweets()
    with tempfile.TemporaryDirectory() as scratch:
        result = {
            **run_header(),
            "engine": ENGINE,
            "predictor": predictor_latency(tweets),
            "service": service_latency(tweets),
            "cli": cli_figures(tweets, Path(scratch)),
        }
    print(json.dumps(result, indent=2))
    save(result, "serving")


if __name__ == "__main__":
    main()
