"""Export the refit model for ONNX Runtime and make it the serving folder: a fused fp32 graph and its int8
quantization (the encoder layers `export.int8_fp32_layers` left in fp32) beside the model's own files, the
pipeline's threshold and a manifest of digests and of the default engine.

The fp32 graph is checked against PyTorch on every validation and test tweet, and each ONNX engine is judged by the
decisions it changes (`engines` gate: validation AUC change, test labels kept at the threshold); the stage fails when
the engine `predict.engine` names does not pass.

Reads: models/bert_full, data/split/{val,test}.parquet, reports/threshold.json, params `export`, `engines`,
`predict.engine`.
Writes: models/serving/ (the refit model folder's files, model.onnx, model_int8.onnx, threshold.json, manifest.json),
metrics/engines/{engine}.json (test labels kept at the threshold and the test tweets called non-complaints),
reports/export.json (largest probability difference of each ONNX engine from PyTorch, the fused operators, and each
engine's whole judgement)
Run:   python -m stages.export --model models/bert_full --split data/split --threshold reports/threshold.json \
           --out models/serving --metrics metrics/engines --report reports/export.json
"""
from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from complaints.core import stage
from complaints.core.machine import pin_threads
from complaints.core.config import load_section
from complaints.core.decision import THRESHOLD_FILE
from complaints.core.io import atomic_dir, read_json, read_parquet, write_json
from complaints.serving.modelfolder import ENGINES, MANIFEST_FILE, manifest
from complaints.serving.onnx_export import ExportError, ExportParams, checked_difference, export_folder
from complaints.serving.labeling import PredictParams
from complaints.serving.predictor import Predictor
from complaints.evaluation.figures import EngineGate, engine_judgement

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Export, fuse, quantize, check, judge, add the threshold and the manifest."""
    arguments = stage.parser(__doc__)
    for option in ("--model", "--split", "--threshold", "--out", "--metrics", "--report"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "export", ExportParams)
    gate = load_section(args.params, "engines", EngineGate)
    default_engine = load_section(args.params, "predict", PredictParams).engine

    validation, test = (read_parquet(args.split / f"{split}.parquet") for split in ("val", "test"))
    texts, val_rows = validation["text"].tolist() + test["text"].tolist(), len(validation)
    chosen = read_json(args.threshold)
    with atomic_dir(args.out) as staging, tempfile.TemporaryDirectory() as scratch:
        fused = export_folder(args.model, staging, Path(scratch), params.int8_fp32_layers)
        probability = {engine: Predictor.load(staging, params.batch_size, engine=engine).non_complaint_probability(texts)
                       for engine in ENGINES}
        difference = {"onnx": checked_difference(args.out, probability["onnx"], probability["torch"], params.max_difference),
                      "onnx-int8": float(np.abs(probability["onnx-int8"] - probability["torch"]).max())}
        logger.info("largest difference from PyTorch on %d tweets: fp32 %.2e, int8 %.2e; fused %s", len(texts),
                    difference["onnx"], difference["onnx-int8"], fused)
        judgement = {engine: engine_judgement(validation["label"].to_numpy(), probability["torch"][:val_rows],
                                              probability[engine][:val_rows], probability["torch"][val_rows:],
                                              probability[engine][val_rows:], chosen["threshold"], gate)
                     for engine in ENGINES[1:]}
        if default_engine != "torch" and not judgement[default_engine]["passes_gate"]:
            raise ExportError(f"{args.out}: the default engine {default_engine} (params key 'predict.engine') does not "
                              f"pass the engines gate: {judgement[default_engine]}; choose another engine or loosen "
                              f"'engines.max_auc_change' / 'engines.min_label_agreement'")
        write_json({key: chosen[key] for key in ("threshold", "strategy", "val_precision", "val_recall")},
                   staging / THRESHOLD_FILE)
        write_json(manifest(staging, default_engine), staging / MANIFEST_FILE)
    with atomic_dir(args.metrics) as staging:
        for engine, figures in judgement.items():
            write_json({"labels_kept": figures["test_label_agreement"], "non_complaints": figures["test_non_complaints"]},
                       staging / f"{engine}.json")
    write_json({"tweets_checked": len(texts), "onnx_max_difference": difference["onnx"],
                "onnx_int8_max_difference": difference["onnx-int8"], "fused_operators": fused,
                "default_engine": default_engine, "int8_fp32_layers": list(params.int8_fp32_layers),
                "engines": {engine.replace("-", "_"): figures for engine, figures in judgement.items()}}, args.report)


if __name__ == "__main__":
    stage.run(main, setup=pin_threads)
