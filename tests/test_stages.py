"""Every stage's real `main` on a tiny mirror, chained as dvc.yaml chains them."""
import json

import pandas as pd
import pytest
import yaml

from complaints.core.config import ParamsError
from conftest import TINY_ENCODER, released_recipe, run_threshold
from stages import ensemble, threshold, tokenize, train

def test_split_sizes_and_tokens(workdir):
    assert [len(pd.read_parquet(workdir / "data" / "split" / f"{s}.parquet")) for s in ("train", "val", "test")] == [72, 8, 30]
    stats = json.loads((workdir / "reports" / "tokens" / "model.json").read_text())
    assert set(stats) == {"train_tokens", "val_tokens", "test_tokens"} and stats["train_tokens"]["truncated"] > 0


def test_baseline_and_bert_metrics_share_keys(workdir):
    baseline_metrics = json.loads((workdir / "reports" / "baseline.json").read_text())
    bert_metrics = json.loads((workdir / "reports" / "bert.json").read_text())
    shared = {"auc", "accuracy", "precision", "recall", "f1"}
    assert shared <= set(baseline_metrics) and shared <= set(bert_metrics)
    assert 0 <= bert_metrics["auc"] <= 1


def test_model_folder_is_a_transformers_model_with_its_tokenizer(workdir):
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(workdir / "models" / "bert", trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(workdir / "models" / "bert", config=config)
    assert config.encoder.hidden_size == TINY_ENCODER["hidden_size"] and config.max_length == 16 and tokenizer.model_max_length == 16
    assert config.id2label == {0: "complaint", 1: "non-complaint"} and tokenizer("hello")["input_ids"][0] == 101
    assert (workdir / "dvclive" / "bert" / "plots" / "metrics" / "dev_auc.tsv").exists()


def test_train_holds_out_dev_and_the_refit_uses_its_chosen_epoch(workdir):
    training = json.loads((workdir / "models" / "bert" / "training.json").read_text())
    dev = pd.read_csv(workdir / "models" / "bert" / "dev_probabilities.csv")
    train_ids = set(pd.read_parquet(workdir / "data" / "split" / "train.parquet")["id"])
    assert len(dev) == 8 and set(dev["id"]) <= train_ids and training["chosen_epoch"] == 1
    assert json.loads((workdir / "reports" / "bert.json").read_text())["dev_auc"] == training["history"][0]["dev_auc"]
    refit = json.loads((workdir / "models" / "bert_full" / "training.json").read_text())
    assert refit["train_on"] == ["train", "val"] and len(refit["history"]) == 1 and "dev_auc" not in refit["history"][0]
    tutorial = json.loads((workdir / "models" / "tutorial" / "training.json").read_text())
    assert tutorial["train"]["pooling"] == "cls" and not (workdir / "models" / "tutorial" / "dev_probabilities.csv").exists()


def test_self_training_records_its_teacher_and_pseudo_labels(workdir, tiny_params_file, tmp_path):
    params = yaml.safe_load(tiny_params_file.read_text())
    params["train"].update(self_training=True, pseudo_confidence=0.5)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    train.main(["--params", str(tmp_path / "params.yaml"), "--tokens", str(workdir / "data" / "tokens" / "model"), "--fit", "train",
                "--model", str(tmp_path / "bert"), "--live", str(tmp_path / "live")])
    record = json.loads((tmp_path / "bert" / "training.json").read_text())
    test_tweets = len(pd.read_parquet(workdir / "data" / "split" / "test.parquet"))
    assert record["self_training"]["unlabeled"] == record["self_training"]["pseudo_labeled"] == test_tweets
    assert len(record["self_training"]["teacher_history"]) == len(record["history"]) == 1
    assert record["train"]["self_training"] and (tmp_path / "bert" / "dev_probabilities.csv").is_file()


def test_seeds_ensemble_and_compare_report_their_figures(workdir):
    spread = json.loads((workdir / "reports" / "seeds.json").read_text())
    assert spread["seeds"] == 2 and spread["auc_per_seed"]["main"] == json.loads((workdir / "reports" / "bert.json").read_text())["auc"]
    assert spread["auc_min"] <= spread["auc"] <= spread["auc_max"]
    assert json.loads((workdir / "metrics" / "seeds.json").read_text()) == {key: spread[key] for key in ("auc", "accuracy", "f1")}
    combined = json.loads((workdir / "reports" / "ensemble.json").read_text())
    assert combined["method"] == "average" and 0 <= combined["auc"] <= 1 and 0 <= combined["dev_auc"] <= 1
    differences = json.loads((workdir / "reports" / "compare.json").read_text())
    for pair in ("bert_vs_baseline", "bert_vs_tutorial", "ensemble_vs_baseline", "ensemble_vs_tutorial"):
        assert differences[f"{pair}_ci_low"] <= differences[f"{pair}_ci_high"]


def test_threshold_goes_into_the_serving_folder_and_predict_labels_every_test_id_once_by_it(workdir, tiny_params_file):
    summary = json.loads((workdir / "reports" / "threshold.json").read_text())
    threshold = summary["threshold"]
    assert json.loads((workdir / "models" / "serving" / "threshold.json").read_text())["threshold"] == threshold
    predictions = pd.read_csv(workdir / "predictions" / "test.csv")
    test = pd.read_parquet(workdir / "data" / "split" / "test.parquet")
    assert list(predictions.columns) == ["id", "text", "non_complaint_probability", "label"]
    assert predictions["id"].tolist() == test["id"].tolist()
    assert ((predictions["non_complaint_probability"] > threshold) == (predictions["label"] == 1)).all()
    # The committed strategy: the tutorial's own method, about `target_count` test tweets called non-complaints.
    target = yaml.safe_load(tiny_params_file.read_text())["threshold"]["target_count"]
    assert summary["strategy"] == "target_count" and summary["tweets"] == 30
    assert summary["non_complaints"] == predictions["label"].sum() >= target
    assert 0 < summary["prior_estimate"] < 1 and summary["training_prior"] == 0.5
    review = pd.read_csv(workdir / "predictions" / "review_sample.csv")
    assert len(review) == min(5, summary["non_complaints"]) and (review["label"] == 1).all()
    sweep = pd.read_csv(workdir / "plots" / "threshold" / "sweep.csv").set_index("threshold")
    assert list(sweep.columns) == ["precision", "recall", "test_non_complaint_share"]
    assert sweep["test_non_complaint_share"].is_monotonic_decreasing
    assert sweep.loc[0.9, "test_non_complaint_share"] == (predictions["non_complaint_probability"] > 0.9).mean()


@pytest.mark.parametrize(
    "strategy, settings",
    [("fixed", {"fixed": 0.7}), ("target_count", {"target_count": 12}), ("max_f1", {}), ("precision_at", {"target_precision": 0.5})],
)
def test_each_threshold_strategy_on_small_data(workdir, tiny_params_file, tmp_path, strategy, settings):
    params = yaml.safe_load(tiny_params_file.read_text())
    params["threshold"].update(strategy=strategy, **settings)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    summary = run_threshold(path, workdir, tmp_path)
    test_probability = pd.read_parquet(workdir / "predictions" / "test_scores.parquet")["non_complaint_probability"]
    cut = summary["threshold"]
    assert summary["strategy"] == strategy and summary["non_complaints"] == (test_probability > cut).sum()
    validation = pd.read_csv(workdir / "plots" / released_recipe() / "val_probabilities.csv")
    called = validation["non_complaint_probability"] > cut
    precision = (validation["label"][called] == 1).mean() if called.any() else 0.0
    assert summary["val_precision"] == pytest.approx(precision)
    if strategy == "fixed":
        assert cut == 0.7
    elif strategy == "target_count":
        assert summary["non_complaints"] == 12
    elif strategy == "precision_at":
        assert summary["val_precision"] >= 0.5
        lower = validation["non_complaint_probability"][validation["non_complaint_probability"] < cut]
        if len(lower):  # one more tweet called non-complaint would fall below the target
            looser = validation["non_complaint_probability"] >= lower.max()
            assert (validation["label"][looser] == 1).mean() < 0.5
    else:
        candidates = validation["non_complaint_probability"].tolist()
        best = max(2 * ((validation["label"][validation["non_complaint_probability"] >= c] == 1).sum())
                   / ((validation["non_complaint_probability"] >= c).sum() + (validation["label"] == 1).sum()) for c in candidates)
        assert summary["val_f1"] == pytest.approx(best)


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("train", "lr", "fast", r"train\.lr.*'fast', expected a number"),
        ("train", "lr", 0.0, r"train\.lr.*positive"),
        ("train", "epochs", 0, r"train\.epochs"),
        ("train", "batch_size", 0, r"train\.batch_size"),
        ("train", "lrate", 1.0, r"unknown key\(s\) lrate"),
        ("train", "pooling", "max", r"train\.pooling.*'max'.*cls, mean"),
        ("threshold", "strategy", "best", r"threshold\.strategy.*'best'.*fixed, target_count, max_f1, precision_at"),
        ("threshold", "fixed", 1.0, r"threshold\.fixed"),
        ("threshold", "target_precision", 1.5, r"threshold\.target_precision"),
        ("ensemble", "method", "vote", r"ensemble\.method.*'vote'"),
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
    tokenize_run = (tokenize, ["--split", str(workdir / "data" / "split"), "--out", str(tmp_path / "tok"), "--stats", str(tmp_path / "s.json")])
    stage, extra = {
        "train": (train, ["--tokens", str(workdir / "data" / "tokens" / "model"), "--fit", "train", "--model", str(tmp_path / "m"), "--live", str(tmp_path / "l")]),
        "threshold": (threshold, ["--val", str(workdir / "plots" / "bert" / "val_probabilities.csv"), "--model", str(workdir / "models" / "bert_full"),
                                  "--split", str(workdir / "data" / "split"), "--metrics", str(tmp_path / "m.json"), "--report", str(tmp_path / "r.json"),
                                  "--sweep", str(tmp_path / "s.csv")]),
        "ensemble": (ensemble, ["--bert-dev", str(workdir / "models" / "bert" / "dev_probabilities.csv"), "--baseline-oof", str(workdir / "data" / "baseline_oof.csv"),
                                "--bert-val", str(workdir / "plots" / "bert" / "val_probabilities.csv"),
                                "--baseline-val", str(workdir / "plots" / "baseline" / "val_probabilities.csv"),
                                "--combination", str(tmp_path / "c.json"), "--metrics", str(tmp_path / "m.json"),
                                "--report", str(tmp_path / "r.json"), "--plots", str(tmp_path / "l")]),
        "tokenize": tokenize_run,
        "model": tokenize_run,
    }[section]
    with pytest.raises(ParamsError, match=message):
        stage.main(["--params", str(path)] + extra)
    assert not any(tmp_path.glob("[mltsr]*")), "a rejected run leaves no output"


def test_the_predict_stage_scores_with_the_engine_its_params_name(workdir, tiny_params_file, tmp_path):
    import numpy as np

    from complaints.serving.predictor import Predictor
    from stages import predict

    params = yaml.safe_load(tiny_params_file.read_text())
    params["predict"]["engine"] = "onnx-int8"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    predict.main(["--params", str(tmp_path / "params.yaml"), "--split", str(workdir / "data" / "split"), "--model",
                  str(workdir / "models" / "serving"), "--scores", str(tmp_path / "scores.parquet"), "--out", str(tmp_path / "test.csv"),
                  "--review", str(tmp_path / "review.csv")])
    scored = pd.read_parquet(tmp_path / "scores.parquet")["non_complaint_probability"].to_numpy()
    texts = pd.read_parquet(workdir / "data" / "split" / "test.parquet")["text"].tolist()
    by_engine = {engine: Predictor.load(workdir / "models" / "serving", params["predict"]["batch_size"], engine=engine)
                 .non_complaint_probability(texts) for engine in ("onnx-int8", "torch")}
    assert np.abs(by_engine["onnx-int8"] - by_engine["torch"]).max() > 1e-6, "the engines must differ for this check"
    assert np.abs(scored - by_engine["onnx-int8"]).max() < 1e-9


def test_export_judges_every_engine_and_fails_when_the_default_engine_does_not_pass(workdir, tiny_params_file, tmp_path):
    import numpy as np

    from complaints.serving.onnx_export import ExportError
    from complaints.serving.predictor import Predictor
    from stages import export

    judged = json.loads((workdir / "reports" / "export.json").read_text())
    assert judged["default_engine"] == "onnx" and judged["engines"]["onnx"]["passes_gate"]
    manifest = json.loads((workdir / "models" / "serving" / "manifest.json").read_text())
    assert manifest["files"]["model.onnx"] and manifest["engine"] == "onnx"
    headline = json.loads((workdir / "metrics" / "engines" / "onnx-int8.json").read_text())
    assert headline == {"labels_kept": judged["engines"]["onnx_int8"]["test_label_agreement"],
                        "non_complaints": judged["engines"]["onnx_int8"]["test_non_complaints"]}
    # A threshold between a test tweet's PyTorch and int8 scores: int8 flips its label, so it keeps under 100%.
    texts = pd.read_parquet(workdir / "data" / "split" / "test.parquet")["text"].tolist()
    torch_scores, int8_scores = (Predictor.load(workdir / "models" / "serving", engine=engine).non_complaint_probability(texts)
                                 for engine in ("torch", "onnx-int8"))
    flipped = int(np.argmax(np.abs(torch_scores - int8_scores)))
    threshold = dict(json.loads((workdir / "reports" / "threshold.json").read_text()),
                     threshold=float((torch_scores[flipped] + int8_scores[flipped]) / 2))
    (tmp_path / "threshold.json").write_text(json.dumps(threshold))
    params = yaml.safe_load(tiny_params_file.read_text())
    params["predict"]["engine"] = "onnx-int8"
    params["engines"]["min_label_agreement"] = 1.0
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ExportError, match=r"default engine onnx-int8 \(params key 'predict.engine'\) does not pass"):
        export.main(["--params", str(tmp_path / "params.yaml"), "--model", str(workdir / "models" / f"{released_recipe()}_full"),
                     "--split", str(workdir / "data" / "split"), "--threshold", str(tmp_path / "threshold.json"), "--out",
                     str(tmp_path / "serving"), "--metrics", str(tmp_path / "engines"), "--report", str(tmp_path / "export.json")])
    assert not any((tmp_path / name).exists() for name in ("serving", "engines", "export.json"))
