"""Dynamic batching: concurrent requests scored together, each answered with its own rows, failures kept apart."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from complaints.serving.batching import Batcher, Busy


class SlowScorer:
    """Scores a text as its length / 1000, slowly, recording each call's size; fails on the text `poison`."""

    def __init__(self, seconds: float = 0.02) -> None:
        self.seconds, self.calls, self.lock = seconds, [], threading.Lock()

    def __call__(self, texts):
        time.sleep(self.seconds)
        with self.lock:
            self.calls.append(len(texts))
        if "poison" in texts:
            raise ValueError("cannot score poison")
        return np.array([len(text) / 1000 for text in texts])


def expected(texts):
    """What SlowScorer gives `texts` alone."""
    return [len(text) / 1000 for text in texts]


def test_concurrent_requests_are_batched_and_each_gets_its_own_rows_in_order():
    scorer = SlowScorer()
    batcher = Batcher(scorer, max_texts=64, max_in_flight_texts=10_000)
    requests = [[f"tweet {i} " + "x" * (j % 7) for j in range(1 + i % 5)] for i in range(200)]
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda texts: batcher.submit(texts).result(timeout=30), requests))
    batcher.close()
    assert all(answer.tolist() == expected(texts) for answer, texts in zip(answers, requests))
    assert len(scorer.calls) < len(requests) / 2 and max(scorer.calls) <= 64 + 4, "requests were scored together"


def test_an_idle_worker_scores_a_lone_request_at_once():
    batcher = Batcher(SlowScorer(0.0), max_texts=64, max_in_flight_texts=100, wait_s=0.0)
    started = time.monotonic()
    assert batcher.submit(["one"]).result(timeout=5).tolist() == [0.003]
    assert time.monotonic() - started < 0.5
    batcher.close()


def test_a_failing_request_gets_its_error_and_its_neighbours_their_answers():
    scorer = SlowScorer(0.05)
    batcher = Batcher(scorer, max_texts=64, max_in_flight_texts=100)
    blocker = batcher.submit(["keeps the worker busy"])
    futures = [batcher.submit(texts) for texts in (["good"], ["poison", "x"], ["also good"])]
    assert blocker.result(timeout=5).tolist() == expected(["keeps the worker busy"])
    assert futures[0].result(timeout=5).tolist() == expected(["good"])
    assert futures[2].result(timeout=5).tolist() == expected(["also good"])
    with pytest.raises(ValueError, match="poison"):
        futures[1].result(timeout=5)
    assert batcher.in_flight_texts == 0
    batcher.close()


def test_the_bound_counts_texts_in_flight():
    batcher = Batcher(SlowScorer(0.2), max_texts=8, max_in_flight_texts=10)
    first = batcher.submit(["a"] * 6)
    with pytest.raises(Busy, match="6 texts already in flight; the limit is 10"):
        batcher.submit(["b"] * 5)
    second = batcher.submit(["c"] * 4)
    assert len(first.result(timeout=5)) == 6 and len(second.result(timeout=5)) == 4
    batcher.close()


def test_closing_answers_what_is_queued_and_refuses_new_requests():
    batcher = Batcher(SlowScorer(0.05), max_texts=2, max_in_flight_texts=100)
    queued = [batcher.submit([f"t{i}", f"u{i}"]) for i in range(6)]
    batcher.close()
    assert [future.result(timeout=0).tolist() for future in queued] == [expected([f"t{i}", f"u{i}"]) for i in range(6)]
    with pytest.raises(Busy, match="shutting down"):
        batcher.submit(["late"])
