import json

import numpy as np
import pandas as pd
import pytest

from complaints.data.tweets import drop_seen_elsewhere, duplicate_report, label_tweets, read_tweets, split_labeled
from complaints.core.io import DataError
from conftest import MIRROR


@pytest.fixture(scope="module")
def labeled():
    return label_tweets(read_tweets(MIRROR / "complaint1700.csv"), read_tweets(MIRROR / "noncomplaint1700.csv"))


def test_labels_follow_the_tutorial(labeled):
    assert labeled["label"].value_counts().to_dict() == {0: 1700, 1: 1700}
    assert labeled["label"].iloc[0] == 0 and labeled["label"].iloc[-1] == 1
    assert list(labeled.columns) == ["id", "airline", "text", "label"]


def test_split_is_the_tutorials_and_deterministic(labeled):
    train, val = split_labeled(labeled, 0.1, 2020)
    again_train, again_val = split_labeled(labeled, 0.1, 2020)
    assert (len(train), len(val)) == (3060, 340)
    assert set(train["id"]).isdisjoint(val["id"])
    assert set(train["id"]) | set(val["id"]) == set(labeled["id"])
    pd.testing.assert_frame_equal(train, again_train)
    pd.testing.assert_frame_equal(val, again_val)


def test_test_tweets_have_ids_and_text():
    test = read_tweets(MIRROR / "test_data.csv")
    assert len(test) == 4553 and list(test.columns) == ["id", "airline", "text"]


def write(tmp_path, text, name="complaint1700.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "content, message",
    [
        ("id,airline,text\n1,United,hi\n", r"missing column\(s\) tweet"),
        ("", "file is empty"),
        ("id,airline,tweet\n", "has a header but no rows"),
        ("id,airline,tweet\n1,United,hi\n1,United,ho\n", r"ids must be unique; repeated ids \[1\]"),
        ('id,airline,tweet\n1,United,hi\n2,United," "\n', r"empty tweet for id\(s\) \[2\]"),
        ("id,airline,tweet\n1,United,hi\nx,United,ho\n", r"data row 2: column 'id' = 'x', expected an integer"),
        ("id,airline,tweet\n1,United,hi,extra\n", r"data row 1 has 4 fields, expected 3"),
        ("id,airline,tweet\n1,United,hi\n2,United\n", r"data row 2 has 2 fields, expected 3"),
        ("id,airline,tweet\n1,United,\"open quote\n", "malformed CSV"),
    ],
)
def test_bad_csv_is_rejected_naming_file_and_rule(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(DataError, match=message) as error:
        read_tweets(path)
    assert str(path) in str(error.value)


def test_non_utf8_is_rejected(tmp_path):
    path = tmp_path / "complaint1700.csv"
    path.write_bytes(b"id,airline,tweet\n1,United,caf\xe9\n")
    with pytest.raises(DataError, match="not valid UTF-8"):
        read_tweets(path)


def test_bom_crlf_and_quoted_newline_are_fine(tmp_path):
    path = tmp_path / "complaint1700.csv"
    path.write_bytes('\ufeffid,airline,tweet\r\n1,United,"two\nlines"\r\n2,United,plain\r\n'.encode())
    frame = read_tweets(path)
    assert frame["id"].tolist() == [1, 2] and frame["text"].tolist() == ["two\nlines", "plain"]


def test_duplicates_reported_within_and_across_splits():
    train = pd.DataFrame({"id": [1, 2, 3], "text": ["a", "a", "b"]})
    val = pd.DataFrame({"id": [4], "text": ["b"]})
    test = pd.DataFrame({"id": [5], "text": ["c"]})
    report = duplicate_report({"train": train, "val": val, "test": test})
    assert report["within"]["train"] == {"count": 1, "ids": [[1, 2]]}
    assert report["across"]["train~val"] == {"count": 1, "ids": {"train": [3], "val": [4]}}
    assert report["across"]["val~test"]["count"] == 0
    assert drop_seen_elsewhere(train, val, test)["id"].tolist() == [1, 2]


def test_floats_differing_in_their_last_bits_write_the_same_bytes(tmp_path):
    from complaints.core.io import write_json, write_table

    value = 0.8451234567890123
    for suffix in (".csv", ".parquet"):
        for name, noisy in (("a", value), ("b", np.nextafter(value, 1.0))):
            write_table(pd.DataFrame({"id": [1], "non_complaint_probability": [noisy]}), tmp_path / f"{name}{suffix}")
        assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes()
    write_json({"auc": value, "nested": [value]}, tmp_path / "a.json")
    write_json({"auc": float(np.nextafter(value, 1.0)), "nested": [float(np.nextafter(value, 0.0))]}, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert abs(json.loads((tmp_path / "a.json").read_text())["auc"] - value) < 1e-11
