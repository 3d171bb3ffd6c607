"""The export stage's ONNX graphs (on the real all-MiniLM-L6-v2) and the export stage's judgement of each engine (on the
tiny encoder's chain)."""
import json
import subprocess
import sys

import pandas as pd

from complaints.serving.onnx_export import operator_counts
from conftest import ROOT


def test_the_fused_graph_has_one_attention_node_per_encoder_layer(real_workdir):
    # The real model: the claim is that ONNX Runtime fuses the attention of the graph we ship, all-MiniLM-L6-v2's.
    workdir = real_workdir
    layers = json.loads((workdir / "models" / "serving" / "config.json").read_text())["encoder"]["num_hidden_layers"]
    fused = operator_counts(workdir / "models" / "serving" / "model.onnx")
    # A library upgrade that stops fusing attention fails here, not silently in the benchmark.
    assert fused.get("Attention") == layers and fused.get("Softmax", 0) == 0
    assert fused.get("SkipLayerNormalization", 0) >= layers and "EmbedLayerNormalization" in fused
    int8 = operator_counts(workdir / "models" / "serving" / "model_int8.onnx")
    # export.int8_fp32_layers ([0] in the tiny params) keeps those layers' attention in fp32.
    assert int8.get("MatMulInteger", 0) > 0 and int8.get("QAttention") == layers - 1 and int8.get("Attention") == 1


def test_export_checked_fp32_against_pytorch_on_every_tweet(real_workdir):
    # The real model: parity within 1e-4 is a claim about the pretrained weights' graph, not a random one's.
    workdir = real_workdir
    report = json.loads((workdir / "reports" / "export.json").read_text())
    tweets = sum(len(pd.read_parquet(workdir / "data" / "split" / f"{split}.parquet")) for split in ("val", "test"))
    assert report["tweets_checked"] == tweets and report["onnx_max_difference"] <= 1e-4
    assert report["fused_operators"]["Attention"] == 6


def test_export_judges_the_engines_by_the_decisions_they_change(workdir):
    judgement = json.loads((workdir / "reports" / "export.json").read_text())["engines"]
    for engine in ("onnx", "onnx_int8"):
        row = judgement[engine]
        assert 0 <= row["test_label_agreement"] <= 1 and isinstance(row["passes_gate"], bool)
        assert row["passes_gate"] == (abs(row["val_auc_change"]) <= 0.002 and row["test_label_agreement"] >= 0.995)
    assert judgement["onnx"]["test_label_agreement"] == 1.0 and abs(judgement["onnx"]["val_auc_change"]) < 1e-6


def test_the_onnx_engine_never_imports_torch(workdir):
    code = (f"import sys; from complaints.serving.predictor import Predictor; "
            f"p = Predictor.load({str(workdir / 'models' / 'serving')!r}, engine='onnx-int8'); "
            f"print(p.non_complaint_probability(['@united lost my bag'])[0], 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    probability, imported = result.stdout.split()
    assert 0 < float(probability) < 1 and imported == "False"
