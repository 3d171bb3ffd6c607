"""Export the refit model for ONNX Runtime: a fused fp32 graph and its int8 quantization beside the model's own files,
the fp32 graph checked against PyTorch on every validation and test tweet.

Reads: models/bert_full, data/split/{val,test}.parquet, params `export`.
Writes: models/serving/ (the refit model folder's files, model.onnx, model_int8.onnx), metrics/export.json (largest
probability difference of each ONNX engine from PyTorch, the fused operators)
Run:   python -m stages.export --model models/bert_full --split data/split --out models/serving --metrics metrics/export.json
"""
from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from complaints import cli
from complaints.config import load_section
from complaints.io import atomic_dir, read_parquet, write_json
from complaints.onnx_export import ExportError, ExportParams, export_folder
from complaints.predictor import Predictor

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Export, fuse, quantize, check."""
    arguments = cli.parser(__doc__)
    for option in ("--model", "--split", "--out", "--metrics"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "export", ExportParams)

    texts = sum((read_parquet(args.split / f"{split}.parquet")["text"].tolist() for split in ("val", "test")), [])
    with atomic_dir(args.out) as staging, tempfile.TemporaryDirectory() as scratch:
        fused = export_folder(args.model, staging, Path(scratch))
        probability = {engine: Predictor.load(staging, params.batch_size, engine=engine).non_complaint_probability(texts)
                       for engine in ("torch", "onnx", "onnx-int8")}
        difference = {engine: float(np.abs(probability[engine] - probability["torch"]).max()) for engine in ("onnx", "onnx-int8")}
        logger.info("largest difference from PyTorch on %d tweets: fp32 %.2e, int8 %.2e; fused %s", len(texts),
                    difference["onnx"], difference["onnx-int8"], fused)
        if difference["onnx"] > params.max_difference:
            raise ExportError(f"{args.out}: the fp32 ONNX graph differs from PyTorch by up to {difference['onnx']:.2e} "
                              f"on the validation and test tweets; export.max_difference is {params.max_difference}")
    write_json({"tweets_checked": len(texts), "onnx_max_difference": difference["onnx"],
                "onnx_int8_max_difference": difference["onnx-int8"], "fused_operators": fused}, args.metrics)


if __name__ == "__main__":
    cli.run(main)
