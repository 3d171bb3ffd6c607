"""The HTTP service: FastAPI over the one predictor, loaded once at start-up.

    POST /predict  {"texts": ["...", ...]}  ->  {"predictions": [{"label", "non_complaint_probability"}], "threshold", "model"}
    GET  /health   the process is up
    GET  /info     model, its digest, threshold, validation AUC, project version
    GET  /docs     OpenAPI documentation

The service keeps no state between requests, so replicas behind a load balancer scale it out. One request at a time
runs the model (torch's threads are shared); at most `max_in_flight` requests wait, the next are answered 503.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Literal

import yaml
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from complaints.config import require
from complaints.io import read_json
from complaints.modelfolder import Threshold, default_threshold, labels_at
from complaints.predictor import Predictor

SETTINGS_VARIABLE = "COMPLAINTS_SERVE_SETTINGS"


@dataclass(frozen=True)
class ServeParams:
    """The `serve` section: request limits, waiting requests, inference batch size."""

    max_texts: int = 256
    max_chars: int = 1000
    max_in_flight: int = 64
    batch_size: int = 64

    def __post_init__(self) -> None:
        for key in ("max_texts", "max_chars", "max_in_flight", "batch_size"):
            require(getattr(self, key) >= 1, f"serve.{key}", getattr(self, key), "an integer >= 1")


@dataclass(frozen=True)
class ServeSettings:
    """What one service process needs: the model folder, an optional threshold, the limits and its CPU threads."""

    model: str
    engine: str
    threshold: float | None
    limits: ServeParams
    threads: int | None = None
    project_root: str = "."

    def to_json(self) -> str:
        """The settings as JSON, to hand to worker processes."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        """Settings written by `to_json`."""
        values = json.loads(text)
        return cls(**(values | {"limits": ServeParams(**values["limits"])}))


class PredictRequest(BaseModel):
    """Raw tweets to score."""

    model_config = ConfigDict(extra="forbid")
    texts: list[str] = Field(min_length=1, description="tweets, as written; answered in this order")


class Prediction(BaseModel):
    """One tweet's decision."""

    label: Literal["complaint", "non-complaint"]
    non_complaint_probability: float


class PredictResponse(BaseModel):
    """The decisions, with the threshold and the model that made them."""

    predictions: list[Prediction]
    threshold: float
    model: str


def folder_digest(folder: Path, project_root: Path) -> str:
    """The folder's md5 in the project's dvc.lock (DVC's own hash), else a SHA-256 over its files' names and bytes."""
    lock = project_root / "dvc.lock"
    with_root = folder.resolve()
    if lock.is_file() and with_root.is_relative_to(project_root.resolve()):
        relative = str(with_root.relative_to(project_root.resolve()))
        for stage in (yaml.safe_load(lock.read_text()) or {}).get("stages", {}).values():
            for out in stage.get("outs", []):
                if out.get("path") == relative and "md5" in out:
                    return f"dvc-md5:{out['md5']}"
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return f"sha256:{digest.hexdigest()}"


def validation_auc(folder: Path, project_root: Path) -> float | None:
    """The recipe's validation AUC: from a release's release.json, else from the project's metrics/bert.json."""
    for path, key in ((folder / "release.json", "validation_auc"), (project_root / "metrics" / "bert.json", "auc")):
        if path.is_file():
            return read_json(path).get(key)
    return None


def model_info(folder: Path, project_root: Path, threshold: Threshold, engine: str) -> dict:
    """What /info reports about the loaded model."""
    training = folder / "training.json"
    return {
        "model": folder.name,
        "engine": engine,
        "base_model": read_json(training)["model"]["name"] if training.is_file() else None,
        "digest": folder_digest(folder, project_root),
        "threshold": threshold.value,
        "threshold_source": threshold.source,
        "validation_auc": validation_auc(folder, project_root),
        "project_version": version("complaints"),
    }


def create_app(settings: ServeSettings) -> FastAPI:
    """The service for these settings; the model loads once, when the server starts."""
    state: dict = {}
    model_lock = threading.Lock()
    in_flight = threading.BoundedSemaphore(settings.limits.max_in_flight)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        folder, root = Path(settings.model), Path(settings.project_root)
        state["predictor"] = Predictor.load(folder, settings.limits.batch_size, settings.threads, settings.engine)
        threshold = (Threshold(settings.threshold, "--threshold") if settings.threshold is not None
                     else default_threshold(folder, root))
        state["threshold"] = threshold
        state["info"] = model_info(folder, root, threshold, settings.engine)
        state["model"] = f"{folder.name}@{state['info']['digest'].split(':')[1][:12]}"
        yield
        state.clear()

    app = FastAPI(title="Airline complaints", version=version("complaints"), lifespan=lifespan,
                  description="Is a tweet a complaint? The pipeline's model and threshold, over HTTP.")

    @app.get("/health")
    def health() -> dict:
        """The process is up and the model is loaded."""
        return {"status": "ok"}

    @app.get("/info")
    def info() -> dict:
        """The model, its digest, the threshold and where it came from, validation AUC, project version."""
        return state["info"]

    @app.post("/predict", response_model=PredictResponse)
    def predict(request: PredictRequest) -> PredictResponse:
        """Label each tweet `complaint` or `non-complaint` (probability above the threshold), in the input's order."""
        limits = settings.limits
        if len(request.texts) > limits.max_texts:
            raise HTTPException(413, f"{len(request.texts)} texts in one request; the limit is {limits.max_texts} "
                                     f"(serve.max_texts, --max-texts)")
        for index, text in enumerate(request.texts):
            if len(text) > limits.max_chars:
                raise HTTPException(422, f"texts[{index}] has {len(text)} characters; the limit is {limits.max_chars} "
                                         f"(serve.max_chars, --max-chars)")
        if not in_flight.acquire(blocking=False):
            raise HTTPException(503, f"busy: {limits.max_in_flight} requests already waiting (serve.max_in_flight); "
                                     f"retry shortly", headers={"Retry-After": "1"})
        try:
            with model_lock:
                probability = state["predictor"].non_complaint_probability(request.texts)
        finally:
            in_flight.release()
        threshold = state["threshold"].value
        labels = labels_at(probability, threshold)
        return PredictResponse(
            predictions=[Prediction(label=label, non_complaint_probability=float(value))
                         for label, value in zip(labels, probability)],
            threshold=threshold, model=state["model"],
        )

    return app


def app_from_environment() -> FastAPI:
    """The app for the settings the `complaints serve` parent put in the environment (one per uvicorn worker)."""
    return create_app(ServeSettings.from_json(os.environ[SETTINGS_VARIABLE]))
