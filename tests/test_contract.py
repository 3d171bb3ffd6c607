"""The service's request validation through FastAPI's in-process client, and the CLI's argument and input errors
through its real `main`, on an untrained classifier over the tiny encoder: the fast tier's door checks."""
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from complaints.serving import cli
from complaints.serving.service import ServeParams, ServeSettings, create_app

BAD_REQUESTS = [
    ({"text": ["hi"]}, 422, "texts"),
    ({"texts": "hi"}, 422, "texts"),
    ({"texts": [1, 2]}, 422, "texts"),
    ({"texts": []}, 422, "texts"),
    ({"texts": ["hi"], "extra": 1}, 422, "extra"),
    ({"texts": ["hi"] * 9}, 413, "limit is 8"),
    ({"texts": ["hi", "x" * 281]}, 422, "texts[1] has 281 characters; the limit is 280"),
    ("not json", 422, "JSON"),
]


@pytest.fixture(scope="module")
def client(tiny_model):
    """The app with small limits and threshold 0.5, started (lifespan included) by the in-process client."""
    settings = ServeSettings(model=str(tiny_model), engine="torch", threshold=0.5,
                             limits=ServeParams(max_texts=8, max_chars=280))
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize("body, status, words", BAD_REQUESTS)
def test_bad_requests_get_4xx_and_a_message(client, body, status, words):
    answer = (client.post("/predict", content=body, headers={"content-type": "application/json"})
              if isinstance(body, str) else client.post("/predict", json=body))
    assert answer.status_code == status
    assert words in json.dumps(answer.json())


def test_a_good_request_gets_a_label_per_text_in_order(client):
    answer = client.post("/predict", json={"texts": ["@united lost my bag", "", "thanks!"]})
    assert answer.status_code == 200
    body = answer.json()
    assert len(body["predictions"]) == 3 and body["threshold"] == 0.5 and body["model"].startswith("tiny-model@")
    for row in body["predictions"]:
        assert row["label"] == ("non-complaint" if row["non_complaint_probability"] > 0.5 else "complaint")
    assert client.get("/health").json() == {"status": "ok", "in_flight_texts": 0}  # every answer freed its texts
    assert client.get("/info").json()["engine"] == "torch"


def cli_cases(folder: Path, model: Path) -> dict[str, tuple[list[str], str]]:
    """Each failure the CLI must report in one line: arguments and the words the line must hold."""
    (folder / "ok.csv").write_text("id,tweet\n1,hello\n")
    (folder / "latin1.csv").write_bytes(b"id,tweet\n1,caf\xe9\n")
    (folder / "unreadable.csv").mkdir()
    model_options = ["--model", str(model), "--threshold", "0.5"]
    return {
        "missing model": (["predict", "hi", "--model", str(folder / "nowhere")], "dvc repro"),
        "missing column": (["predict", "--input", str(folder / "ok.csv"), "--text-column", "text", *model_options],
                           "no column text"),
        "not utf-8": (["predict", "--input", str(folder / "latin1.csv"), "--text-column", "tweet", *model_options],
                      "not valid UTF-8"),
        "unreadable file": (["predict", "--input", str(folder / "unreadable.csv"), "--text-column", "tweet",
                             *model_options], "not a readable file"),
        "missing file": (["predict", "--input", str(folder / "gone.csv"), "--text-column", "tweet", *model_options],
                         "no such file"),
        "unknown output type": (["predict", "hi", "--output", str(folder / "out.xlsx"), *model_options],
                                "unknown file type"),
        "no threshold": (["predict", "hi", "--model", str(model)], "no threshold"),
    }


@pytest.mark.parametrize("case", ["missing model", "missing column", "not utf-8", "unreadable file", "missing file",
                                  "unknown output type", "no threshold"])
def test_cli_input_errors_exit_1_with_one_line_and_write_nothing(tiny_model, tmp_path, capsys, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    arguments, words = cli_cases(tmp_path, tiny_model)[case]
    if "--output" not in arguments:
        arguments = [*arguments, "--output", str(tmp_path / "out.csv")]
    with pytest.raises(SystemExit) as stopped:
        cli.main(arguments)
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert stopped.value.code == 1 and len(errors) == 1 and words in errors[0], captured.err
    assert captured.out == "" and not (tmp_path / "out.csv").exists() and not (tmp_path / "out.xlsx").exists()
    assert not list(tmp_path.glob(".out.*"))


@pytest.mark.parametrize("arguments, words", [
    (["predict"], "give tweets"),
    (["predict", "hi", "--input", "x.csv"], "not both"),
    (["predict", "--input", "x.csv"], "--input needs --text-column"),
    (["predict", "hi", "--threshold", "1.5"], "outside [0, 1)"),
    (["predict", "hi", "--batch-size", "0"], "not an integer >= 1"),
    (["serve", "--port", "http"], "not an integer >= 1"),
    (["predict", "hi", "--engine", "tensorrt"], "invalid choice"),
])
def test_cli_argument_errors_exit_2_naming_the_argument(tmp_path, capsys, monkeypatch, arguments, words):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        cli.main(arguments)
    captured = capsys.readouterr()
    assert stopped.value.code == 2 and words in captured.err and captured.out == ""


def test_a_tweet_exactly_at_the_threshold_gets_one_answer_from_the_cli_metrics_analysis_and_external_stage(
        tiny_model, capsys):
    import numpy as np
    import pandas as pd

    from complaints.evaluation.analysis import confident_mistakes, slice_metrics
    from complaints.core.metrics import classification_metrics
    from complaints.serving.predictor import Predictor
    from complaints.evaluation.external import external_metrics

    tweet = "@united lost my bag again"
    at = float(Predictor.load(tiny_model).non_complaint_probability([tweet])[0])
    cli.main(["predict", "--model", str(tiny_model), "--threshold", repr(at), tweet])
    assert pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))["label"].tolist() == ["complaint"]

    # A non-complaint scored exactly at the threshold, and a complaint below it: both called complaints.
    tweets = pd.DataFrame({"id": [1, 2], "text": [tweet, "late again"], "label": [1, 0], "airline": ["United"] * 2,
                           "negativereason": ["", "Late Flight"]})
    probability = np.array([at, at / 2])
    metrics = classification_metrics(tweets["label"].to_numpy(), probability, at)
    assert (metrics["tp"], metrics["fn"], metrics["tn"], metrics["fp"]) == (0, 1, 1, 0)
    assert slice_metrics(tweets, probability, at).query("slice_kind == 'airline'")["accuracy"].tolist() == [0.5]
    assert confident_mistakes(tweets, probability, threshold=at)["mistake"].tolist() == ["false complaint"]
    external = external_metrics(tweets, probability, at)["at_threshold"]
    assert (external["tp"], external["fn"]) == (0, 1)


def test_a_body_over_the_cap_gets_413_by_its_declared_length(client):
    cap = ServeParams(max_texts=8, max_chars=280).body_bytes
    answer = client.post("/predict", content=b"x" * (cap + 1), headers={"content-type": "application/json"})
    assert answer.status_code == 413 and f"the limit is {cap} (serve.max_body_bytes)" in answer.json()["detail"]


@pytest.mark.parametrize("fields, words", [
    ({"max_in_flight_texts": 4, "max_texts": 8}, "serve.max_in_flight_texts"),
    ({"max_body_bytes": 10}, "serve.max_body_bytes"),
    ({"batch_wait_ms": -1.0}, "serve.batch_wait_ms"),
    ({"batch_max_texts": 0}, "serve.batch_max_texts"),
])
def test_bad_serve_params_are_rejected_with_the_key(fields, words):
    from complaints.core.config import ParamsError

    with pytest.raises(ParamsError, match=words.replace(".", r"\.")):
        ServeParams(**fields)
