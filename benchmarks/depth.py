"""The shallower student's speed: each student refit of the models list through the PyTorch engine, and the tutorial's
inference code on the embedded encoder, each in its own process in one run on this machine.

Reports tweets/s on the 4,553 test tweets, single-tweet latency (p50, p95), peak memory, the encoder's depth and the
speed against the tutorial's code. PyTorch rather than ONNX: a student's ONNX graphs exist only once it is released
(`release.recipe`), and the depth divides the encoder's work alike on every engine (`benchmarks.engines` gives the
engines' own factors on the released model).
Needs `dvc repro distill/dvc.yaml` (or `dvc pull`): models/student_full, models/student_3_layers_full, data/split.
Run:  python -m benchmarks.depth              # about 3 minutes on 2 cores
Writes benchmarks/results/depth.json and a dated copy; `python -m benchmarks.report` puts the table in the docs.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.compare import ROOT, run_header, save
from benchmarks.engines import LATENCY_TWEETS, BATCH_SIZE, reference_side, test_tweets, timed
from complaints.evaluation.model_list import load_models
from complaints.text.pretrained import resolve_model

REFERENCE = "tutorial's code"


def student_refits() -> list[str]:
    """The refits of the models list's students, in the order written."""
    return [name for name, entry in load_models(ROOT / "params.yaml").items() if entry.group == "student_refits"]


def side(name: str) -> dict:
    """Time one model (or the tutorial's code on the embedded encoder) in this process."""
    from complaints.serving.predictor import Predictor

    tweets = test_tweets()
    if name == REFERENCE:
        probabilities, _ = reference_side(tweets, Path(resolve_model("embedded")))
        return timed(probabilities, tweets, LATENCY_TWEETS)[2]
    folder = ROOT / "models" / name
    predictor = Predictor.load(folder, BATCH_SIZE, engine="torch")
    layers = json.loads((folder / "config.json").read_text())["encoder"]["num_hidden_layers"]
    return timed(predictor.non_complaint_probability, tweets, LATENCY_TWEETS)[2] | {"encoder_layers": layers}


def main(argv: list[str] | None = None) -> None:
    """Time every side in its own process, print and save."""
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--side", help=argparse.SUPPRESS)
    arguments.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = arguments.parse_args(argv)
    if args.side:
        args.output.write_text(json.dumps(side(args.side)))
        return
    sides = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in (REFERENCE, *student_refits()):
            output = Path(scratch) / "side.json"
            subprocess.run([sys.executable, "-m", "benchmarks.depth", "--side", name, "--output", str(output)],
                           cwd=ROOT, check=True)
            sides[name] = json.loads(output.read_text())
    for figures in sides.values():
        figures["speed_vs_tutorial"] = figures["tweets_per_s"] / sides[REFERENCE]["tweets_per_s"]
    result = {**run_header(), "engine": "torch", "tweets": len(test_tweets()), "sides": sides}
    print(json.dumps(result, indent=2))
    save(result, "depth")


if __name__ == "__main__":
    main()
