"""The one predictor and its three doors: the `predict` stage, the `complaints` CLI and the HTTP service."""
import json
import select
import shutil
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from pathlib import Path

import httpx
import yaml
import numpy as np
import pandas as pd
import pytest
import torch

from complaints.modeling.torch_scoring import score
from complaints.modeling.model import load_classifier
from complaints.serving.predictor import Predictor
from complaints.text.cleaning import clean_for_bert
from complaints.text.tokens import Tokens
from conftest import BIN, ROOT
from test_contract import BAD_REQUESTS

TWEETS = ["@united lost my bag again and nobody answers", "@united thanks for the upgrade, lovely crew!",
          "@united lost my bag again and nobody answers", "", "   ", "@united @delta "]


@pytest.fixture(scope="module")
def predictor(workdir):
    """The predictor as the pipeline's predict stage and the CLI's default run it: ONNX Runtime fp32."""
    return Predictor.load(workdir / "models" / "serving", batch_size=4, engine="onnx")


def test_predictor_on_raw_text_reproduces_the_pipelines_test_scores(real_workdir):
    # The real model: a random encoder scores every tweet near 0.5, where an engine or cleaning mix-up hides in 1e-6.
    workdir = real_workdir
    predictor = Predictor.load(workdir / "models" / "serving", batch_size=4, engine="onnx")
    test = pd.read_parquet(workdir / "data" / "split" / "test.parquet")
    scores = pd.read_parquet(workdir / "predictions" / "test_scores.parquet")
    probability = predictor.non_complaint_probability(test["text"].tolist())
    assert np.abs(probability - scores["non_complaint_probability"].to_numpy()).max() < 1e-6
    # PyTorch on the tokenize stage's tokens (the training path) and on raw text agree with it to 1e-4.
    tokens = Tokens.load(workdir / "data" / "tokens" / "model" / "test.safetensors")
    from_tokens = score(load_classifier(workdir / "models" / "bert_full"), tokens, 16, torch.device("cpu"))
    torch_predictor = Predictor.load(workdir / "models" / "serving", batch_size=4, engine="torch")
    assert np.abs(torch_predictor.non_complaint_probability(test["text"].tolist()) - from_tokens).max() < 1e-6
    assert np.abs(probability - from_tokens).max() < 1e-4


def test_identical_and_empty_tweets_follow_the_documented_rule(predictor):
    probability = predictor.non_complaint_probability(TWEETS)
    assert probability[0] == probability[2]
    # Blank, or only @mentions: empty after cleaning, scored as [CLS] [SEP].
    assert probability[3] == pytest.approx(probability[4], abs=1e-6) == pytest.approx(probability[5], abs=1e-6)
    assert predictor.non_complaint_probability([]).shape == (0,)


def test_transformers_pipeline_loads_the_folder_and_agrees_with_the_predictor(real_workdir):
    # The real model: the claim is that the folder we release, all-MiniLM-L6-v2 inside, loads in transformers alone.
    from transformers import pipeline

    workdir = real_workdir
    classify = pipeline("text-classification", model=str(workdir / "models" / "bert_full"), trust_remote_code=True, top_k=None)
    torch_predictor = Predictor.load(workdir / "models" / "bert_full", engine="torch")
    texts = [clean_for_bert(text) for text in TWEETS[:2]]
    answers = classify(texts, truncation=True)
    for text, answer in zip(texts, answers):
        by_label = {row["label"]: row["score"] for row in answer}
        assert set(by_label) == {"complaint", "non-complaint"}
        assert by_label["non-complaint"] == pytest.approx(torch_predictor.non_complaint_probability([text])[0], abs=1e-6)


def complaints(*arguments: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """The installed `complaints` console script."""
    return subprocess.run([str(BIN / "complaints"), *arguments], cwd=cwd, input=stdin, capture_output=True)


@pytest.fixture(scope="module")
def project_dir(workdir, tmp_path_factory):
    """A folder laid out like the project after `dvc repro`: models/serving, its threshold set to 0.5 (the tiny encoder
    scores every tweet near 0.5, so both labels occur)."""
    project = tmp_path_factory.mktemp("cli")
    shutil.copytree(workdir / "models" / "serving", project / "models" / "serving")
    (project / "models" / "serving" / "threshold.json").write_text(json.dumps({"threshold": 0.5}))
    return project


def test_cli_scores_arguments_and_stdin_with_the_pipelines_threshold(project_dir, predictor):
    given = complaints("predict", TWEETS[0], TWEETS[1], cwd=project_dir)
    assert given.returncode == 0, given.stderr
    rows = pd.read_csv(StringIO(given.stdout.decode()))
    assert list(rows.columns) == ["text", "non_complaint_probability", "label"] and rows["text"].tolist() == TWEETS[:2]
    expected = predictor.non_complaint_probability(TWEETS[:2])
    assert np.abs(rows["non_complaint_probability"].to_numpy() - expected).max() < 1e-9
    assert rows["label"].tolist() == ["non-complaint" if p > 0.5 else "complaint" for p in expected]

    elsewhere = complaints("predict", "--model", str(project_dir / "models" / "serving"), TWEETS[0], TWEETS[1],
                           cwd=project_dir.parent)
    assert elsewhere.returncode == 0 and elsewhere.stdout == given.stdout, "the folder alone decides, from any folder"

    piped = complaints("predict", "-", "--threshold", "0.01", cwd=project_dir, stdin="\n".join(TWEETS).encode())
    rows = pd.read_csv(StringIO(piped.stdout.decode()), keep_default_na=False)
    assert piped.returncode == 0 and len(rows) == len(TWEETS) and set(rows["label"]) <= {"complaint", "non-complaint"}
    assert (rows["label"] == np.where(rows["non_complaint_probability"] > 0.01, "non-complaint", "complaint")).all()


READERS = {".csv": pd.read_csv, ".jsonl": lambda path: pd.read_json(path, lines=True), ".parquet": pd.read_parquet}


@pytest.mark.parametrize("source, target", [(".csv", ".parquet"), (".jsonl", ".csv"), (".parquet", ".jsonl")])
def test_cli_streams_a_file_in_chunks_into_each_format(project_dir, predictor, tmp_path, source, target):
    # 5,000 tweets: three chunks of the CLI's 2,048; a few distinct texts keep the scoring quick.
    tweets = pd.DataFrame({"tweet_id": range(5000), "tweet": [TWEETS[i % 3] + f" {i % 7}" for i in range(5000)]})
    {".csv": lambda p: tweets.to_csv(p, index=False), ".parquet": tweets.to_parquet,
     ".jsonl": lambda p: tweets.to_json(p, orient="records", lines=True)}[source](tmp_path / f"in{source}")
    output = tmp_path / f"out{target}"
    result = complaints("predict", "--input", str(tmp_path / f"in{source}"), "--text-column", "tweet",
                        "--id-column", "tweet_id", "--output", str(output), cwd=project_dir)
    assert result.returncode == 0, result.stderr
    rows = READERS[target](output)
    assert list(rows.columns) == ["tweet_id", "non_complaint_probability", "label"]
    assert [int(value) for value in rows["tweet_id"]] == list(range(5000))
    expected = predictor.non_complaint_probability(tweets["tweet"].tolist())
    assert np.abs(rows["non_complaint_probability"].to_numpy() - expected).max() < 1e-6


def test_the_console_script_fails_with_one_line_and_writes_nothing(project_dir, tmp_path):
    # Every input error, in-process: tests/test_contract.py; here the installed script's exit status and streams.
    result = complaints("predict", "hi", "--model", str(tmp_path / "nowhere"), "--output", str(tmp_path / "out.csv"),
                        cwd=project_dir)
    errors = result.stderr.decode().strip().splitlines()
    assert result.returncode == 1 and len(errors) == 1 and "dvc repro" in errors[0], result.stderr
    assert not (tmp_path / "out.csv").exists() and result.stdout == b""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_service(project_dir, *options: str, wait_s: float = 120) -> tuple[httpx.Client, subprocess.Popen]:
    """`complaints serve` on 127.0.0.1 and a free port, returned once `/health` answers."""
    port = free_port()
    process = subprocess.Popen([str(BIN / "complaints"), "serve", "--port", str(port), *options], cwd=project_dir,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    deadline = time.monotonic() + wait_s
    while True:
        assert process.poll() is None, process.stdout.read().decode()
        try:
            if client.get("/health").status_code == 200:
                return client, process
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the service never came up"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def server(project_dir):
    """The service with small limits; stopped with SIGTERM."""
    client, process = start_service(project_dir, "--max-texts", "8", "--max-chars", "280",
                                    "--params", str(ROOT / "params.yaml"))
    yield client, process
    client.close()
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status says what stopped it.
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    log = process.stdout.read().decode()
    assert "Application shutdown complete" in log and "Traceback" not in log


def test_service_answers_like_the_cli(server, project_dir, tiny_encoder):
    client, _ = server
    answer = client.post("/predict", json={"texts": TWEETS[:2]})
    assert answer.status_code == 200
    body = answer.json()
    cli = pd.read_csv(StringIO(complaints("predict", *TWEETS[:2], cwd=project_dir).stdout.decode()))
    assert [row["label"] for row in body["predictions"]] == cli["label"].tolist()
    assert [row["non_complaint_probability"] for row in body["predictions"]] == pytest.approx(
        cli["non_complaint_probability"].tolist(), abs=1e-9)
    assert body["threshold"] == 0.5
    info = client.get("/info").json()
    manifest = json.loads((project_dir / "models" / "serving" / "manifest.json").read_text())
    assert info["threshold"] == 0.5 and info["base_model"] == str(tiny_encoder) and info["digest"] == manifest["digest"]
    assert info["engine"] == "onnx" and body["model"].startswith("serving@")
    assert info["project_version"] and "validation_auc" in info
    assert client.get("/docs").status_code == 200 and "/predict" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("body, status, words", BAD_REQUESTS)
def test_service_answers_bad_requests_with_4xx_and_a_message(server, body, status, words):
    client, _ = server
    answer = (client.post("/predict", content=body, headers={"content-type": "application/json"})
              if isinstance(body, str) else client.post("/predict", json=body))
    assert answer.status_code == status
    assert words in json.dumps(answer.json())


def test_200_concurrent_requests_of_mixed_sizes_each_get_their_own_answers_equal_to_the_clis(server, project_dir):
    # 32 clients at once: the batcher scores them together and hands each request its own rows in its order.
    client, process = server
    requests = [[f"@united flight {i} delayed {'again ' * (j % 3)}" for j in range(1 + i % 8)] for i in range(200)]
    texts = sorted({text for request in requests for text in request})
    cli = pd.read_csv(StringIO(complaints("predict", *texts, cwd=project_dir).stdout.decode())).set_index("text")
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda request: client.post("/predict", json={"texts": request}), requests))
    assert all(answer.status_code == 200 for answer in answers)
    for request, answer in zip(requests, answers):
        rows = answer.json()["predictions"]
        expected = cli.loc[request]
        assert [row["non_complaint_probability"] for row in rows] == pytest.approx(
            expected["non_complaint_probability"].tolist(), abs=1e-6)
        near_the_cut = (expected["non_complaint_probability"] - 0.5).abs() < 1e-5
        assert [row["label"] for row, near in zip(rows, near_the_cut) if not near] == (
            expected["label"][~near_the_cut].tolist())
    assert process.poll() is None


def resident_bytes(pid: int) -> int:
    """The process's resident memory."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) * 1024


def read_until_closed(connection: socket.socket) -> str:
    """What the server sent until it closed or reset the connection."""
    received = b""
    try:
        while chunk := connection.recv(65_536):
            received += chunk
    except ConnectionResetError:
        pass
    return received.decode(errors="replace")


def test_a_streamed_body_over_the_cap_gets_413_before_it_is_read_whole(server):
    # 30 MB in chunks with no Content-Length, 1,000 times the 31 kB cap: the server stops reading at the cap.
    client, process = server
    before = resident_bytes(process.pid)
    host, port = client.base_url.host, client.base_url.port
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n")
        chunk, sent = b"[" + b"\"" * 65_535, 0
        try:
            while sent < 30_000_000 and not select.select([connection], [], [], 0)[0]:
                connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: what it sent is still readable
        answer = read_until_closed(connection)
    # The server closes with the rest unread, so the kernel may reset the connection before the body arrives: the
    # status line is what always does (the message is checked in tests/test_contract.py).
    assert answer.startswith("HTTP/1.1 413"), answer[:300]
    assert sent < 30_000_000, "the server read the whole body before answering"
    assert resident_bytes(process.pid) - before < 10_000_000
    assert client.get("/health").status_code == 200


def test_the_server_parses_with_httptools_on_uvloop(server):
    _, process = server
    maps = Path(f"/proc/{process.pid}/maps").read_text()
    assert "/uvloop/loop." in maps and "/httptools/parser/parser." in maps


def test_headers_over_the_cap_get_400_and_the_connection_closes(server):
    from complaints.serving.service import MAX_HEADER_BYTES

    client, _ = server
    with socket.create_connection((client.base_url.host, client.base_url.port), timeout=30) as connection:
        try:
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            for index in range(MAX_HEADER_BYTES // 1000 + 2):
                connection.sendall(b"X-Filler-%d: %s\r\n" % (index, b"y" * 1000))
            connection.sendall(b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: what it sent is still readable
        answer = read_until_closed(connection)
    assert answer.startswith("HTTP/1.1 400"), answer[:300]
    with socket.create_connection((client.base_url.host, client.base_url.port), timeout=30) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: %s\r\nConnection: close\r\n\r\n"
                           % (b"y" * (MAX_HEADER_BYTES // 2)))
        assert read_until_closed(connection).startswith("HTTP/1.1 200")


def wait_for_in_flight_texts(client: httpx.Client, texts: int, deadline_s: float = 0.9) -> bool:
    """Whether the service reports `texts` texts in flight before the deadline."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if client.get("/health").json()["in_flight_texts"] == texts:
            return True
        time.sleep(0.01)
    return False


def test_shutdown_answers_the_requests_in_flight_and_refuses_new_ones(project_dir, predictor):
    # Batches wait 1 s to fill, so SIGTERM lands while 32 clients' requests are queued in the batcher.
    client, process = start_service(project_dir, "--batch-wait-ms", "1000")
    host, port = client.base_url.host, client.base_url.port
    connections = []
    try:
        for i in range(32):
            body = json.dumps({"texts": [f"@united bag {i} lost"]}).encode()
            connection = socket.create_connection((host, port), timeout=30)
            connection.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            connections.append(connection)
        # A request uvicorn has not read yet counts as an idle connection, closed unanswered on shutdown.
        assert wait_for_in_flight_texts(client, 32), "the 32 requests were read and queued within the batch's wait"
        process.send_signal(signal.SIGTERM)
        answers = [read_until_closed(connection) for connection in connections]
    finally:
        for connection in connections:
            connection.close()
        client.close()
    assert process.wait(timeout=60) == 0, "a graceful stop exits 0"
    for i, answer in enumerate(answers):
        assert answer.startswith("HTTP/1.1 200"), answer[:200]
        got = json.loads(answer.split("\r\n\r\n", 1)[1])["predictions"][0]["non_complaint_probability"]
        assert got == pytest.approx(predictor.non_complaint_probability([f"@united bag {i} lost"])[0], abs=1e-6)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=5)
    assert "Traceback" not in process.stdout.read().decode()


def test_summary_prints_each_model_the_test_count_and_where_the_release_is(workdir, tmp_path):
    result = complaints("summary", "--metrics", str(workdir / "metrics"), "--params", str(workdir / "params.yaml"),
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    bert = json.loads((workdir / "metrics" / "bert.json").read_text())
    serving = json.loads((workdir / "metrics" / "external" / "serving.json").read_text())
    assert any(line.startswith("bert ") and f"{bert['auc']:.4f}" in line for line in lines)
    assert any(line.startswith("serving ") and f"{serving['auc']:.4f}" in line for line in lines)
    # The models list's teacher chain did not run on the quick path: its rows show dashes.
    assert any(line.startswith("teacher ") and line.split()[1:] == ["-"] * 4 for line in lines)
    threshold = json.loads((workdir / "metrics" / "threshold.json").read_text())
    assert any(f"{threshold['non_complaints']} tweets called non-complaint" in line for line in lines)
    models = yaml.safe_load((workdir / "params.yaml").read_text())["models"]
    rows = sum(len(group) for group in models.values()) + 6  # the list, the baseline and the combinations
    assert any("models/release" in line for line in lines) and len(lines) <= rows + 6 and max(map(len, lines)) <= 110


def test_service_runs_several_worker_processes(project_dir, predictor):
    client, process = start_service(project_dir, "--workers", "2", wait_s=180)
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda text: client.post("/predict", json={"texts": [text]}), TWEETS[:2] * 4))
        expected = predictor.non_complaint_probability(TWEETS[:2]).tolist() * 4
        assert [answer.json()["predictions"][0]["non_complaint_probability"] for answer in answers] == pytest.approx(
            expected, abs=1e-6)
    finally:
        client.close()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    log = process.stdout.read().decode()
    assert log.count("Application startup complete") == 2 and "Traceback" not in log
