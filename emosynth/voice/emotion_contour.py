"""The emotion's F0 contour: a learned, emotion-conditioned reshaping of Kokoro's predicted F0.

Why: an offset of Kokoro's style moves its F0 level, not the contours people make when they feel
something (surprise's rises, joy's wide excursions, anger's flat high stretches). Measured
(docs/voice.md, "Where the emotion is lost"), predicting F0 instead of taking the actor's costs
much of what the judge hears. This stage shifts log F0 at every 12.5 ms step, between Kokoro's
predictor and its decoder:

    shift[t] = e . H(x)[:, t]

where ``x`` are Kokoro's own predicted curves and the place in the utterance
(:func:`curve_features`), ``H`` a small dilated convolution stack shared by every emotion, and
``e`` the spec's *contour vector*: the weighted sum of one learned vector per non-neutral
primary. The shift is linear in ``e``, so mixtures add, intensity scales, negation subtracts, and
neutral (``e = 0``) leaves F0 exactly as predicted. It reads no text: given the text encoding too,
the fit learned its training sentences' contours and did worse on new ones (docs/voice.md).
Fitted on human speech by :mod:`emosynth.voice.learning.contour_fit`; this module is inference
only, in numpy.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..emotions import PRIMARY_EMOTIONS
from ..errors import ModelError
from ..io import write_bytes_atomic
from .contours import F0_STEP_S, shape_f0, voicing_weight

if TYPE_CHECKING:
    from .backbone import ProsodyPrediction

__all__ = ["CONTOUR_EMOTIONS", "MAX_SHIFT", "N_CURVE_FEATURES", "EmotionContour", "conv1d", "curve_features", "speech_steps"]

#: The emotions with a contour vector, in emosynth's order (neutral is no shift).
CONTOUR_EMOTIONS = tuple(e for e in PRIMARY_EMOTIONS if e != "neutral")
#: Features per step that :func:`curve_features` makes.
N_CURVE_FEATURES = 6
#: The largest shift of log F0 (natural log) a contour may make at a step: a guard against the
#: network's extrapolation, not a shaping. On kumo's shipped tokens at intensity 1 the shifts reach
#: 1.0-1.9 at single steps (fear, disgust, anger; what the controls then take back down), and at
#: 1.5 up to 4.3 (fear); a token scaled by 2 in tebukuro's fit reached 13 (F0 10^8 Hz, NaN audio).
MAX_SHIFT = 2.0
#: Place-in-utterance features saturate here: a contour's start and end are what it marks.
_EDGE_S = 2.0
_LEAK = 0.1


def speech_steps(frames_per_token: np.ndarray) -> tuple[int, int]:
    """[start, stop) of the speech in contour steps: the pad tokens' frames at both ends are silence."""
    frames = np.asarray(frames_per_token, dtype=np.int64)
    return 2 * int(frames[0]), 2 * int(frames[:-1].sum())


def curve_features(f0_hz: np.ndarray, energy: np.ndarray, speech: tuple[int, int]) -> np.ndarray:
    """(6, steps) float32 from Kokoro's predicted curves (steps,) and the speech's first and last
    step (``speech`` = [start, stop) in steps): log F0 about its voiced median (0 where unvoiced),
    voicing, energy / 10, time since the speech began and time left (seconds / 2, clipped), and
    the relative place in the speech."""
    f0 = np.asarray(f0_hz, dtype=np.float64)
    steps = f0.size
    voicing = voicing_weight(f0)
    log_f0 = np.log(np.maximum(f0, 1e-3))
    voiced = voicing > 0.5
    median = float(np.median(log_f0[voiced])) if voiced.any() else 0.0
    start, stop = speech
    t = np.arange(steps, dtype=np.float64)
    since = np.clip((t - start) * F0_STEP_S, 0.0, _EDGE_S) / _EDGE_S
    left = np.clip((stop - 1 - t) * F0_STEP_S, 0.0, _EDGE_S) / _EDGE_S
    place = np.clip((t - start) / max(stop - start - 1, 1), 0.0, 1.0)
    return np.stack([voicing * (log_f0 - median), voicing, np.asarray(energy, dtype=np.float64) / 10.0,
                     since, left, place]).astype(np.float32)


def conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, dilation: int = 1) -> np.ndarray:
    """(in, T) -> (out, T): a 'same'-padded (zeros) dilated convolution, as torch's Conv1d with
    ``padding=dilation * (kernel - 1) // 2`` computes it; ``weight`` is (out, in, kernel)."""
    kernel = weight.shape[-1]
    pad = dilation * (kernel - 1) // 2
    padded = np.pad(x, ((0, 0), (pad, pad)))
    steps = x.shape[-1]
    taps = np.stack([padded[:, k * dilation:k * dilation + steps] for k in range(kernel)])  # (K, in, T)
    return np.einsum("oik,kit->ot", weight, taps, optimize=True) + bias[:, None]


@dataclass(frozen=True)
class EmotionContour:
    """The fitted contour model: its weights by name and one vector per non-neutral primary."""

    weights: Mapping[str, np.ndarray]
    vectors: Mapping[str, np.ndarray]  # emotion -> (K,)
    dilations: tuple[int, ...]
    info: dict = field(default_factory=dict)

    def vector(self, emotion_weights: np.ndarray) -> np.ndarray:
        """The contour vector for signed weights (7,) in PRIMARY_EMOTIONS order."""
        k = next(iter(self.vectors.values())).size
        out = np.zeros(k)
        for emotion, w in zip(PRIMARY_EMOTIONS, emotion_weights):
            if emotion != "neutral" and w != 0.0:
                out = out + w * self.vectors[emotion]
        return out

    def basis(self, f0_hz: np.ndarray, energy: np.ndarray, speech: tuple[int, int]) -> np.ndarray:
        """H: (K, steps) for the predictor's curves (steps,) and the speech's [start, stop) steps."""
        w = self.weights
        h = conv1d(curve_features(f0_hz, energy, speech), w["inp.weight"], w["inp.bias"])
        for i, d in enumerate(self.dilations):
            y = conv1d(h, w[f"blocks.{i}.weight"], w[f"blocks.{i}.bias"], d)
            h = h + np.where(y > 0, y, _LEAK * y)
        return conv1d(h, w["out.weight"], w["out.bias"])

    def log_f0_shift(self, vector: np.ndarray, f0_hz: np.ndarray, energy: np.ndarray,
                     speech: tuple[int, int]) -> np.ndarray:
        """Shift of log F0 per step (steps,) for a contour vector; zeros for the zero vector."""
        if not np.any(vector):
            return np.zeros(np.asarray(f0_hz).size)
        shift = np.asarray(vector, dtype=np.float64) @ self.basis(f0_hz, energy, speech).astype(np.float64)
        return np.clip(shift, -MAX_SHIFT, MAX_SHIFT)

    def shaped(self, prediction: ProsodyPrediction, vector: np.ndarray) -> ProsodyPrediction:
        """``prediction`` with its F0 reshaped for a contour vector (voiced steps only)."""
        if not np.any(vector):
            return prediction
        shift = self.log_f0_shift(vector, prediction.f0_hz, prediction.energy, speech_steps(prediction.frames_per_token))
        return prediction.with_contours(f0_hz=shape_f0(prediction.f0_hz, scale=np.exp(shift)))

    def to_bytes(self) -> bytes:
        arrays = {f"w/{k}": np.asarray(v, dtype=np.float32) for k, v in self.weights.items()}
        arrays.update({f"e/{k}": np.asarray(v, dtype=np.float32) for k, v in self.vectors.items()})
        meta = {"dilations": list(self.dilations), "info": self.info}
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
        return buffer.getvalue()

    def save(self, path: str | os.PathLike[str]) -> None:
        write_bytes_atomic(path, self.to_bytes())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> EmotionContour:
        p = Path(path)
        try:
            with np.load(p) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                weights = {k[2:]: data[k] for k in data.files if k.startswith("w/")}
                vectors = {k[2:]: data[k].astype(np.float64) for k in data.files if k.startswith("e/")}
        except FileNotFoundError:
            raise ModelError(f"{p}: no such emotion-contour file") from None
        except (ValueError, KeyError, OSError) as exc:
            raise ModelError(f"{p}: not an emotion-contour file ({exc})") from None
        missing = [e for e in CONTOUR_EMOTIONS if e not in vectors]
        if missing:
            raise ModelError(f"{p}: needs a contour vector for each of {list(CONTOUR_EMOTIONS)}; missing {missing}")
        return cls(weights=weights, vectors=vectors, dilations=tuple(meta["dilations"]), info=meta.get("info", {}))
