"""A model folder to ONNX Runtime: export (encoder, pooling and head in one graph), fuse for transformers, quantize.

The export uses the encoder's eager attention, the pattern ONNX Runtime's transformer optimizer fuses into its
`Attention` operator (PyTorch's SDPA exports as a graph it does not recognise). int8 is dynamic quantization with
per-channel int8 weights and `reduce_range` (7-bit), the setting ONNX Runtime documents as safe on AVX2 CPUs without
VNNI, where full-range u8 x s8 products can saturate.
"""
from __future__ import annotations

import logging
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.optimizer import optimize_model
from torch import nn

from complaints.core.config import require
from complaints.core.io import DataError, read_json
from complaints.modeling.model import ComplaintClassifier, load_classifier
from complaints.serving.modelfolder import ENGINE_FILES

OPSET = 17
FUSED_ATTENTION = ("Attention", "MultiHeadAttention")


class LogitsGraph(nn.Module):
    """The classifier with plain tensors in and logits out: what the ONNX graph computes."""

    def __init__(self, model: ComplaintClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, 2)."""
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def export(model: ComplaintClassifier, path: Path) -> None:
    """Write the model as ONNX with dynamic batch and sequence axes (TorchScript exporter, opset 17)."""
    graph = LogitsGraph(model).eval()
    sample = (torch.ones((2, 8), dtype=torch.int64), torch.ones((2, 8), dtype=torch.int64))
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python-level shape checks that do not apply here
        torch.onnx.export(
            graph, sample, str(path), dynamo=False, opset_version=OPSET, do_constant_folding=True,
            input_names=["input_ids", "attention_mask"], output_names=["logits"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                          "logits": {0: "batch"}},
        )


def fuse(source: Path, target: Path, num_heads: int, hidden_size: int) -> dict[str, int]:
    """ONNX Runtime's transformer optimizer (attention, embedding, skip layer norm and GELU fusions); its counts."""
    optimized = optimize_model(str(source), model_type="bert", num_heads=num_heads, hidden_size=hidden_size)
    optimized.save_model_to_file(str(target))
    return {name: count for name, count in optimized.get_fused_operator_statistics().items() if count}


def operator_counts(path: Path) -> dict[str, int]:
    """How many nodes of each operator type the ONNX graph at `path` holds."""
    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def node_groups(graph_path: Path) -> dict[str, list[str]]:
    """Node names by where they sit in the fused graph: each encoder layer's attention and projections, and the head."""
    nodes = onnx.load(str(graph_path), load_external_data=False).graph.node
    attention = [node.name for node in nodes if node.op_type == "Attention"]
    groups = {f"layer {index}": [name] for index, name in enumerate(attention)}
    for node in nodes:
        if node.op_type == "MatMul" and "/layer." in node.name:
            groups[f"layer {node.name.split('/layer.')[1].split('/')[0]}"].append(node.name)
    groups["head"] = [node.name for node in nodes if node.op_type == "Gemm"]
    return groups


def quantize_int8(source: Path, target: Path, fp32_layers: tuple[int, ...] = ()) -> None:
    """Dynamic int8 (per-channel s8 weights, 7-bit range, activations quantized on the fly), the encoder layers
    `fp32_layers` left in fp32."""
    groups = node_groups(source)
    excluded = [name for layer in fp32_layers for name in groups[f"layer {layer}"]]
    logging.disable(logging.INFO)  # the quantizer logs a line per tensor to the root logger
    try:
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                         nodes_to_exclude=excluded, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        logging.disable(logging.NOTSET)


@dataclass(frozen=True)
class ExportParams:
    """The `export` section: the largest probability difference from PyTorch the fp32 graph may show, batch size, and
    the encoder layers the int8 graph keeps in fp32."""

    max_difference: float = 1.0e-4
    batch_size: int = 128
    int8_fp32_layers: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        object.__setattr__(self, "int8_fp32_layers", tuple(self.int8_fp32_layers))
        require(0 < self.max_difference < 1, "export.max_difference", self.max_difference, "a number in (0, 1)")
        require(self.batch_size >= 1, "export.batch_size", self.batch_size, "an integer >= 1")
        require(all(isinstance(layer, int) and not isinstance(layer, bool) and layer >= 0
                    for layer in self.int8_fp32_layers), "export.int8_fp32_layers", list(self.int8_fp32_layers),
                "a list of encoder layer indices (integers >= 0)")


class ExportError(DataError):
    """The exported graph lost a fusion or disagrees with PyTorch."""


def checked_difference(folder: Path, onnx_probability: np.ndarray, torch_probability: np.ndarray,
                       max_difference: float) -> float:
    """The fp32 graph's largest difference from PyTorch on the same tweets; an ExportError above max_difference."""
    difference = float(np.abs(onnx_probability - torch_probability).max())
    if difference > max_difference:
        raise ExportError(f"{folder}: the fp32 ONNX graph differs from PyTorch by up to {difference:.2e} on the "
                          f"validation and test tweets; export.max_difference is {max_difference}")
    return difference


def export_fp32(model_folder: Path, target: Path, scratch: Path) -> dict[str, int]:
    """`target` gets the model folder's files and `model.onnx`, fp32 and fused where ONNX Runtime's optimizer
    recognises the pattern; returns the fusion counts."""
    for path in sorted(model_folder.iterdir()):
        if path.is_file():
            shutil.copyfile(path, target / path.name)
    model = load_classifier(model_folder, attn_implementation="eager")
    export(model, scratch / "exported.onnx")
    return fuse(scratch / "exported.onnx", target / ENGINE_FILES["onnx"], model.config.encoder.num_attention_heads,
                model.config.encoder.hidden_size)


def export_folder(model_folder: Path, target: Path, scratch: Path, fp32_layers: tuple[int, ...] = ()) -> dict:
    """`target` gets the model folder's files, `model.onnx` (fused fp32) and `model_int8.onnx` (its layers
    `fp32_layers` in fp32); returns fusion counts.

    Fails unless every encoder layer's attention was fused, and when a layer to keep in fp32 does not exist.
    """
    fused = export_fp32(model_folder, target, scratch)
    layers = read_json(model_folder / "config.json")["encoder"]["num_hidden_layers"]
    if sum(fused.get(name, 0) for name in FUSED_ATTENTION) != layers:
        raise ExportError(f"{target / ENGINE_FILES['onnx']}: attention fused in {fused} for {layers} layers; "
                          f"ONNX Runtime's optimizer no longer recognises the exported attention")
    if any(layer >= layers for layer in fp32_layers):
        raise ExportError(f"export.int8_fp32_layers is {list(fp32_layers)}, but {model_folder} has {layers} encoder "
                          f"layers (0 to {layers - 1})")
    quantize_int8(target / ENGINE_FILES["onnx"], target / ENGINE_FILES["onnx-int8"], fp32_layers)
    return fused
