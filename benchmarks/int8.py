"""int8 options for the serving graph, judged by the export stage's gate: test labels kept at the folder's threshold,
the change in validation and external AUC against ONNX fp32, and tweets/s on the test tweets, on this machine.

Options: dynamic quantization of every layer; static (calibrated on training tweets) QDQ, per tensor and per channel; and
dynamic quantization leaving the most sensitive nodes in fp32, found by measuring each encoder layer's effect on the
test labels alone (its attention, its output projections) and the head's.

Needs the pipeline's outputs (`dvc repro` or `dvc pull`): models/serving, data/split, data/external.
Run:  python -m benchmarks.int8                 # about 10 minutes on 2 cores
Writes benchmarks/results/int8.json and a dated copy; `python -m benchmarks.report` puts the table in the docs.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
from onnxruntime.quantization import (
    CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static,
)
from sklearn.metrics import roc_auc_score

from benchmarks.compare import ROOT, run_header, save
from complaints.core.decision import is_non_complaint
from complaints.text.encoding import encode
from complaints.evaluation.figures import EngineGate
from complaints.serving.modelfolder import ENGINE_FILES, folder_threshold
from complaints.serving.onnx_export import node_groups
from complaints.serving.predictor import Predictor, folder_tokenizer

SERVING = ROOT / "models" / "serving"
CALIBRATION_TWEETS = 256
GATE = EngineGate()


def tweets() -> dict[str, pd.DataFrame]:
    """The tweets each figure is measured on."""
    split = {name: pd.read_parquet(ROOT / "data" / "split" / f"{name}.parquet") for name in ("train", "val", "test")}
    return split | {"external": pd.read_parquet(ROOT / "data" / "external" / "tweets.parquet")}


class TrainingTweets(CalibrationDataReader):
    """Token batches of training tweets for static calibration, as the predictor feeds the graph."""

    def __init__(self, texts: list[str]) -> None:
        tokenizer, config = folder_tokenizer(SERVING), json.loads((SERVING / "config.json").read_text())
        tokens = encode(tokenizer, texts, config["max_length"])
        self.batches = iter([{name: tokens[name][start:start + 16].astype(np.int64)
                              for name in ("input_ids", "attention_mask")} for start in range(0, len(texts), 16)])

    def get_next(self) -> dict | None:
        """The next batch, or None when done."""
        return next(self.batches, None)


def quantized(option: str, source: Path, target: Path, calibration: list[str], excluded: list[str]) -> None:
    """Write the int8 graph of `option`."""
    logging.disable(logging.INFO)
    try:
        if option.startswith("static"):
            quantize_static(source, target, TrainingTweets(calibration), quant_format=QuantFormat.QDQ,
                            per_channel="per channel" in option, activation_type=QuantType.QInt8,
                            weight_type=QuantType.QInt8, reduce_range=True, nodes_to_exclude=excluded,
                            extra_options={"ActivationSymmetric": True})
        else:
            quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                             nodes_to_exclude=excluded, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        logging.disable(logging.NOTSET)


def scores(folder: Path, engine: str, data: dict[str, pd.DataFrame]) -> tuple[dict[str, np.ndarray], float]:
    """Each set's probabilities through `engine`, and tweets/s on the test tweets."""
    predictor = Predictor.load(folder, batch_size=64, engine=engine)
    predictor.non_complaint_probability(data["test"]["text"].tolist()[:64])
    started = time.perf_counter()
    probability = {"test": predictor.non_complaint_probability(data["test"]["text"].tolist())}
    speed = len(data["test"]) / (time.perf_counter() - started)
    for name in ("val", "external"):
        probability[name] = predictor.non_complaint_probability(data[name]["text"].tolist())
    return probability, speed


def judged(probability: dict, reference: dict, data: dict, threshold: float, speed: float) -> dict:
    """Labels kept, AUC changes and speed against fp32, and whether the gate passes."""
    kept = float((is_non_complaint(probability["test"], threshold) == is_non_complaint(reference["test"], threshold)).mean())
    change = {name: float(roc_auc_score(data[name]["label"], probability[name])
                          - roc_auc_score(data[name]["label"], reference[name])) for name in ("val", "external")}
    return {"test_labels_kept": kept, "val_auc_change": change["val"], "external_auc_change": change["external"],
            "tweets_per_s": speed, "passes_gate": abs(change["val"]) <= GATE.max_auc_change and kept >= GATE.min_label_agreement}


def main() -> None:
    """Measure every option, print, save."""
    data, threshold = tweets(), folder_threshold(SERVING).value
    calibration = data["train"]["text"].sample(CALIBRATION_TWEETS, random_state=0).tolist()
    reference, fp32_speed = scores(SERVING, "onnx", data)
    result = {**run_header(), "threshold": threshold, "fp32_tweets_per_s": fp32_speed, "options": {}}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "serving"
        shutil.copytree(SERVING, folder)
        source, target = SERVING / ENGINE_FILES["onnx"], folder / ENGINE_FILES["onnx-int8"]

        def measure(option: str, excluded: list[str] = ()) -> dict:
            quantized(option, source, target, calibration, list(excluded))
            probability, speed = scores(folder, "onnx-int8", data)
            figures = judged(probability, reference, data, threshold, speed)
            print(option, json.dumps(figures), flush=True)
            return figures

        groups = node_groups(source)
        result["options"]["dynamic, every layer in int8"] = measure("dynamic, every layer in int8")
        # Static QDQ cannot scale the head's int32 bias after mean pooling (ONNX Runtime raises): the head stays fp32.
        for option in ("static QDQ, per tensor, head in fp32", "static QDQ, per channel, head in fp32"):
            result["options"][option] = measure(option, groups["head"])
        sensitivity = {name: measure(f"dynamic, {name} alone in fp32", nodes)["test_labels_kept"]
                       for name, nodes in groups.items()}
        result["sensitivity"] = sensitivity
        ranked = sorted(sensitivity, key=sensitivity.get, reverse=True)
        for count in (1, 2, 3):
            kept_fp32 = ranked[:count]
            name = f"dynamic, {', '.join(kept_fp32)} in fp32"
            result["options"][name] = measure(name, [node for group in kept_fp32 for node in groups[group]])
    passing = [name for name, figures in result["options"].items() if figures["passes_gate"]]
    result["fastest_passing"] = max(passing, key=lambda name: result["options"][name]["tweets_per_s"]) if passing else None
    print(json.dumps(result, indent=2))
    save(result, "int8")


if __name__ == "__main__":
    main()
