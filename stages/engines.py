"""Judge the ONNX engines by the decisions they change, against PyTorch fp32.

Validation is scored by models/bert (exported and quantized here, as the export stage does for the refit model):
the refit model has trained on the validation tweets. The test tweets are scored by each engine of models/serving and
labeled at the pipeline's threshold.

Reads: models/bert, models/serving, data/split/{val,test}.parquet, metrics/threshold.json, params `engines`.
Writes: metrics/engines.json (per engine: validation AUC and F1 and their change, test labels kept, the change in the
count of non-complaints, and whether it passes the gate)
Run:   python -m stages.engines --selection-model models/bert --serving models/serving --split data/split \
           --threshold metrics/threshold.json --metrics metrics/engines.json
"""
from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from complaints import cli
from complaints.config import load_section
from complaints.io import read_json, read_parquet, write_json
from complaints.modelfolder import ENGINES
from complaints.onnx_export import export_folder
from complaints.predictor import Predictor
from complaints.reporting import EngineGate, engine_judgement

logger = logging.getLogger(__name__)


def probabilities(folder: Path, texts: list[str], batch_size: int) -> dict:
    """Every engine's non-complaint probability of `texts`."""
    return {engine: Predictor.load(folder, batch_size, engine=engine).non_complaint_probability(texts) for engine in ENGINES}


def main(argv: Sequence[str] | None = None) -> None:
    """Score validation and test with every engine; compare each ONNX engine with PyTorch."""
    arguments = cli.parser(__doc__)
    for option in ("--selection-model", "--serving", "--split", "--threshold", "--metrics"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    gate = load_section(args.params, "engines", EngineGate)

    validation, test = (read_parquet(args.split / f"{split}.parquet") for split in ("val", "test"))
    with tempfile.TemporaryDirectory() as scratch:
        selection = Path(scratch) / "selection"
        selection.mkdir()
        export_folder(args.selection_model, selection, Path(scratch))
        val = probabilities(selection, validation["text"].tolist(), gate.batch_size)
    test_probability = probabilities(args.serving, test["text"].tolist(), gate.batch_size)
    threshold = read_json(args.threshold)["threshold"]
    judgement = {"threshold": threshold}
    for engine in ENGINES[1:]:
        judgement[engine.replace("-", "_")] = engine_judgement(
            validation["label"].to_numpy(), val["torch"], val[engine], test_probability["torch"],
            test_probability[engine], threshold, gate)
        logger.info("%s: %s", engine, judgement[engine.replace("-", "_")])
    write_json(judgement, args.metrics)


if __name__ == "__main__":
    cli.run(main)
