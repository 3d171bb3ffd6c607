"""Every stage's real `main` on a tiny mirror, chained as dvc.yaml chains them."""
import json

import pandas as pd
import pytest
import yaml

from complaints.config import ParamsError
from stages import baseline, download, evaluate, predict, split, tokenize, train


@pytest.fixture(scope="module")
def workdir(tiny_params_file, tmp_path_factory):
    """Run the whole chain once in a fresh folder; tests read its outputs."""
    work = tmp_path_factory.mktemp("work")
    params = ["--params", str(tiny_params_file)]
    download.main(params + ["--out", str(work / "raw")])
    split.main(params + ["--raw", str(work / "raw"), "--out", str(work / "split"), "--duplicates", str(work / "dup.json")])
    baseline.main(params + ["--split", str(work / "split"), "--model", str(work / "baseline.joblib"),
                            "--metrics", str(work / "baseline.json"), "--plots", str(work / "plots_baseline"),
                            "--cv-plot", str(work / "cv" / "cv_auc.csv")])
    tokenize.main(params + ["--split", str(work / "split"), "--out", str(work / "tokens"), "--stats", str(work / "tokens.json")])
    train.main(params + ["--tokens", str(work / "tokens"), "--train-on", "train", "--validate-on", "val",
                         "--model", str(work / "bert"), "--live", str(work / "live")])
    train.main(params + ["--tokens", str(work / "tokens"), "--train-on", "train", "val",
                         "--model", str(work / "bert_full"), "--live", str(work / "live_full")])
    evaluate.main(params + ["--tokens", str(work / "tokens"), "--model", str(work / "bert"),
                            "--metrics", str(work / "bert.json"), "--plots", str(work / "plots_bert")])
    predict.main(params + ["--tokens", str(work / "tokens"), "--split", str(work / "split"), "--model", str(work / "bert_full"),
                           "--out", str(work / "test.csv"), "--metrics", str(work / "predict.json"),
                           "--review", str(work / "review.csv"), "--sweep", str(work / "sweep.csv")])
    return work


def test_split_sizes_and_tokens(workdir):
    assert [len(pd.read_parquet(workdir / "split" / f"{s}.parquet")) for s in ("train", "val", "test")] == [72, 8, 30]
    stats = json.loads((workdir / "tokens.json").read_text())
    assert set(stats) == {"train_tokens", "val_tokens", "test_tokens"} and stats["train_tokens"]["truncated"] > 0


def test_baseline_and_bert_metrics_share_keys(workdir):
    baseline_metrics = json.loads((workdir / "baseline.json").read_text())
    bert_metrics = json.loads((workdir / "bert.json").read_text())
    shared = {"auc", "accuracy", "precision", "recall", "f1"}
    assert shared <= set(baseline_metrics) and shared <= set(bert_metrics)
    assert 0 <= bert_metrics["auc"] <= 1


def test_model_folder_is_loadable_by_plain_transformers(workdir):
    from transformers import AutoModel, AutoTokenizer

    encoder = AutoModel.from_pretrained(workdir / "bert" / "encoder")
    tokenizer = AutoTokenizer.from_pretrained(workdir / "bert" / "encoder")
    assert encoder.config.hidden_size == 384 and tokenizer("hello")["input_ids"][0] == 101
    training = json.loads((workdir / "bert_full" / "training.json").read_text())
    assert training["train_on"] == ["train", "val"] and len(training["history"]) == 1
    assert (workdir / "live" / "plots" / "metrics" / "val_auc.tsv").exists()


def test_predict_writes_every_test_id_once(workdir, tiny_params_file):
    predictions = pd.read_csv(workdir / "test.csv")
    test = pd.read_parquet(workdir / "split" / "test.parquet")
    assert list(predictions.columns) == ["id", "text", "probability", "label"]
    assert predictions["id"].tolist() == test["id"].tolist()
    assert ((predictions["probability"] > 0.9) == (predictions["label"] == 1)).all()
    summary = json.loads((workdir / "predict.json").read_text())
    assert summary["non_complaints"] == predictions["label"].sum() and summary["tweets"] == 30
    review = pd.read_csv(workdir / "review.csv")
    assert len(review) == min(5, summary["non_complaints"]) and (review["label"] == 1).all()
    sweep = pd.read_csv(workdir / "sweep.csv").set_index("threshold")["test_non_complaint_share"]
    assert sweep.is_monotonic_decreasing and sweep.loc[0.9] == summary["non_complaint_share"]


def test_validation_threshold_sweep(workdir):
    sweep = pd.read_csv(workdir / "plots_bert" / "threshold_sweep.csv")
    assert list(sweep.columns) == ["threshold", "precision", "recall"] and sweep["recall"].is_monotonic_decreasing


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("train", "lr", "fast", r"train\.lr.*'fast', expected a number"),
        ("train", "lr", 0.0, r"train\.lr.*positive"),
        ("train", "epochs", 0, r"train\.epochs"),
        ("train", "batch_size", 0, r"train\.batch_size"),
        ("train", "lrate", 1.0, r"unknown key\(s\) lrate"),
        ("predict", "threshold", 1.0, r"predict\.threshold"),
        ("tokenize", "max_len", 4, r"tokenize\.max_len.*from 8 to 512"),
        ("model", "name", "/no/such/model", r"model\.name.*'/no/such/model'.*'embedded'"),
    ],
)
def test_bad_params_are_rejected_with_the_key(tiny_params_file, workdir, tmp_path, monkeypatch, section, key, value, message):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    params = yaml.safe_load(tiny_params_file.read_text())
    params[section][key] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    stage, extra = {
        "train": (train, ["--tokens", str(workdir / "tokens"), "--train-on", "train", "--model", str(tmp_path / "m"), "--live", str(tmp_path / "l")]),
        "predict": (predict, ["--tokens", str(workdir / "tokens"), "--split", str(workdir / "split"), "--model", str(workdir / "bert_full"),
                              "--out", str(tmp_path / "t.csv"), "--metrics", str(tmp_path / "p.json"), "--review", str(tmp_path / "r.csv"), "--sweep", str(tmp_path / "s.csv")]),
        "tokenize": (tokenize, ["--split", str(workdir / "split"), "--out", str(tmp_path / "tok"), "--stats", str(tmp_path / "s.json")]),
        "model": (tokenize, ["--split", str(workdir / "split"), "--out", str(tmp_path / "tok"), "--stats", str(tmp_path / "s.json")]),
    }[section]
    with pytest.raises(ParamsError, match=message):
        stage.main(["--params", str(path)] + extra)
    assert not any(tmp_path.glob("[mltsr]*")), "a rejected run leaves no output"


def test_predict_with_int8_inference(workdir, tiny_params_file, tmp_path):
    params = yaml.safe_load(tiny_params_file.read_text())
    params["predict"]["int8"] = True
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    predict.main(["--params", str(path), "--tokens", str(workdir / "tokens"), "--split", str(workdir / "split"),
                  "--model", str(workdir / "bert_full"), "--out", str(tmp_path / "test.csv"), "--metrics",
                  str(tmp_path / "predict.json"), "--review", str(tmp_path / "review.csv"), "--sweep", str(tmp_path / "s.csv")])
    fp32 = pd.read_csv(workdir / "test.csv")
    int8 = pd.read_csv(tmp_path / "test.csv")
    assert int8["id"].tolist() == fp32["id"].tolist()
    assert (int8["probability"] - fp32["probability"]).abs().max() < 0.5
