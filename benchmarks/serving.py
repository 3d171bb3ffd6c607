"""Time the model in use: single-tweet latency through the predictor and through the HTTP service, the service under
concurrent load (1, 8 and 32 clients; requests of 1 and of 50 tweets; one worker process and two), next to the
predictor's batched throughput in process, and the throughput of the `complaints` CLI on a 10,000-tweet file.

The load comes from `wrk` where it is installed (C, one event-loop thread, a Lua script posting the test set's real
tweets, each run bounded to LOAD_SECONDS; Debian: `apt-get install wrk`), else from Python client threads (httpx); the
JSON says which (`load_generator`). Only 127.0.0.1 is ever a target.

Needs the pipeline's outputs (`dvc repro` or `dvc pull`): models/serving, data/split. The engine is the one the
serving folder names (what `complaints` runs on it by default).
Run:  python -m benchmarks.serving            # about 6 minutes on 2 cores
Writes benchmarks/results/serving.json and a dated copy; `python -m benchmarks.report` puts the figures in docs/serving.md.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.compare import ROOT, run_header, save
from complaints.serving.modelfolder import resolve_engine

MODEL = ROOT / "models" / "serving"
ENGINE = resolve_engine(MODEL, "auto") if MODEL.is_dir() else "onnx"
COMPLAINTS = str(Path(sys.executable).parent / "complaints")
SINGLE_TWEETS = 200
FILE_TWEETS = 10_000
CONCURRENCY = (1, 8, 32)
REQUEST_TWEETS = (1, 50)
LOAD_TWEETS = 4_000  # per load run: 4,000 requests of one tweet, 80 of 50
LOAD_SECONDS = 10  # per wrk run
WRK = shutil.which("wrk")
# Each wrk thread reads the request bodies (one JSON line each) and posts them in turn, from its own offset; `done`
# prints the run's figures as one JSON line.
WRK_SCRIPT = """
local bodies, next_body = {}, 1
function setup(thread) thread:set("offset", tonumber(os.getenv("WRK_OFFSET") or "0")) end
function init(args)
  for line in io.lines(os.getenv("WRK_BODIES")) do bodies[#bodies + 1] = line end
  next_body = 1 + (offset or 0) % #bodies
  wrk.method, wrk.headers["Content-Type"] = "POST", "application/json"
end
function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format(nil, "/predict", nil, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "duration_us": %d, "socket_errors": %d, "non_2xx": %d, '
    .. '"p50_us": %d, "p95_us": %d, "p99_us": %d}\\n', summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(50), latency:percentile(95),
    latency:percentile(99)))
end
"""


def real_tweets() -> list[str]:
    """Every tweet of the tutorial's data, test first."""
    return sum((pd.read_parquet(ROOT / "data" / "split" / f"{split}.parquet")["text"].tolist()
                for split in ("test", "train", "val")), [])


def percentiles(seconds: list[float]) -> dict:
    """p50, p95 and p99 in milliseconds."""
    return {f"p{q}_ms": 1000 * float(np.percentile(seconds, q)) for q in (50, 95, 99)}


def load_texts(tweets: list[str]) -> list[str]:
    """A load run's 4,000 tweets, made distinct so that scoring identical tweets once does not flatter the figure."""
    return [f"{tweet} #{index}" for index, tweet in enumerate(tweets[:LOAD_TWEETS])]


def tweets_per_s(predictor, texts: list[str], chunk: int) -> float:
    """The predictor's throughput on `texts` handed to it `chunk` at a time."""
    started = time.perf_counter()
    for start in range(0, len(texts), chunk):
        predictor.non_complaint_probability(texts[start:start + chunk])
    return len(texts) / (time.perf_counter() - started)


def batched_throughput(tweets: list[str]) -> dict:
    """The predictor in process on 4,000 distinct tweets: all at once in batches of 64 (length-sorted, the ceiling the
    service is measured against), and 32 at a time in arrival order with the service's batch size (what one batch of
    32 concurrent single-tweet requests can give, since requests not yet arrived cannot be sorted in)."""
    from complaints.core.config import load_section
    from complaints.serving.predictor import Predictor
    from complaints.serving.service import ServeParams

    texts = load_texts(tweets)
    service_batch_size = load_section(ROOT / "params.yaml", "serve", ServeParams).batch_size
    figures = {"tweets": len(texts), "service_batch_size": service_batch_size}
    for name, batch_size, chunk in (("tweets_per_s", 64, len(texts)), ("arrival_order_tweets_per_s", service_batch_size, 32),
                                    ("arrival_order_batch_64_tweets_per_s", 64, 32)):
        predictor = Predictor.load(MODEL, batch_size=batch_size, engine=ENGINE)
        predictor.non_complaint_probability(tweets[:64])
        figures[name] = tweets_per_s(predictor, texts, chunk)
    return figures


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process and its children (uvicorn's workers), from /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def python_load_run(base_url: str, server_pid: int, tweets: list[str], clients: int, size: int) -> dict:
    """`clients` Python threads (httpx), each with its own connection, posting requests of `size` distinct tweets until
    done; the CPU time the client and the server spent meanwhile."""
    import httpx

    texts = load_texts(tweets)
    requests = [texts[start:start + size] for start in range(0, len(texts), size)]
    shares = [requests[worker::clients] for worker in range(clients)]

    def client_run(share: list[list[str]]) -> tuple[list[float], int]:
        seconds, errors = [], 0
        with httpx.Client(base_url=base_url, timeout=120) as client:
            for request in share:
                started = time.perf_counter()
                if client.post("/predict", json={"texts": request}).status_code != 200:
                    errors += 1
                seconds.append(time.perf_counter() - started)
        return seconds, errors

    started, client_cpu, server_cpu = time.perf_counter(), time.process_time(), cpu_seconds(server_pid)
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client_run, shares))
    elapsed = time.perf_counter() - started
    client_cpu, server_cpu = time.process_time() - client_cpu, cpu_seconds(server_pid) - server_cpu
    seconds = [value for share, _ in results for value in share]
    return {"clients": clients, "tweets_per_request": size, "requests": len(requests),
            "errors": sum(errors for _, errors in results), "requests_per_s": len(requests) / elapsed,
            "tweets_per_s": len(texts) / elapsed, **percentiles(seconds), "client_cpu_s": client_cpu,
            "server_cpu_s": server_cpu, "server_cpu_ms_per_tweet": 1000 * server_cpu / len(texts),
            "client_cpu_share": client_cpu / (client_cpu + server_cpu)}


def wrk_load_run(base_url: str, server_pid: int, tweets: list[str], clients: int, size: int) -> dict:
    """`wrk` with `clients` connections on one thread, posting requests of `size` distinct real tweets for
    LOAD_SECONDS; the CPU time wrk and the server spent meanwhile."""
    texts = load_texts(tweets)
    with tempfile.TemporaryDirectory() as scratch:
        bodies, script = Path(scratch) / "bodies.jsonl", Path(scratch) / "post.lua"
        bodies.write_text("".join(json.dumps({"texts": texts[start:start + size]}) + "\n"
                                  for start in range(0, len(texts), size)))
        script.write_text(WRK_SCRIPT)
        before_client, server_cpu = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_seconds(server_pid)
        done = subprocess.run([WRK, "-t", "1", "-c", str(clients), "-d", f"{LOAD_SECONDS}s", "--timeout", "60s",
                               "-s", str(script), base_url], capture_output=True, text=True, check=True,
                              env=os.environ | {"WRK_BODIES": str(bodies)})
        after_client, server_cpu = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_seconds(server_pid) - server_cpu
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    client_cpu = (after_client.ru_utime + after_client.ru_stime) - (before_client.ru_utime + before_client.ru_stime)
    elapsed, requests = figures["duration_us"] / 1e6, figures["requests"]
    return {"clients": clients, "tweets_per_request": size, "requests": requests,
            "errors": figures["socket_errors"] + figures["non_2xx"], "requests_per_s": requests / elapsed,
            "tweets_per_s": requests * size / elapsed,
            **{f"p{q}_ms": figures[f"p{q}_us"] / 1000 for q in (50, 95, 99)}, "client_cpu_s": client_cpu,
            "server_cpu_s": server_cpu, "server_cpu_ms_per_tweet": 1000 * server_cpu / max(1, requests * size),
            "client_cpu_share": client_cpu / (client_cpu + server_cpu)}


LOAD_GENERATOR, load_run = (("wrk", wrk_load_run) if WRK else ("python-httpx-threads", python_load_run))


def started_service(*options: str) -> tuple[subprocess.Popen, str, float]:
    """`complaints serve` on a free port, once `/health` answers: the process, its URL, the start-up seconds."""
    import httpx

    port = free_port()
    process = subprocess.Popen([COMPLAINTS, "serve", "--port", str(port), *options], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url, started = f"http://127.0.0.1:{port}", time.perf_counter()
    while True:
        try:
            if httpx.get(f"{base_url}/health").status_code == 200:
                return process, base_url, time.perf_counter() - started
        except httpx.TransportError:
            if process.poll() is not None:
                raise RuntimeError("complaints serve exited before it answered /health") from None
            time.sleep(0.1)


def wait_until_idle(server_pid: int, timeout_s: float = 120.0) -> None:
    """Block until the server has used no CPU for a quarter of a second: wrk stops at its deadline with requests still
    queued in the service, and the next run must not start behind them."""
    deadline, used = time.monotonic() + timeout_s, cpu_seconds(server_pid)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        previous, used = used, cpu_seconds(server_pid)
        if used - previous < 0.01:
            return
    raise RuntimeError(f"the service still works {timeout_s:.0f} s after the load stopped")


def service_load(tweets: list[str]) -> list[dict]:
    """Every concurrency and request size, with one worker process and with two, each run on an idle service."""
    runs = []
    for workers in (1, 2):
        process, base_url, _ = started_service("--workers", str(workers))
        try:
            load_run(base_url, process.pid, tweets, 8, 1)  # warm-up
            for clients in CONCURRENCY:
                for size in REQUEST_TWEETS:
                    wait_until_idle(process.pid)
                    runs.append({"workers": workers, **load_run(base_url, process.pid, tweets, clients, size)})
                    print(json.dumps(runs[-1]), flush=True)
        finally:
            process.terminate()
            process.wait()
    return runs


def predictor_latency(tweets: list[str]) -> dict:
    """One tweet per call through the in-process predictor (the first calls warm up)."""
    from complaints.serving.predictor import Predictor

    predictor = Predictor.load(MODEL, engine=ENGINE)
    for tweet in tweets[:10]:
        predictor.non_complaint_probability([tweet])
    seconds = []
    for tweet in tweets[:SINGLE_TWEETS]:
        started = time.perf_counter()
        predictor.non_complaint_probability([tweet])
        seconds.append(time.perf_counter() - started)
    return percentiles(seconds)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_latency(tweets: list[str]) -> dict:
    """One tweet per POST /predict to `complaints serve` on 127.0.0.1, from a client in this process."""
    import httpx

    process, base_url, start_up = started_service()
    try:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            for tweet in tweets[:10]:
                client.post("/predict", json={"texts": [tweet]})
            seconds = []
            for tweet in tweets[:SINGLE_TWEETS]:
                started = time.perf_counter()
                client.post("/predict", json={"texts": [tweet]}).raise_for_status()
                seconds.append(time.perf_counter() - started)
    finally:
        process.terminate()
        process.wait()
    return {**percentiles(seconds), "start_up_s": start_up}


def cli_figures(tweets: list[str], scratch: Path) -> dict:
    """`complaints predict` on one tweet (start-up included) and on a file of 10,000 distinct tweets."""
    started = time.perf_counter()
    subprocess.run([COMPLAINTS, "predict", tweets[0]], cwd=ROOT, check=True, capture_output=True)
    one_tweet = time.perf_counter() - started
    # Distinct texts, so the predictor's scoring of identical tweets once does not flatter the figure.
    texts = [tweet if round_ == 0 else f"{tweet} ({round_ + 1})" for round_ in range(2) for tweet in tweets]
    texts = list(dict.fromkeys(texts))[:FILE_TWEETS]
    pd.DataFrame({"id": range(len(texts)), "tweet": texts}).to_csv(scratch / "tweets.csv", index=False)
    started = time.perf_counter()
    subprocess.run([COMPLAINTS, "predict", "--input", str(scratch / "tweets.csv"), "--text-column", "tweet",
                    "--id-column", "id", "--output", str(scratch / "scored.parquet")], cwd=ROOT, check=True,
                   capture_output=True)
    seconds = time.perf_counter() - started
    return {"one_tweet_s": one_tweet, "file_tweets": len(texts), "file_s": seconds, "file_tweets_per_s": len(texts) / seconds}


def main() -> None:
    """Measure, print, save."""
    tweets = real_tweets()
    with tempfile.TemporaryDirectory() as scratch:
        result = {
            **run_header(),
            "engine": ENGINE,
            "load_generator": LOAD_GENERATOR,
            "predictor": predictor_latency(tweets),
            "service": service_latency(tweets),
            "batched_in_process": batched_throughput(tweets),
            "load": service_load(tweets),
            "cli": cli_figures(tweets, Path(scratch)),
        }
    print(json.dumps(result, indent=2))
    save(result, "serving")


if __name__ == "__main__":
    main()
