"""A differentiable twin of Kokoro's prosody predictor and decoder, for fitting style vectors.

Why: emotion embeddings are fitted by gradient descent through Kokoro (a speaker's style vector
plus an emotion offset must reconstruct a recording), and onnxruntime gives no gradients. These
modules compute what the float32 graph (:mod:`~emosynth.voice.float_graph`) computes, with every
weight read from it by name at load time (nothing stored twice), and are differentiable in the
style vector, the F0 and energy curves and the aligned text features.

The style vector is Kokoro's (batch, 256): the decoder reads dims 0-127, the predictor 128-255;
both modules take the whole vector, so one tensor (speaker + emotion offset) feeds both.

* :func:`encode_text` runs the style-independent front of the predictor in onnxruntime once per
  clip: PL-BERT's projection ``d_en`` (what the duration encoder reads) and the acoustic text
  encoding ``t_en`` (what the alignment turns into the decoder's aligned features).
* :class:`KokoroProsody`: ``d_en``, style and a fixed alignment (frames per token) -> per-token
  durations before rounding, and the F0 and energy curves for that alignment.
* :class:`KokoroDecoder`: aligned features, F0, energy, style -> 24 kHz audio.

>>> text = encode_text(chunk.token_ids)                             # doctest: +SKIP
>>> prosody, decoder = KokoroProsody.from_float_graph(), KokoroDecoder.from_float_graph()  # doctest: +SKIP
>>> out = prosody(text.d_en_tensor(), style, frames_per_token)     # doctest: +SKIP
>>> audio = decoder(text.aligned(frames_per_token), out.f0_hz, out.energy, style)  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...errors import MissingExtraError
from .. import graph
from ..assets import MAX_TOKENS
from ..errors import ProsodyControlError, VoiceError
from ..float_graph import float_model_file
from .generator import DecoderBody, Generator
from .layers import (
    AdaIN1d,
    AdainResBlock,
    AdaLayerNorm,
    BiLSTM,
    conv_from_graph,
    linear_from_graph,
)
from .weights import GraphWeights

__all__ = [
    "DECODER_STYLE",
    "D_EN",
    "PROSODY_STYLE",
    "T_EN",
    "KokoroDecoder",
    "KokoroProsody",
    "ProsodyCurves",
    "TextEncoding",
    "alignment_matrix",
    "encode_text",
]

#: PL-BERT's projection to 512 dims, (1, tokens, 512): the duration encoder's input.
D_EN = "/encoder/bert_encoder/Add_output_0"
#: The acoustic text encoder's output, (1, 512, tokens): times the alignment, the decoder's input.
T_EN = "/encoder/text_encoder/Transpose_2_output_0"
_PAD = 0
#: The dims of Kokoro's 256-d style vector that the decoder and the prosody predictor read.
DECODER_STYLE = slice(0, 128)
PROSODY_STYLE = slice(128, 256)


# -- the style-independent text front, in onnxruntime ------------------------------------------------
@dataclass(frozen=True)
class TextEncoding:
    """The text encodings of one token sequence, pads included at both ends (n + 2 tokens)."""

    token_ids: np.ndarray  # (n,) int64 as given, without pads
    d_en: np.ndarray  # (1, n + 2, 512) float32
    t_en: np.ndarray  # (1, 512, n + 2) float32

    def d_en_tensor(self) -> torch.Tensor:
        return torch.from_numpy(self.d_en)

    def aligned(self, frames_per_token: Sequence[int] | np.ndarray) -> torch.Tensor:
        """The decoder's aligned features (1, 512, frames) for ``frames_per_token`` (n + 2,)."""
        return torch.from_numpy(self.t_en) @ alignment_matrix(frames_per_token, self.t_en.shape[-1])


_front_lock = threading.Lock()
_front: dict[str, Any] = {}


def encode_text(token_ids: Sequence[int] | np.ndarray, *, model_path: Path | None = None) -> TextEncoding:
    """Run the float predictor up to ``d_en`` and ``t_en`` for 1..510 token ids (no pads: Kokoro's
    pad token is added at each end, as :meth:`~emosynth.voice.Backbone.predict` does)."""
    ids = np.asarray(token_ids)
    if ids.ndim != 1 or not 1 <= ids.size <= MAX_TOKENS or not np.issubdtype(ids.dtype, np.integer):
        raise VoiceError(f"token ids must be 1 to {MAX_TOKENS} integers in one row, got shape "
                         f"{ids.shape} of {ids.dtype}")
    ids = ids.astype(np.int64)
    session = _front_session(model_path or float_model_file())
    d_en, t_en = session.run([D_EN, T_EN], {graph.TOKENS: np.concatenate([[_PAD], ids, [_PAD]])[None, :]})
    return TextEncoding(ids, d_en.astype(np.float32), t_en.astype(np.float32))


def _front_session(path: Path) -> Any:
    """One onnxruntime session per model file over the nodes from tokens to d_en and t_en."""
    with _front_lock:
        if str(path) not in _front:
            try:
                import onnx
                import onnx.utils
                import onnxruntime as ort
            except ImportError:
                raise MissingExtraError("encoding text for Kokoro (onnx, onnxruntime)") from None
            predictor = onnx.load_from_string(graph.load_split_graphs(path).predictor)
            front = onnx.utils.Extractor(predictor).extract_model([graph.TOKENS], [D_EN, T_EN])
            options = ort.SessionOptions()
            options.intra_op_num_threads = 2
            _front[str(path)] = ort.InferenceSession(front.SerializeToString(), options,
                                                     providers=["CPUExecutionProvider"])
        return _front[str(path)]


def alignment_matrix(frames_per_token: Sequence[int] | np.ndarray, n_tokens: int | None = None) -> torch.Tensor:
    """(tokens, frames) 0/1 matrix: frame j belongs to token i when i's frames cover j (as the
    graph's CumSum / Less / GreaterOrEqual build it). A token may have 0 frames."""
    frames = np.asarray(frames_per_token, dtype=np.int64).reshape(-1)
    if n_tokens is not None and frames.size != n_tokens:
        raise ProsodyControlError(f"frames_per_token has {frames.size} entries for {n_tokens} tokens (pads included)")
    if frames.size == 0 or frames.min() < 0 or frames.sum() < 1:
        raise ProsodyControlError("frames_per_token must be non-negative with at least one frame in all")
    owner = torch.from_numpy(np.repeat(np.arange(frames.size), frames))
    return (torch.arange(frames.size)[:, None] == owner[None, :]).to(torch.float32)


# -- the prosody predictor ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ProsodyCurves:
    """What :class:`KokoroProsody` predicts for one alignment."""

    durations: torch.Tensor  # (batch, tokens) frames before rounding and before / speed
    f0_hz: torch.Tensor  # (batch, 2 * frames), 12.5 ms steps
    energy: torch.Tensor  # (batch, 2 * frames)


class KokoroProsody(nn.Module):
    """The style-dependent part of Kokoro's prosody predictor (StyleTTS 2's ProsodyPredictor
    after PL-BERT): duration encoder (3 BiLSTMs with AdaLayerNorm), duration LSTM and head, and
    the shared LSTM with the F0 and energy AdaIN blocks. Reads style dims 128-255.

    Durations are ``sum(sigmoid(duration_proj(lstm(d))))`` over the 50 outputs, exactly the
    graph's ``/encoder/predictor/ReduceSum_output_0``; the graph then divides by speed, rounds and
    clips to >= 1, which is the step left out here: the alignment is given instead.
    """

    def __init__(self, weights: GraphWeights) -> None:
        super().__init__()
        p = "encoder/predictor"
        self.encoder_lstms = nn.ModuleList(BiLSTM(weights, f"{p}/text_encoder/lstms.{k}") for k in (0, 2, 4))
        self.encoder_norms = nn.ModuleList(AdaLayerNorm(weights, f"{p}/text_encoder/lstms.{k}") for k in (1, 3, 5))
        self.duration_lstm = BiLSTM(weights, f"{p}/lstm")
        self.duration_proj = linear_from_graph(weights, f"{p}/duration_proj/linear_layer")
        self.shared = BiLSTM(weights, "encoder/shared")
        self.f0_blocks, self.n_blocks = (nn.ModuleList([
            AdainResBlock(weights, f"encoder/{kind}.0"),
            AdainResBlock(weights, f"encoder/{kind}.1", upsample=True, learned_shortcut=True),
            AdainResBlock(weights, f"encoder/{kind}.2")]) for kind in ("F0", "N"))
        self.f0_proj = conv_from_graph(weights, "encoder/F0_proj")
        self.n_proj = conv_from_graph(weights, "encoder/N_proj")
        self.requires_grad_(False)

    @classmethod
    def from_float_graph(cls, path: Path | None = None) -> KokoroProsody:
        """Weights from the float graph at ``path`` (default: the cached twin), in eval mode."""
        return cls(GraphWeights.load(path)).eval()

    def encode(self, d_en: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """The duration encoder: (batch, tokens, 512) -> (batch, tokens, 640), style appended."""
        s = style[:, PROSODY_STYLE]
        s_tokens = s[:, None, :].expand(-1, d_en.shape[1], -1)
        x = torch.cat([d_en, s_tokens], dim=-1)
        for lstm, norm in zip(self.encoder_lstms, self.encoder_norms, strict=True):
            x = torch.cat([norm(lstm(x), s), s_tokens], dim=-1)
        return x

    def durations(self, encoded: torch.Tensor) -> torch.Tensor:
        """(batch, tokens, 640) -> (batch, tokens) durations in frames, before rounding."""
        return torch.sigmoid(self.duration_proj(self.duration_lstm(encoded))).sum(dim=-1)

    def curves(self, encoded: torch.Tensor, alignment: torch.Tensor,
               style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """F0 (Hz) and energy, (batch, 2 * frames) each, for a (tokens, frames) alignment."""
        s = style[:, PROSODY_STYLE]
        x = self.shared(encoded.transpose(1, 2).matmul(alignment).transpose(1, 2)).transpose(1, 2)
        f0, energy = x, x
        for f0_block, n_block in zip(self.f0_blocks, self.n_blocks, strict=True):
            f0, energy = f0_block(f0, s), n_block(energy, s)
        return self.f0_proj(f0)[:, 0], self.n_proj(energy)[:, 0]

    def forward(self, d_en: torch.Tensor, style: torch.Tensor,
                frames_per_token: Sequence[int] | np.ndarray) -> ProsodyCurves:
        """``d_en`` (batch, tokens, 512), ``style`` (batch, 256), ``frames_per_token`` (tokens,)."""
        _check_style(style)
        encoded = self.encode(d_en, style)
        alignment = alignment_matrix(frames_per_token, d_en.shape[1]).to(d_en.dtype)
        f0, energy = self.curves(encoded, alignment, style)
        return ProsodyCurves(self.durations(encoded), f0, energy)


# -- the decoder -------------------------------------------------------------------------------------
class KokoroDecoder(nn.Module):
    """Kokoro's iSTFTNet decoder (StyleTTS 2): aligned features (batch, 512, frames), F0 in Hz
    and energy (batch, 2 * frames), style (batch, 256; dims 0-127 read) -> audio (batch,
    600 * frames) at 24 kHz. Deterministic, like the export (see :mod:`.generator`)."""

    def __init__(self, weights: GraphWeights) -> None:
        super().__init__()
        self.body = DecoderBody(weights)
        self.generator = Generator(weights)
        self.requires_grad_(False)
        #: The AdaIN layers, in a fixed order (module order): row ``i`` of ``layer_offsets`` is layer i's.
        self.adain_layers = [m for m in self.modules() if isinstance(m, AdaIN1d)]
        for i, layer in enumerate(self.adain_layers):
            layer.layer = i

    @classmethod
    def from_float_graph(cls, path: Path | None = None) -> KokoroDecoder:
        """Weights from the float graph at ``path`` (default: the cached twin), in eval mode."""
        return cls(GraphWeights.load(path)).eval()

    def forward(self, aligned: torch.Tensor, f0_hz: torch.Tensor, energy: torch.Tensor,
                style: torch.Tensor, layer_offsets: torch.Tensor | None = None) -> torch.Tensor:
        """``layer_offsets`` (batch, layers, 128), if given, is added to the decoder half of the
        style at each AdaIN layer (row i at :attr:`adain_layers` [i])."""
        _check_style(style)
        frames = aligned.shape[-1]
        if f0_hz.shape[-1] != 2 * frames or energy.shape[-1] != 2 * frames:
            raise ProsodyControlError(f"F0 and energy need 2 steps per frame ({2 * frames}), got "
                             f"{f0_hz.shape[-1]} and {energy.shape[-1]}")
        s = style[:, DECODER_STYLE]
        if layer_offsets is not None:
            if layer_offsets.shape[1:] != (len(self.adain_layers), s.shape[-1]):
                raise VoiceError(f"layer offsets must be (batch, {len(self.adain_layers)}, {s.shape[-1]}), "
                                 f"got {tuple(layer_offsets.shape)}")
            s = s[:, None, :] + layer_offsets
        return self.generator(self.body(aligned, f0_hz, energy, s), s, f0_hz)


def _check_style(style: torch.Tensor) -> None:
    if style.ndim != 2 or style.shape[-1] != 256:
        raise VoiceError(f"a style must be (batch, 256), got {tuple(style.shape)}")
