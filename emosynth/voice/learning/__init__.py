"""Fitting-time code for the voice stage, apart from inference: needs torch.

* :mod:`~emosynth.voice.learning.kokoro_torch` - Kokoro's prosody predictor and decoder as torch
  modules (weights read from the float32 graph), differentiable in the style vector, the F0 and
  energy curves and the aligned text features.
* :mod:`~emosynth.voice.learning.material` - human training material: every RAVDESS and nEMO clip
  aligned to Kokoro's tokens (:mod:`.align`), with its F0 and energy in Kokoro's units
  (:mod:`.acoustics`) and its sentence's tokens and text encodings (:mod:`.sentences`; Polish
  through espeak-ng, :mod:`.polish`), cached.

Nothing in :mod:`emosynth.voice` outside this package imports it (or torch).
"""

try:
    import torch  # noqa: F401
except ImportError:  # pragma: no cover - depends on the installation
    from ...errors import MissingExtraError

    raise MissingExtraError("fitting through Kokoro (torch)", "fit") from None

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
from .material import MATERIAL_VERSION, ClipMaterial, build_material

__all__ = [
    "D_EN",
    "MATERIAL_VERSION",
    "T_EN",
    "ClipMaterial",
    "KokoroDecoder",
    "KokoroProsody",
    "ProsodyCurves",
    "TextEncoding",
    "alignment_matrix",
    "build_material",
    "encode_text",
]
