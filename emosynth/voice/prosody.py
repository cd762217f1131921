"""Emotion tokens and the prosody plan: what an emotion spec asks of the voice.

Every voice carries one *emotion token* per non-neutral primary (Daisy-TTS's idea): a learned
embedding. Here a token has two parts, both offsets from the voice's neutral:

* ``style``: an offset (256,) of Kokoro's whole style vector: dims 0-127 drive the decoder (the
  spectra: vocal effort, voice quality), dims 128-255 the duration, F0 and energy predictor;
* ``controls``: explicit offsets of the cues measured on human speech: F0 level (semitones),
  F0 range (log2 ratio around the utterance median), tempo (log2 rate ratio) and loudness (dB);
* ``contour`` (when the voice has one): the emotion's vector for the learned F0 contour
  (:mod:`.emotion_contour`), which reshapes the predicted F0 over time, not just its level.

A spec resolves to signed weights over the primaries (``EmotionSpec.weights``), and the plan is
the weighted sum of the tokens: a mixture adds, intensity scales and negation subtracts, in every
part alike. Every part is linear in the weights, which keeps intensity sweeps monotone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..emotions import PRIMARY_EMOTIONS, EmotionSpec, parse_emotion
from ..errors import ModelError
from ..io import write_text_atomic

T = TypeVar("T")

__all__ = ["STYLE_DIM", "EmotionEmbeddings", "EmotionToken", "EmotionTokenBank", "ProsodyControls", "ProsodyPlan"]

#: Size of Kokoro's style vector, which a token's style offsets.
STYLE_DIM = 256
_EMOTIONS = tuple(e for e in PRIMARY_EMOTIONS if e != "neutral")


@dataclass(frozen=True)
class ProsodyControls:
    """Explicit prosody offsets from the voice's neutral; zeros change nothing."""

    f0_shift_st: float = 0.0  # F0 level, semitones
    f0_range_log2: float = 0.0  # log2 of the F0 range ratio around the utterance median
    tempo_log2: float = 0.0  # log2 of the speaking-rate ratio; +1 = twice as fast
    loudness_db: float = 0.0  # level, dB

    def __add__(self, other: ProsodyControls) -> ProsodyControls:
        return ProsodyControls(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple())))

    def __sub__(self, other: ProsodyControls) -> ProsodyControls:
        return ProsodyControls(*(a - b for a, b in zip(self.as_tuple(), other.as_tuple())))

    def __mul__(self, factor: float) -> ProsodyControls:
        return ProsodyControls(*(a * factor for a in self.as_tuple()))

    __rmul__ = __mul__

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.f0_shift_st, self.f0_range_log2, self.tempo_log2, self.loudness_db)

    @property
    def f0_factor(self) -> float:
        return float(2.0 ** (self.f0_shift_st / 12.0))

    @property
    def f0_range_factor(self) -> float:
        return float(2.0**self.f0_range_log2)

    @property
    def duration_factor(self) -> float:
        """Multiplier of every phoneme's duration (the inverse of the rate ratio)."""
        return float(2.0 ** (-self.tempo_log2))

    @property
    def gain(self) -> float:
        return float(10.0 ** (self.loudness_db / 20.0))

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in zip(
            ("f0_shift_st", "f0_range_log2", "tempo_log2", "loudness_db"), self.as_tuple())}


@dataclass(frozen=True)
class EmotionToken:
    """One primary's prosody embedding for one voice."""

    style: np.ndarray  # (256,) offset of the voice's neutral style vector
    controls: ProsodyControls
    contour: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (K,) or empty: no contour


@dataclass(frozen=True)
class EmotionTokenBank:
    """The tokens of one voice, one per non-neutral primary, and where they came from."""

    tokens: Mapping[str, EmotionToken]
    info: dict = field(default_factory=dict)  # how they were fitted, with what data

    def combine(self, weights: np.ndarray) -> tuple[np.ndarray, ProsodyControls, np.ndarray]:
        """Weighted sum of the tokens (style, controls, contour vector) for signed weights (7,)
        in PRIMARY_EMOTIONS order. The contour vector is empty when the tokens have none."""
        style, controls = np.zeros(STYLE_DIM), ProsodyControls()
        contour = np.zeros(self.contour_dims)
        for emotion, w in zip(PRIMARY_EMOTIONS, weights):
            if emotion != "neutral" and w != 0.0:
                token = self.tokens[emotion]
                style = style + w * token.style
                controls = controls + w * token.controls
                if contour.size:
                    contour = contour + w * token.contour
        return style, controls, contour

    @property
    def contour_dims(self) -> int:
        """The size of the tokens' contour vectors (0: this voice has no contour)."""
        return next(iter(self.tokens.values())).contour.size if self.tokens else 0

    def to_json(self) -> str:
        body = {e: {"style": [round(float(v), 6) for v in t.style], "controls": t.controls.to_dict(),
                    **({"contour": [round(float(v), 6) for v in t.contour]} if t.contour.size else {})}
                for e, t in self.tokens.items()}
        return json.dumps({"info": self.info, "tokens": body}, indent=1)

    def save(self, path: str | os.PathLike[str]) -> None:
        write_text_atomic(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> EmotionTokenBank:
        def parse(data: dict) -> dict[str, EmotionToken]:
            return {e: EmotionToken(style=np.asarray(t["style"], dtype=np.float64),
                                    controls=ProsodyControls(**t["controls"]),
                                    contour=np.asarray(t.get("contour", []), dtype=np.float64))
                    for e, t in data["tokens"].items()}

        data, tokens = _read_json(path, "emotion-token", parse)
        missing = [e for e in _EMOTIONS if e not in tokens]
        if missing or any(t.style.shape != (STYLE_DIM,) for t in tokens.values()):
            raise ModelError(f"{path}: needs a {STYLE_DIM}-d token for each of {list(_EMOTIONS)}; "
                             f"missing {missing}")
        if len({t.contour.shape for t in tokens.values()}) > 1:
            raise ModelError(f"{path}: the tokens' contour vectors differ in size (all or none, one size)")
        return cls(tokens=tokens, info=data.get("info", {}))


@dataclass(frozen=True)
class EmotionEmbeddings:
    """One learned style offset per non-neutral primary, shared by every speaker: what
    ``emosynth fit-emotions`` fits on human speech (:mod:`emosynth.voice.learning.emotion_fit`)
    and each voice's tokens are made from (``voices/emotions.json``)."""

    offsets: Mapping[str, np.ndarray]  # emotion -> (256,)
    info: dict = field(default_factory=dict)

    def to_json(self) -> str:
        body = {e: [round(float(v), 6) for v in offset] for e, offset in self.offsets.items()}
        return json.dumps({"info": self.info, "offsets": body}, indent=1)

    def save(self, path: str | os.PathLike[str]) -> None:
        write_text_atomic(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> EmotionEmbeddings:
        def parse(data: dict) -> dict[str, np.ndarray]:
            return {e: np.asarray(v, dtype=np.float64) for e, v in data["offsets"].items()}

        data, offsets = _read_json(path, "emotion-embedding", parse)
        if sorted(offsets) != sorted(_EMOTIONS) or any(v.shape != (STYLE_DIM,) for v in offsets.values()):
            raise ModelError(f"{path}: needs a {STYLE_DIM}-d offset for each of {list(_EMOTIONS)}")
        return cls(offsets=offsets, info=data.get("info", {}))


def _read_json(path: str | os.PathLike[str], what: str, parse: Callable[[dict], T]) -> tuple[dict, T]:
    """The JSON in ``path`` and ``parse`` of it, any failure a :class:`ModelError` naming the file."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
        return data, parse(data)
    except FileNotFoundError:
        raise ModelError(f"{p}: no such {what} file") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"{p}: not an {what} file ({exc})") from None


@dataclass(frozen=True)
class ProsodyPlan:
    """What the voice is asked to do for one emotion: the style offset, the explicit controls and
    the F0 contour's vector (empty or zero: F0 as predicted)."""

    emotion: EmotionSpec
    style_offset: np.ndarray  # (256,) added to the voice's neutral style
    controls: ProsodyControls
    contour: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def for_emotion(cls, emotion: str | EmotionSpec, tokens: EmotionTokenBank) -> ProsodyPlan:
        spec = parse_emotion(emotion)
        style, controls, contour = tokens.combine(np.asarray(spec.weights))
        return cls(emotion=spec, style_offset=style, controls=controls, contour=contour)

    def to_dict(self) -> dict:
        return {"emotion": self.emotion.to_dict(), "controls": self.controls.to_dict(),
                "style_offset_norm": round(float(np.linalg.norm(self.style_offset)), 4),
                "contour_norm": round(float(np.linalg.norm(self.contour)), 4)}
