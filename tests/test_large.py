"""The large release (`complaint-classifier-large`): the two encoders' ensemble folder, its card, and the predictor,
CLI and service on it."""
import json
import signal
import shutil
from io import StringIO

import numpy as np
import pandas as pd
import pytest
import yaml

from complaints.core.io import DataError
from complaints.serving.modelfolder import check_model_folder, ensemble_members, manifest
from complaints.serving.predictor import Predictor
from conftest import ROOT
from test_release import DVC_YAML, card_metadata
from test_serving import TWEETS, complaints, start_service


def test_the_large_release_averages_its_members_with_the_teachers_share(workdir, tiny_params_file):
    large = workdir / "release_large"
    share = yaml.safe_load(tiny_params_file.read_text())["bert_teacher"]["teacher_weight"]
    assert ensemble_members(large) == {"bert": pytest.approx(1 - share), "teacher": pytest.approx(share)}
    for member in ("bert", "teacher"):
        assert (large / member / "model.onnx").is_file() and (large / member / "model.safetensors").is_file()
    # The ONNX ensemble against the two PyTorch models the pipeline trained, averaged by hand.
    bert, teacher = (Predictor.load(workdir / name, engine="torch").non_complaint_probability(TWEETS)
                     for name in ("bert", "teacher"))
    served = Predictor.load(large, engine="onnx").non_complaint_probability(TWEETS)
    assert np.abs(served - ((1 - share) * bert + share * teacher)).max() < 1e-4
    assert served[0] == served[2], "identical tweets get one answer"


def test_the_large_card_is_written_from_the_reports_and_the_measured_speeds(workdir, tiny_encoder, tiny_teacher):
    card = (workdir / "release_large" / "README.md").read_text()
    metadata = card_metadata(card)
    assert metadata["base_model"] == [str(tiny_encoder), str(tiny_teacher)] and "ensemble" in metadata["tags"]
    exported = json.loads((workdir / "export_large.json").read_text())
    (result,) = metadata["model-index"][0]["results"]
    assert metadata["model-index"][0]["name"] == "complaint-classifier-large"
    assert {metric["type"]: metric["value"] for metric in result["metrics"]}["roc_auc"] == round(exported["validation"]["auc"], 4)
    threshold = json.loads((workdir / "release_large" / "threshold.json").read_text())
    assert threshold["threshold"] == exported["threshold"]["threshold"] and f"**{threshold['threshold']:.4f}**" in card
    speed = json.loads((ROOT / "benchmarks" / "results" / "large.json").read_text())
    assert f"| {speed['sides']['large']['tweets_per_s']:,.0f} |" in card and speed["machine"]["cpu"] in card
    external = json.loads((workdir / "external.json").read_text())
    assert f"{external['bert_teacher']['auc']:.4f} ± {external['bert_teacher']['auc_se']:.4f}" in card
    release = json.loads((workdir / "release_large" / "release.json").read_text())
    assert release["name"] == "complaint-classifier-large" and release["engine"] == "onnx"
    assert DVC_YAML["artifacts"]["complaint-classifier-large"]["path"] == "models/release_large"


def test_the_manifest_digest_covers_every_member_file(workdir, tmp_path):
    copy = shutil.copytree(workdir / "release_large", tmp_path / "large")
    before = manifest(copy)
    assert {"bert/model.onnx", "teacher/model.onnx", "ensemble.json"} <= set(before["files"])
    assert json.loads((copy / "manifest.json").read_text())["files"] == {
        name: digest for name, digest in before["files"].items() if name not in ("README.md", "release.json")}
    (copy / "teacher" / "config.json").write_text((copy / "teacher" / "config.json").read_text() + " ")
    assert manifest(copy)["digest"] != before["digest"]


@pytest.mark.parametrize("members, words", [
    ({"bert": 0.5}, "sum to 0.5"),
    ({"../bert": 1.0}, "member '../bert'"),
    ({"bert": -0.5, "teacher": 1.5}, "weight -0.5"),
    ({}, "'members' is {}"),
    ({"bert": "half", "teacher": 0.5}, "weight 'half'"),
])
def test_a_bad_ensemble_file_is_refused_naming_the_file_and_what_was_expected(tmp_path, members, words):
    (tmp_path / "ensemble.json").write_text(json.dumps({"members": members}))
    with pytest.raises(DataError, match="ensemble.json") as error:
        ensemble_members(tmp_path)
    assert words in str(error.value) and "weights >= 0 that sum to 1" in str(error.value)


def test_a_missing_member_engine_file_names_the_member_folder(workdir, tmp_path):
    copy = shutil.copytree(workdir / "release_large", tmp_path / "large")
    (copy / "teacher" / "model.onnx").unlink()
    with pytest.raises(DataError, match=r"large/teacher: no model.onnx for engine onnx"):
        check_model_folder(copy, "onnx")
    check_model_folder(copy, "torch")


@pytest.fixture(scope="module")
def large_project(workdir, tmp_path_factory):
    """A folder holding the large release, its threshold set to 0.5 (the tiny models score near 0.5)."""
    project = tmp_path_factory.mktemp("large")
    shutil.copytree(workdir / "release_large", project / "release_large")
    (project / "release_large" / "threshold.json").write_text(json.dumps({"threshold": 0.5}))
    return project


def test_cli_and_service_score_with_the_large_release(large_project):
    folder = large_project / "release_large"
    expected = Predictor.load(folder, engine="onnx").non_complaint_probability(TWEETS[:2])
    given = complaints("predict", "--model", str(folder), TWEETS[0], TWEETS[1], cwd=large_project)
    assert given.returncode == 0, given.stderr
    rows = pd.read_csv(StringIO(given.stdout.decode()))
    assert np.abs(rows["non_complaint_probability"].to_numpy() - expected).max() < 1e-9
    assert rows["label"].tolist() == ["non-complaint" if p > 0.5 else "complaint" for p in expected]
    int8 = complaints("predict", "--model", str(folder), "--engine", "onnx-int8", TWEETS[0], cwd=large_project)
    assert int8.returncode == 1 and b"release_large/bert: no model_int8.onnx for engine onnx-int8" in int8.stderr

    client, process = start_service(large_project, "--model", str(folder))
    try:
        body = client.post("/predict", json={"texts": TWEETS[:2]}).json()
        assert [row["non_complaint_probability"] for row in body["predictions"]] == pytest.approx(expected, abs=1e-9)
        info = client.get("/info").json()
        assert info["engine"] == "onnx" and set(info["members"]) == {"bert", "teacher"}
        assert info["digest"] == json.loads((folder / "manifest.json").read_text())["digest"]
        assert client.post("/predict", json={"texts": "not a list"}).status_code == 422
    finally:
        client.close()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
