"""The external labeled set: the half rule, its checks and labels, the overlap report, and its scoring stage."""
import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from complaints.data.tweets import label_tweets, read_tweets, split_labeled
from complaints.data.download import download
from complaints.core.io import sha256_of
from complaints.data.external_data import (
    EXTERNAL_FILE, ExternalDataParams, deduplicated, external_fetcher, is_even_half, overlap_report, read_external,
)
from complaints.core.io import DataError
from complaints.evaluation.figures import resample_auc
from complaints.evaluation.external import reason_auc
from conftest import EXTERNAL_MIRROR, MIRROR

HEADER = ["tweet_id", "airline_sentiment", "negativereason", "airline", "text", "tweet_created"]


def upstream_file(folder, rows: int = 30):
    """A small file in the upstream format, one tweet spanning two lines."""
    path = folder / "Tweets.csv"
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(HEADER)
        for i in range(rows):
            sentiment = ("negative", "neutral", "positive")[i % 3]
            writer.writerow([str(570000000000000000 + i), sentiment, "Late Flight" if sentiment == "negative" else "",
                             "United", f"@united tweet {i}" + ("\nsecond line" if i == 4 else ""), "2015-02-24"])
    return path


def params_for(expected_digest: str, upstream_digest: str) -> ExternalDataParams:
    return ExternalDataParams(sources=("unused",), sha256={EXTERNAL_FILE: expected_digest}, upstream_sha256=upstream_digest)


def test_the_upstream_file_is_verified_then_halved_by_the_documented_rule(tmp_path):
    upstream = upstream_file(tmp_path)
    expected = tmp_path / "expected.csv"
    with open(upstream, encoding="utf-8", newline="") as source, open(expected, "w", encoding="utf-8", newline="") as out:
        reader, writer = csv.reader(source), csv.writer(out, lineterminator="\n")
        writer.writerow(next(reader))
        writer.writerows(row for row in reader if int(hashlib.sha256(row[0].encode()).hexdigest(), 16) % 2 == 0)
    params = params_for(sha256_of(expected), sha256_of(upstream))
    download(params, [str(upstream)], tmp_path / "out", external_fetcher(params.upstream_sha256))
    assert (tmp_path / "out" / EXTERNAL_FILE).read_bytes() == expected.read_bytes()
    kept = read_external(tmp_path / "out" / EXTERNAL_FILE)
    assert 0 < len(kept) < 30 and all(is_even_half(str(tweet_id)) for tweet_id in kept["id"])


def test_a_changed_upstream_file_is_named_with_both_digests(tmp_path):
    upstream = upstream_file(tmp_path)
    params = params_for("0" * 64, "1" * 64)
    with pytest.raises(DataError, match="no data source worked") as error:
        download(params, [str(upstream)], tmp_path / "out", external_fetcher(params.upstream_sha256))
    assert "1" * 64 in str(error.value) and sha256_of(upstream) in str(error.value)
    assert not (tmp_path / "out").exists()


def test_the_mirror_gives_the_documented_set_and_overlap():
    rows = read_external(EXTERNAL_MIRROR / EXTERNAL_FILE)
    tweets, report = deduplicated(rows)
    assert (report["rows"], report["tweets"], report["repeated_ids"], len(report["conflicting_ids"])) == (7313, 7235, 74, 4)
    assert tweets["id"].is_unique and set(tweets["label"]) == {0, 1}
    assert abs((1 - rows["label"].mean()) - 0.624) < 0.001  # the README's 62.4% complaints
    assert (tweets.loc[tweets["label"] == 1, "negativereason"] == "").all()
    labeled = label_tweets(read_tweets(MIRROR / "complaint1700.csv"), read_tweets(MIRROR / "noncomplaint1700.csv"))
    train, val = split_labeled(labeled, 0.1, 2020)
    overlap = overlap_report(tweets, {"labeled": pd.concat([train, val]), "test": read_tweets(MIRROR / "test_data.csv")})
    assert overlap["labeled"]["count"] == 11 and overlap["test"]["count"] == 24  # as the set's README says


def test_an_unknown_sentiment_names_the_row_and_column(tmp_path):
    path = tmp_path / EXTERNAL_FILE
    pd.DataFrame([["1", "negative", "Bad Flight", "United", "late", "x"], ["2", "angry", "", "United", "hm", "x"]],
                 columns=HEADER).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"data row 2: column 'airline_sentiment' = 'angry', expected one of negative"):
        read_external(path)


def test_a_repeated_tweet_with_conflicting_labels_is_dropped_and_reported():
    rows = pd.DataFrame({"id": [1, 1, 2, 2, 3], "airline": "United", "text": ["a", "a", "b", "b", "c"],
                         "label": [0, 0, 0, 1, 1], "negativereason": ["x", "x", "x", "", ""]})
    tweets, report = deduplicated(rows)
    assert tweets["id"].tolist() == [1, 3] and report["conflicting_ids"] == [2] and report["repeated_ids"] == 2


def test_reason_auc_sets_each_reasons_complaints_against_every_non_complaint():
    tweets = pd.DataFrame({"label": [0, 0, 0, 1, 1], "negativereason": ["late", "late", "rude", "", ""]})
    probability = np.array([0.1, 0.6, 0.9, 0.5, 0.8])
    # late: complaints 0.1, 0.6 vs non-complaints 0.5, 0.8 -> 3 of 4 pairs ordered; rude: 0.9 above both -> 0
    assert reason_auc(tweets, probability) == {"late": 0.75, "rude": 0.0}


def test_the_fast_resample_auc_equals_sklearn_on_a_resample_with_ties():
    generator = np.random.default_rng(3)
    labels = generator.integers(0, 2, 500)
    probability = np.round(generator.random(500) * 0.6 + labels * 0.2, 2)  # many ties
    rows = generator.integers(0, 500, 500)
    counts = np.bincount(rows, minlength=500).astype(float)
    assert resample_auc(labels, probability)(counts) == pytest.approx(roc_auc_score(labels[rows], probability[rows]))


MODELS = ("baseline", "tutorial", "bert", "bert_full", "ensemble", "refit_ensemble", "refit_seeds", "serving")
DISTILLED = ("teacher", "bert_teacher", "student", "student_full")


def check_external_figures(project: Path, summary: str, models: tuple[str, ...]) -> dict:
    """A summary stage's figures for each model: the validation metrics' keys at the serving threshold, intervals,
    slices, probabilities in the external tweets' order, and the headline file `dvc metrics show` lists."""
    metrics = json.loads((project / "reports" / f"{summary}.json").read_text())
    tweets = pd.read_parquet(project / "data" / "external" / "tweets.parquet")
    threshold = json.loads((project / "reports" / "threshold.json").read_text())["threshold"]
    validation_keys = set(json.loads((project / "reports" / "bert.json").read_text())) - {"chosen_epoch", "dev_auc", "epochs"}
    for model in models:
        assert validation_keys <= set(metrics[model])
        assert metrics[model]["at_threshold"]["threshold"] == threshold and metrics[model]["auc_se"] > 0
        assert set(metrics[model]["airline_auc"]) <= set(tweets["airline"]) and metrics[model]["reason_auc"]
        scores = pd.read_csv(project / "plots" / summary / model / "probabilities.csv")
        assert scores["id"].tolist() == tweets["id"].tolist()
        assert metrics[model]["auc"] == pytest.approx(roc_auc_score(scores["label"], scores["non_complaint_probability"]), abs=1e-9)
        for plot in ("roc.csv", "calibration.csv", "slices.csv"):
            assert (project / "plots" / summary / model / plot).stat().st_size > 0
        headline = json.loads((project / "metrics" / summary / f"{model}.json").read_text())
        assert headline == {key: metrics[model][key] for key in ("auc", "accuracy", "f1", "auc_se")}
    return metrics


def external_probability(project: Path, summary: str, model: str) -> pd.Series:
    """A model's external probabilities as its summary stage wrote them."""
    return pd.read_csv(project / "plots" / summary / model / "probabilities.csv")["non_complaint_probability"]


def test_the_external_stage_measures_every_model_with_intervals_and_slices(workdir):
    from complaints.serving.predictor import Predictor

    metrics = check_external_figures(workdir, "external", MODELS)
    tweets = pd.read_parquet(workdir / "data" / "external" / "tweets.parquet")
    compare = metrics["compare"]
    assert compare["bert_full_vs_bert_ci_low"] <= compare["bert_full_vs_bert_difference"] <= compare["bert_full_vs_bert_ci_high"]
    assert compare["ensemble_vs_bert_se"] > 0 and compare["refit_ensemble_vs_bert_full_se"] > 0
    # Each fine-tuned model's scores come from its own score_external stage, unchanged.
    for model in ("tutorial", "bert", "bert_full"):
        scored = pd.read_csv(workdir / "scores" / "external" / f"{model}.csv")["non_complaint_probability"]
        np.testing.assert_allclose(external_probability(workdir, "external", model), scored, atol=1e-6)
    # The seed ensemble: the refit averaged with the seed stage's refit of seed 1 (seeds.fits in the tiny params).
    extra = Predictor.load(workdir / "models" / "seeds" / "refit-1").non_complaint_probability(tweets["text"].tolist())
    np.testing.assert_allclose(external_probability(workdir, "external", "refit_seeds"),
                               (external_probability(workdir, "external", "bert_full") + extra) / 2, atol=1e-6)
    assert compare["refit_seeds_vs_bert_full_ci_low"] <= compare["refit_seeds_vs_bert_full_ci_high"]
    # The serving folder is the released recipe's refit (the quick path: the default recipe's), on the default engine.
    served = Predictor.load(workdir / "models" / "bert_full", engine="torch").non_complaint_probability(tweets["text"].tolist())
    np.testing.assert_allclose(external_probability(workdir, "external", "serving"), served, atol=1e-4)
    report = json.loads((workdir / "reports" / "external_data.json").read_text())
    assert report["tweets"] == len(tweets) == 74 and set(report["overlap"]) == {"train", "val", "test"}


def test_the_teacher_chain_chooses_its_share_by_the_rule_and_measures_its_models(distilled_project):
    project = distilled_project
    metrics = check_external_figures(project, "external_distill", DISTILLED)
    assert not set(MODELS) & set(metrics), "the teacher's chain reports its own models only"
    # The share the teacher_share stage chose, from its sweep on the external tweets.
    choice = json.loads((project / "models" / "bert_teacher.json").read_text())
    sweep = pd.read_csv(project / "plots" / "teacher_share" / "teacher_weight.csv")
    assert sweep["teacher_weight"].tolist() == pytest.approx([share / 10 for share in range(11)])
    assert choice["best_auc"] == pytest.approx(sweep["auc"].max())
    assert choice["teacher_weight"] == (choice["best"] if choice["best_vs_average_ci_low"] > 0 else 0.5)
    share = choice["teacher_weight"]
    bert, teacher = (pd.read_csv(project / "scores" / folder / f"{name}.csv")["non_complaint_probability"]
                     for folder, name in (("external", "bert"), ("distill", "teacher")))
    assert sweep["auc"][0] == pytest.approx(roc_auc_score(metrics_labels(project), bert))
    np.testing.assert_allclose(external_probability(project, "external_distill", "bert_teacher"),
                               (1 - share) * bert + share * teacher, atol=2e-6)
    compare = metrics["compare"]
    assert compare["student_vs_bert_teacher_ci_low"] <= compare["student_vs_bert_teacher_ci_high"]
    assert "student_full_vs_bert_full_difference" in compare, "compared with the default recipe's scores"


def metrics_labels(project: Path) -> np.ndarray:
    """The external tweets' labels."""
    return pd.read_parquet(project / "data" / "external" / "tweets.parquet")["label"].to_numpy()
