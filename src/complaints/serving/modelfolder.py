"""What a model folder must hold (config, tokenizer, an engine's weights, its threshold), and an ensemble folder (its
member model folders and their weights in `ensemble.json`): light enough to check before torch loads."""
from __future__ import annotations

import hashlib
from pathlib import Path

from complaints.core.decision import THRESHOLD_FILE, Threshold, read_threshold
from complaints.core.io import DataError, read_json

ENGINES = ("torch", "onnx", "onnx-int8")
ENGINE_FILES = {"torch": "model.safetensors", "onnx": "model.onnx", "onnx-int8": "model_int8.onnx"}
MANIFEST_FILE = "manifest.json"
ENSEMBLE_FILE = "ensemble.json"


class ModelNotFound(DataError):
    """The model folder is missing or incomplete."""


def engine_file(folder: Path, engine: str) -> Path:
    """The file an engine runs: the safetensors weights, or an exported ONNX graph."""
    if engine not in ENGINES:
        raise DataError(f"engine {engine!r}: expected one of {', '.join(ENGINES)}")
    return folder / ENGINE_FILES[engine]


def resolve_engine(folder: Path, engine: str) -> str:
    """`auto`: the engine the folder's manifest names (the export stage's choice, judged by its gate), else the fused
    fp32 ONNX graph when the folder has one, else PyTorch."""
    if engine != "auto":
        return engine
    path = folder / MANIFEST_FILE
    chosen = read_json(path).get("engine") if path.is_file() else None
    if chosen is not None:
        if chosen not in ENGINES:
            raise DataError(f"{path}: 'engine' is {chosen!r}, expected one of {', '.join(ENGINES)}; rerun `dvc repro export`")
        return chosen
    return "onnx" if engine_file(folder, "onnx").is_file() else "torch"


def ensemble_members(folder: Path) -> dict[str, float] | None:
    """An ensemble folder's members (member folder name -> its weight in the average of their probabilities, from
    `ensemble.json`), or None for a plain model folder."""
    path = folder / ENSEMBLE_FILE
    if not path.is_file():
        return None
    members = read_json(path).get("members")
    expected = "an object of member folder names (inside the folder) to weights >= 0 that sum to 1"
    if not isinstance(members, dict) or not members:
        raise DataError(f"{path}: 'members' is {members!r}, expected {expected}")
    for name, weight in members.items():
        if Path(name).name != name or name.startswith(".") or isinstance(weight, bool) \
                or not isinstance(weight, (int, float)) or weight < 0:
            raise DataError(f"{path}: member {name!r} with weight {weight!r}; 'members' must be {expected}")
    if abs(sum(members.values()) - 1) > 1e-6:
        raise DataError(f"{path}: the weights in 'members' sum to {sum(members.values())}, expected {expected}")
    return {name: float(weight) for name, weight in members.items()}


def check_model_folder(folder: Path, engine: str = "torch") -> None:
    """A model folder must hold a config.json, its tokenizer and the engine's weights (an ensemble folder: each member
    folder); say how to get them."""
    if not folder.is_dir():
        raise ModelNotFound(f"{folder}: no such model folder; run `dvc repro` to train it or `dvc pull` to fetch it, "
                            f"or pass --model")
    members = ensemble_members(folder)
    if members is not None:
        for name in members:
            check_model_folder(folder / name, engine)
        return
    needed = ("config.json", "tokenizer_config.json", engine_file(folder, engine).name)
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        hint = " (the ONNX files come from the `export` stage)" if engine != "torch" else ""
        raise ModelNotFound(f"{folder}: no {', '.join(missing)} for engine {engine}{hint}; run `dvc repro` to make "
                            f"it or `dvc pull` to fetch it, or pass --model")


def folder_threshold(folder: Path) -> Threshold:
    """The threshold the model folder carries (its `threshold.json`, written by the export stage)."""
    return read_threshold(folder / THRESHOLD_FILE, f"{folder.name}/{THRESHOLD_FILE}")


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of each file the folder holds (an ensemble's member folders too), by its path inside the folder, but
    the manifest itself."""
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and path.relative_to(folder).as_posix() != MANIFEST_FILE}


def manifest(folder: Path, engine: str | None = None) -> dict:
    """Each file's digest and one digest over them all (what identifies the model wherever it is copied), and the
    engine its users run by default."""
    files = file_digests(folder)
    overall = hashlib.sha256("".join(f"{name}\0{digest}\n" for name, digest in files.items()).encode()).hexdigest()
    return {"digest": f"sha256:{overall}", "files": files} | ({"engine": engine} if engine else {})


def folder_digest(folder: Path) -> str:
    """The digest in the folder's manifest.json (written by the export stage), else computed from its files."""
    path = folder / MANIFEST_FILE
    return read_json(path)["digest"] if path.is_file() else manifest(folder)["digest"]
