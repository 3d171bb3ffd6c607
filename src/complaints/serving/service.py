"""The HTTP service: FastAPI over the one predictor, loaded once at start-up.

    POST /predict  {"texts": ["...", ...]}  ->  {"predictions": [{"label", "non_complaint_probability"}], "threshold", "model"}
    GET  /health   the process is up, and its texts in flight
    GET  /info     model, its digest, threshold, validation AUC, project version
    GET  /docs     OpenAPI documentation

The service keeps no state between requests, so replicas behind a load balancer scale it out. Concurrent requests
are scored together by one worker (`complaints.serving.batching`): at most `batch_max_texts` texts per model call, at most
`max_in_flight_texts` texts waiting, the next requests answered 503. A body over `max_body_bytes` gets 413 before it
is read whole.

The HTTP layer is lean, since a single-tweet request costs more in it than in the model: uvicorn parses HTTP with
httptools and runs on uvloop (with a cap on the request line and headers), `/predict` reads its body with orjson and
checks it by hand (the schema stays in the OpenAPI docs), and answers with orjson's bytes.
"""
from __future__ import annotations

import asyncio
import json
import os
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Literal

import httptools
import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from complaints.serving.batching import Batcher, Busy
from complaints.core.config import require
from complaints.core.io import read_json
from complaints.core.decision import LABEL_WORDS, Threshold, label_words
from complaints.serving.modelfolder import ensemble_members, folder_digest, folder_threshold
from complaints.serving.predictor import Predictor

SETTINGS_VARIABLE = "COMPLAINTS_SERVE_SETTINGS"
# The request line and headers of one request, at most: a client that sends more gets 400 and its connection closes.
MAX_HEADER_BYTES = 16 * 1024


@dataclass(frozen=True)
class ServeParams:
    """The `serve` section: limits per request and on the body, texts waiting at once, batching, tweets per model call."""

    max_texts: int = 256
    max_chars: int = 1000
    max_body_bytes: int | None = None
    max_in_flight_texts: int = 4096
    batch_max_texts: int = 256
    batch_wait_ms: float = 0.0
    batch_size: int = 8

    def __post_init__(self) -> None:
        for key in ("max_texts", "max_chars", "max_in_flight_texts", "batch_max_texts", "batch_size"):
            require(getattr(self, key) >= 1, f"serve.{key}", getattr(self, key), "an integer >= 1")
        require(self.max_body_bytes is None or self.max_body_bytes >= 1024, "serve.max_body_bytes",
                self.max_body_bytes, "null (derived from max_texts and max_chars) or an integer >= 1024")
        require(self.max_in_flight_texts >= self.max_texts, "serve.max_in_flight_texts", self.max_in_flight_texts,
                f"at least serve.max_texts ({self.max_texts}), so that one full request fits")
        require(0 <= self.batch_wait_ms <= 1000, "serve.batch_wait_ms", self.batch_wait_ms, "milliseconds in [0, 1000]")

    @property
    def body_bytes(self) -> int:
        """The body cap: `max_body_bytes`, else the largest valid request (every character JSON-escaped) with headroom."""
        return self.max_body_bytes or self.max_texts * (12 * self.max_chars + 16) + 4096


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
    """Raw tweets to score: the schema the OpenAPI docs show (`parsed_texts` checks a body against it by hand)."""

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


class HeaderCappedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a cap on the request line and headers (its h11 protocol's
    `h11_max_incomplete_event_size` has no httptools twin): past MAX_HEADER_BYTES the parser stops with 400."""

    header_bytes = 0

    def on_message_begin(self) -> None:
        """A new request: count its header bytes afresh."""
        self.header_bytes = 0
        super().on_message_begin()

    def counted(self, size: int) -> None:
        """Add `size` header bytes; over the cap, stop the parser (uvicorn answers 400 and closes)."""
        self.header_bytes += size
        if self.header_bytes > MAX_HEADER_BYTES:
            raise httptools.HttpParserError(f"request line and headers over {MAX_HEADER_BYTES} bytes")

    def on_url(self, url: bytes) -> None:
        """Count the request line."""
        self.counted(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count each header."""
        self.counted(len(name) + len(value))
        super().on_header(name, value)


def parsed_texts(body: bytes) -> list[str]:
    """The tweets of a /predict body ({"texts": [str, ...]}, nothing else), or a 422 naming the field at fault."""
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise HTTPException(422, f"the body is not valid JSON: {error}") from None
    if not isinstance(request, dict) or "texts" not in request:
        raise HTTPException(422, 'the body must be a JSON object with field "texts": a list of strings')
    extra = sorted(set(request) - {"texts"})
    if extra:
        raise HTTPException(422, f"unknown fields {extra}: the body has only field \"texts\" (extra fields forbidden)")
    texts = request["texts"]
    if not isinstance(texts, list) or not texts:
        raise HTTPException(422, '"texts" must be a non-empty list of strings')
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise HTTPException(422, f"texts[{index}] is {type(text).__name__}, expected a string")
    return texts


def model_info(folder: Path, threshold: Threshold, engine: str) -> dict:
    """What /info reports about the loaded model: read from the model folder only (an ensemble folder: its members'
    base models and weights)."""
    training, release = folder / "training.json", folder / "release.json"
    members = ensemble_members(folder)
    return {
        "model": folder.name,
        "engine": engine,
        "base_model": read_json(training)["model"]["name"] if training.is_file() else None,
        "members": None if members is None else {
            name: {"base_model": read_json(folder / name / "training.json")["model"]["name"], "weight": weight}
            for name, weight in members.items()},
        "digest": folder_digest(folder),
        "threshold": threshold.value,
        "threshold_source": threshold.source,
        "validation_auc": read_json(release).get("validation_auc") if release.is_file() else None,
        "project_version": version("complaints"),
    }


class BodyLimit:
    """ASGI middleware: a body over `max_bytes` gets 413, by its Content-Length before a byte is read, or as soon as a
    streamed body passes the cap; the connection then closes, so the rest is never read."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def too_large(self, size: str) -> HTTPException:
        """The 413 for a body of `size`."""
        return HTTPException(413, f"request body of {size} bytes; the limit is {self.max_bytes} (serve.max_body_bytes)",
                             headers={"Connection": "close"})

    async def __call__(self, scope, receive, send) -> None:
        """Check the declared length, then count the streamed bytes."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            error = self.too_large(declared.decode())
            return await JSONResponse({"detail": error.detail}, 413, error.headers)(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise self.too_large(f"more than {self.max_bytes}")
            return message

        await self.app(scope, counted, send)


def create_app(settings: ServeSettings) -> FastAPI:
    """The service for these settings; the model loads once, when the server starts."""
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        folder = Path(settings.model)
        state["predictor"] = Predictor.load(folder, settings.limits.batch_size, settings.threads, settings.engine)
        threshold = (Threshold(settings.threshold, "--threshold") if settings.threshold is not None
                     else folder_threshold(folder))
        state["threshold"] = threshold
        state["info"] = model_info(folder, threshold, settings.engine)
        state["model"] = f"{folder.name}@{state['info']['digest'].split(':')[1][:12]}"
        limits = settings.limits
        state["batcher"] = Batcher(state["predictor"].non_complaint_probability, limits.batch_max_texts,
                                   limits.max_in_flight_texts, limits.batch_wait_ms / 1000)
        yield
        await asyncio.to_thread(state["batcher"].close)  # answers what is queued; uvicorn has stopped new requests
        state.clear()

    app = FastAPI(title="Airline complaints", version=version("complaints"), lifespan=lifespan,
                  description="Is a tweet a complaint? The pipeline's model and threshold, over HTTP.")
    app.add_middleware(BodyLimit, max_bytes=settings.limits.body_bytes)

    @app.get("/health")
    def health() -> dict:
        """The process is up and the model is loaded; the texts this worker has queued or is scoring."""
        return {"status": "ok", "in_flight_texts": state["batcher"].in_flight_texts}

    @app.get("/info")
    def info() -> dict:
        """The model, its digest, the threshold and where it came from, validation AUC, project version."""
        return state["info"]

    @app.post("/predict", response_model=PredictResponse,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": PredictRequest.model_json_schema()}}}})
    async def predict(request: Request) -> Response:
        """Label each tweet `complaint` or `non-complaint` (probability above the threshold), in the input's order."""
        texts = parsed_texts(await request.body())
        limits = settings.limits
        if len(texts) > limits.max_texts:
            raise HTTPException(413, f"{len(texts)} texts in one request; the limit is {limits.max_texts} "
                                     f"(serve.max_texts, --max-texts)")
        for index, text in enumerate(texts):
            if len(text) > limits.max_chars:
                raise HTTPException(422, f"texts[{index}] has {len(text)} characters; the limit is {limits.max_chars} "
                                         f"(serve.max_chars, --max-chars)")
        try:
            scored = state["batcher"].submit(texts)
        except Busy as busy:
            raise HTTPException(503, f"busy: {busy} (serve.max_in_flight_texts); retry shortly",
                                headers={"Retry-After": "1"}) from None
        probability = await asyncio.wrap_future(scored)
        threshold = state["threshold"].value
        predictions = [{"label": label, "non_complaint_probability": float(value)}
                       for label, value in zip(label_words(probability, threshold), probability)]
        return Response(orjson.dumps({"predictions": predictions, "threshold": threshold, "model": state["model"]}),
                        media_type="application/json")

    return app


def app_from_environment() -> FastAPI:
    """The app for the settings the `complaints serve` parent put in the environment (one per uvicorn worker)."""
    return create_app(ServeSettings.from_json(os.environ[SETTINGS_VARIABLE]))
