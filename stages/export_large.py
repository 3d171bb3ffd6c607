"""Export the large release's serving folder: the default recipe and the teacher (both trained on the training split,
as `bert_teacher` on validation and the external set), each as an fp32 ONNX graph in its own member folder, their
probabilities averaged with the teacher's share the teacher_share stage chose (ensemble.json), and the threshold chosen by the
pipeline's rule (`threshold`) on the average.

Each member's graph is checked against PyTorch on every validation and test tweet (`export.max_difference`).
ONNX Runtime's optimizer fuses MiniLM's attention but not MPNet's (its relative position bias is not the pattern it
knows): the counts are reported, and no fusion is required here.

Reads: models/bert, models/teacher, the chosen share (models/bert_teacher.json), data/split/{val,test}.parquet,
params `export`, `threshold`.
Writes: models/serving_large/ (bert/ and teacher/: each member's files and model.onnx; ensemble.json, threshold.json,
manifest.json), reports/export_large.json (each member's largest difference from PyTorch and fused operators, the
average's validation metrics through ONNX, the threshold and the test tweets it calls non-complaints)
Run:   python -m stages.export_large --bert models/bert --teacher models/teacher --share models/bert_teacher.json \
           --split data/split --out models/serving_large --report reports/export_large.json
"""
from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from complaints.core import stage
from complaints.core.machine import pin_threads
from complaints.core.config import load_section
from complaints.core.decision import THRESHOLD_FILE, predicted_labels
from complaints.core.averaging import mean_probability
from complaints.evaluation.ensemble import teacher_share_weights
from complaints.evaluation.figures import scores_at
from complaints.core.io import atomic_dir, read_parquet, write_json
from complaints.core.metrics import classification_metrics
from complaints.serving.modelfolder import ENSEMBLE_FILE, MANIFEST_FILE, manifest
from complaints.serving.onnx_export import ExportParams, checked_difference, export_fp32
from complaints.serving.predictor import Predictor
from complaints.evaluation.threshold import ThresholdParams, choose_threshold

logger = logging.getLogger(__name__)

ENGINE = "onnx"


def main(argv: Sequence[str] | None = None) -> None:
    """Export both members, check them, weigh them, choose the threshold, add the manifest."""
    arguments = stage.parser(__doc__)
    for option in ("--bert", "--teacher", "--share", "--split", "--out", "--report"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    params = load_section(args.params, "export", ExportParams)
    weights = dict(zip(("bert", "teacher"), teacher_share_weights(args.share)))
    threshold_params = load_section(args.params, "threshold", ThresholdParams)

    validation, test = (read_parquet(args.split / f"{split}.parquet") for split in ("val", "test"))
    texts, val_rows = validation["text"].tolist() + test["text"].tolist(), len(validation)
    members, probability = {}, {}
    with atomic_dir(args.out) as staging, tempfile.TemporaryDirectory() as scratch:
        for name, folder in (("bert", args.bert), ("teacher", args.teacher)):
            (staging / name).mkdir()
            fused = export_fp32(folder, staging / name, Path(scratch))
            torch_probability, probability[name] = (
                Predictor.load(staging / name, params.batch_size, engine=engine).non_complaint_probability(texts)
                for engine in ("torch", ENGINE))
            difference = checked_difference(args.out / name, probability[name], torch_probability, params.max_difference)
            members[name] = {"weight": weights[name], "onnx_max_difference": difference, "fused_operators": fused}
            logger.info("%s: largest difference from PyTorch on %d tweets %.2e; fused %s", name, len(texts), difference,
                        fused)
        average = mean_probability([probability[name] for name in weights], list(weights.values()))
        labels = validation["label"].to_numpy()
        threshold = choose_threshold(threshold_params, labels, average[:val_rows], average[val_rows:])
        at_threshold = scores_at(labels, average[:val_rows], threshold)
        chosen = {"threshold": threshold, "strategy": threshold_params.strategy,
                  "val_precision": at_threshold["precision"], "val_recall": at_threshold["recall"]}
        write_json({"members": weights}, staging / ENSEMBLE_FILE)
        write_json(chosen, staging / THRESHOLD_FILE)
        write_json(manifest(staging, ENGINE), staging / MANIFEST_FILE)
    non_complaints = int(predicted_labels(average[val_rows:], threshold).sum())
    validation_metrics = classification_metrics(labels, average[:val_rows])
    write_json({"tweets_checked": len(texts), "engine": ENGINE, "members": members, "validation": validation_metrics,
                "threshold": chosen | {"tweets": len(test), "non_complaints": non_complaints,
                                       "non_complaint_share": non_complaints / len(test)}}, args.report)
    logger.info("large: validation AUC %.4f through ONNX; %s threshold %.4f calls %d of %d test tweets non-complaints",
                validation_metrics["auc"], threshold_params.strategy, threshold, non_complaints, len(test))


if __name__ == "__main__":
    stage.run(main, setup=pin_threads)
