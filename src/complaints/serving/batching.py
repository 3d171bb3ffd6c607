"""Dynamic batching for the service: concurrent requests wait in one queue, and one worker thread scores them together.

When the worker is idle a request is scored at once; requests that arrive while it is busy form the next batch, up
to `max_texts` texts (`wait_s` lets a batch fill a little longer). Each request gets its own probabilities, in its
own order. If a batch fails, its requests are scored one by one, so only the failing one gets the error.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

Score = Callable[[Sequence[str]], np.ndarray]


class Busy(Exception):
    """More texts are in flight than the bound allows, or the batcher is closed."""


@dataclass
class Pending:
    """One request's texts and the future its probabilities go to."""

    texts: Sequence[str]
    future: Future = field(default_factory=Future)


class Batcher:
    """One queue, one worker, batches of at most `max_texts` texts, at most `max_in_flight_texts` texts waiting."""

    def __init__(self, score: Score, max_texts: int, max_in_flight_texts: int, wait_s: float = 0.0) -> None:
        self.score, self.max_texts, self.max_in_flight_texts, self.wait_s = score, max_texts, max_in_flight_texts, wait_s
        self.pending: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self.in_flight_texts, self.closed = 0, False
        self.lock = threading.Lock()
        self.worker = threading.Thread(target=self.run, name="batcher", daemon=True)
        self.worker.start()

    def submit(self, texts: Sequence[str]) -> Future:
        """Queue a request's texts; its future gets their probabilities. Busy when over the bound or closed."""
        with self.lock:
            if self.closed:
                raise Busy("the service is shutting down")
            if self.in_flight_texts + len(texts) > self.max_in_flight_texts:
                raise Busy(f"{self.in_flight_texts} texts already in flight; the limit is {self.max_in_flight_texts}")
            self.in_flight_texts += len(texts)
            request = Pending(texts)
            self.pending.put(request)  # under the lock: nothing is queued after close's end marker
        return request.future

    def close(self) -> None:
        """Refuse new requests, answer the queued ones, stop the worker."""
        with self.lock:
            self.closed = True
        self.pending.put(None)
        self.worker.join()

    def next_batch(self, first: Pending) -> tuple[list[Pending], bool]:
        """`first` and what else is queued, up to `max_texts` texts; and whether the queue's end marker was met."""
        batch, texts = [first], len(first.texts)
        deadline = time.monotonic() + self.wait_s
        while texts < self.max_texts:
            try:
                request = self.take(deadline)
            except queue.Empty:
                break
            if request is None:
                return batch, True
            batch.append(request)
            texts += len(request.texts)
        return batch, False

    def take(self, deadline: float) -> Pending | None:
        """The next queued request: at once, or by `deadline` when batches may wait to fill."""
        if not self.wait_s:
            return self.pending.get_nowait()
        return self.pending.get(timeout=max(0.0, deadline - time.monotonic()))

    def run(self) -> None:
        """The worker: take a batch, score it, hand each request its rows; until closed and drained."""
        while (first := self.pending.get()) is not None:
            batch, stopping = self.next_batch(first)
            self.answer(batch)
            if stopping:
                break

    def answer(self, batch: list[Pending]) -> None:
        """Score the batch's texts together and split the rows; on failure, score each request alone."""
        try:
            probability = self.score([text for request in batch for text in request.texts])
        except Exception:  # one request's texts may be what failed: find it, answer the others
            for request in batch:
                self.settle(request, lambda request=request: self.score(request.texts))
            return
        start = 0
        for request in batch:
            rows = probability[start:start + len(request.texts)]
            start += len(request.texts)
            self.settle(request, lambda rows=rows: rows)

    def settle(self, request: Pending, result: Callable[[], np.ndarray]) -> None:
        """Resolve a request's future with its probabilities or its error, and free its texts from the bound."""
        try:
            request.future.set_result(result())
        except Exception as error:
            request.future.set_exception(error)
        finally:
            with self.lock:
                self.in_flight_texts -= len(request.texts)
