"""The large release against the default one on this machine: tweets/s on the 4,553 test tweets (raw tweets to
probabilities, tokenization included), single-tweet latency (p50, p95) and peak memory, each serving folder with its
default engine in its own process.
Needs the pipeline's outputs (`dvc repro` or `dvc pull`): models/serving, models/serving_large, data/split.
Run:  python -m benchmarks.large             # about 3 minutes on 2 cores
Writes benchmarks/results/large.json and a dated copy; the release_large stage puts the figures in the large card.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

from benchmarks.compare import ROOT, run_header, save
from benchmarks.engines import test_tweets, timed

FOLDERS = {"default": ROOT / "models" / "serving", "large": ROOT / "models" / "serving_large"}
LATENCY_TWEETS = 100
BATCH_SIZE = 128


def side(name: str) -> dict:
    """Time one serving folder's predictor, with the engine its manifest names, in this process."""
    from complaints.serving.modelfolder import resolve_engine
    from complaints.serving.predictor import Predictor

    folder = FOLDERS[name]
    engine = resolve_engine(folder, "auto")
    predictor = Predictor.load(folder, BATCH_SIZE, engine=engine)
    _, _, figures = timed(predictor.non_complaint_probability, test_tweets(), LATENCY_TWEETS)
    return {"engine": engine} | figures


def main(argv: list[str] | None = None) -> None:
    """Run each side in its own process, print, save."""
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--side", choices=sorted(FOLDERS), help=argparse.SUPPRESS)
    args = arguments.parse_args(argv)
    if args.side:
        print(json.dumps(side(args.side)))
        return
    sides = {}
    for name in FOLDERS:
        done = subprocess.run([sys.executable, "-m", "benchmarks.large", "--side", name], cwd=ROOT, check=True,
                              capture_output=True, text=True)
        sides[name] = json.loads(done.stdout.splitlines()[-1])
        print(f"{name}: {sides[name]}")
    result = run_header() | {"batch_size": BATCH_SIZE, "latency_tweets": LATENCY_TWEETS, "sides": sides,
                             "large_speed_share": sides["large"]["tweets_per_s"] / sides["default"]["tweets_per_s"]}
    save(result, "large")
    print(f"large: {sides['large']['tweets_per_s']:,.0f} tweets/s, {result['large_speed_share']:.1%} of the default's")


if __name__ == "__main__":
    main()
