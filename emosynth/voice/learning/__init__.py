"""Fitting-time code for the voice stage, apart from inference: needs torch.

* :mod:`~emosynth.voice.learning.kokoro_torch` - Kokoro's prosody predictor and decoder as torch
  modules (weights read from the float32 graph), differentiable in the style vector, the F0 and
  energy curves and the aligned text features.

Nothing in :mod:`emosynth.voice` outside this package imports it (or torch).
"""

try:
    import torch  # noqa: F401
except ImportError:  # pragma: no cover - depends on the installation
    from ...errors import MissingExtraError

    raise MissingExtraError("fitting through Kokoro (torch)", "speaker") from None

from .kokoro_torch import (
    D_EN,
    T_EN,
    KokoroDecoder,
    KokoroProsody,
    ProsodyCurves,
    TextEncoding,
    alignment_matrix,
    encode_text,
)

__all__ = [
    "D_EN",
    "T_EN",
    "KokoroDecoder",
    "KokoroProsody",
    "ProsodyCurves",
    "TextEncoding",
    "alignment_matrix",
    "encode_text",
]
