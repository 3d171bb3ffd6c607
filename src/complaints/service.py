"""The HTTP service: FastAPI over the one predictor, loaded once at start-up.

    POST /predict  {"texts": ["...", ...]}  ->  {"predictions": [{"label", "non_complaint_probability"}], "threshold", "model"}
    GET  /health   the process is up
    GET  /info     model, its digest, threshold, validation AUC, project version
    GET  /docs     OpenAPI documentation

The service keeps no state between requests, so replicas behind a load balancer scale it out. One request at a time
runs the model (torch's threads are shared); at most `max_in_flight` requests wait, the next are answered 503.
"""
from __future__ import annotations

import json
import os
import threading
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from complaints.config import require
from complaints.io import read_json
from complaints.decision import LABEL_WORDS, Threshold, label_words
from complaints.modelfolder import folder_digest, folder_threshold
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

    label: Literal[LABEL_WORDS]
    non_complaint_probability: float


class PredictResponse(BaseModel):
    """The decisions, with the threshold and the model that made them."""

    predictions: list[Prediction]
    threshold: float
    model: str


def model_info(folder: Path, threshold: Threshold, engine: str) -> dict:
    """What /info reports about the loaded model: read from the model folder only."""
    training, release = folder / "training.json", folder / "release.json"
    return {
        "model": folder.name,
        "engine": engine,
        "base_model": read_json(training)["model"]["name"] if training.is_file() else None,
        "digest": folder_digest(folder),
        "threshold": threshold.value,
        "threshold_source": threshold.source,
        "validation_auc": read_json(release).get("validation_auc") if release.is_file() else None,
        "project_version": version("complaints"),
    }


def create_app(settings: ServeSettings) -> FastAPI:
    """The service for these settings; the model loads once, when the server starts."""
    state: dict = {}
    model_lock = threading.Lock()
    in_flight = threading.BoundedSemaphore(settings.limits.max_in_flight)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        folder = Path(settings.model)
        state["predictor"] = Predictor.load(folder, settings.limits.batch_size, settings.threads, settings.engine)
        threshold = (Threshold(settings.threshold, "--threshold") if settings.threshold is not None
                     else folder_threshold(folder))
        state["threshold"] = threshold
        state["info"] = model_info(folder, threshold, settings.engine)
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
        labels = label_words(probability, threshold)
        return PredictResponse(
            predictions=[Prediction(label=label, non_complaint_probability=float(value))
                         for label, value in zip(labels, probability)],
            threshold=threshold, model=state["model"],
        )

    return app


def app_from_environment() -> FastAPI:
    """The app for the settings the `complaints serve` parent put in the environment (one per uvicorn worker)."""
    return create_app(ServeSettings.from_json(os.environ[SETTINGS_VARIABLE]))
