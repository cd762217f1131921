"""Errors of the voice stage, all inside emosynth's one tree (:class:`emosynth.errors.EmosynthError`).

Model files that are missing or corrupt raise the shared :class:`emosynth.errors.ModelError`, and a
missing optional package the shared :class:`emosynth.errors.MissingExtraError`.
"""

from __future__ import annotations

from ..errors import EmosynthError

__all__ = ["TextError", "VoiceError", "ProsodyControlError"]


class TextError(EmosynthError):
    """Text that cannot be spoken: empty, whitespace only, or nothing speakable left after
    normalisation and phonemisation (punctuation or emoji alone)."""


class VoiceError(EmosynthError):
    """An unknown voice pack name, or a style vector of the wrong shape."""


class ProsodyControlError(EmosynthError):
    """A prosody control (duration, F0 or energy scale) of the wrong shape or out of range."""
