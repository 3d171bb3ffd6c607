"""What a model folder must hold, and the decision threshold that goes with it: light enough to check before torch loads."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from complaints.io import DataError, read_json

LABEL_WORDS = ("complaint", "non-complaint")  # labels 0 and 1, as the model's config.json `id2label`
ENGINES = ("torch", "onnx", "onnx-int8")
ENGINE_FILES = {"torch": "model.safetensors", "onnx": "model.onnx", "onnx-int8": "model_int8.onnx"}
THRESHOLD_FILE = "threshold.json"
PROJECT_THRESHOLD = Path("metrics") / "threshold.json"


class ModelNotFound(DataError):
    """The model folder is missing or incomplete."""


@dataclass(frozen=True)
class Threshold:
    """The decision threshold and where it came from."""

    value: float
    source: str


def engine_file(folder: Path, engine: str) -> Path:
    """The file an engine runs: the safetensors weights, or an exported ONNX graph."""
    if engine not in ENGINES:
        raise DataError(f"engine {engine!r}: expected one of {', '.join(ENGINES)}")
    return folder / ENGINE_FILES[engine]


def resolve_engine(folder: Path, engine: str) -> str:
    """`auto`: the fused fp32 ONNX graph when the folder has one (the export stage's models/serving), else PyTorch."""
    if engine != "auto":
        return engine
    return "onnx" if engine_file(folder, "onnx").is_file() else "torch"


def check_model_folder(folder: Path, engine: str = "torch") -> None:
    """A model folder must hold a config.json, its tokenizer and the engine's weights; say how to get them."""
    if not folder.is_dir():
        raise ModelNotFound(f"{folder}: no such model folder; run `dvc repro` to train it or `dvc pull` to fetch it, "
                            f"or pass --model")
    needed = ("config.json", "tokenizer_config.json", engine_file(folder, engine).name)
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        hint = " (the ONNX files come from the `export` stage)" if engine != "torch" else ""
        raise ModelNotFound(f"{folder}: no {', '.join(missing)} for engine {engine}{hint}; run `dvc repro` to make "
                            f"it or `dvc pull` to fetch it, or pass --model")


def default_threshold(folder: Path, project_root: Path) -> Threshold:
    """The threshold shipped in the model folder, else the one the `threshold` stage chose in this project."""
    for path, source in ((folder / THRESHOLD_FILE, f"{folder.name}/{THRESHOLD_FILE}"),
                         (project_root / PROJECT_THRESHOLD, str(PROJECT_THRESHOLD))):
        if path.is_file():
            value = read_json(path).get("threshold")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
                raise DataError(f"{path}: 'threshold' is {value!r}, expected a number in [0, 1)")
            return Threshold(float(value), source)
    raise DataError(f"no threshold: neither {folder / THRESHOLD_FILE} nor {project_root / PROJECT_THRESHOLD} exists; "
                    f"run `dvc repro threshold` or pass --threshold")


def labels_at(non_complaint_probability: np.ndarray, threshold: float) -> np.ndarray:
    """`non-complaint` where the probability is above the threshold, else `complaint` (the tutorial's rule)."""
    return np.where(non_complaint_probability > threshold, LABEL_WORDS[1], LABEL_WORDS[0])
