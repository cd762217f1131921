"""The mouth from audio alone, for recordings that come without phoneme timings.

A small network (log-mel context of +-120 ms -> one hidden layer -> mouth blendshapes and a
lip-closure score) trained on pairs the project makes itself: Kokoro speech from every voice,
across emotions and intensities, with the mouth curves the timing-based animator
(:mod:`.visemes`) draws from the exact phoneme timings. ``emosynth train-face`` reproduces the
shipped weights (emosynth/models/audio_face.npz, see AUDIO_FACE_CARD.md); inference is numpy.

Features: 40 log-mel bands (80 Hz-8 kHz) every 10 ms from 16 kHz audio, in dB relative to the
clip's loud frames (so recording level does not matter), 13 frames (every other one over
+-120 ms) stacked.

Lip closures (p, b, m) have a detector of their own on the same features: four small networks
trained as classifiers with the closed frames weighted as much as all the others (they are about
one frame in twelve), their probabilities averaged, read with hysteresis (closed once the
probability reaches one threshold, open again when it falls below a lower one), each closure
lasting at least 40 ms. Its thresholds are chosen on a voice the detector was not fitted on
(:mod:`.train`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from ..errors import ModelError
from ..io import atomic_path
from .arkit import index_of
from .visemes import VISEME_POSES

__all__ = ["AudioFaceModel", "MOUTH_SHAPES", "log_mel", "stacked_features", "FEATURE_RATE_HZ",
           "default_model_path", "closure_runs", "MIN_CLOSURE_FRAMES"]

FEATURE_RATE_HZ = 100
_SR = 16_000
_HOP = _SR // FEATURE_RATE_HZ
_WIN = 400  # 25 ms
_N_MELS = 40
_CONTEXT = tuple(range(-12, 13, 2))  # frames of 10 ms
_FLOOR_DB = -60.0
#: The shapes the visemes move: what the audio model predicts.
MOUTH_SHAPES: tuple[str, ...] = tuple(sorted({s for pose, _ in VISEME_POSES.values() for s in pose} | {"mouthClose"},
                                             key=index_of))
#: A closure lasts at least this many 10 ms frames: shorter ones are widened about their centre.
MIN_CLOSURE_FRAMES = 4
_FORMAT = "emosynth-audio-face/3"
_ARRAYS = ("mean", "scale", "w1", "b1", "w2", "b2", "cw1", "cb1", "cw2", "cb2", "closure_threshold")


def default_model_path() -> Path:
    return Path(str(resources.files("emosynth") / "models" / "audio_face.npz"))


def _mel_filterbank() -> np.ndarray:
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    n_fft = 512
    freqs = np.arange(n_fft // 2 + 1) * _SR / n_fft
    edges = hz(np.linspace(mel(80.0), mel(8000.0), _N_MELS + 2))
    bank = np.zeros((_N_MELS, len(freqs)))
    for i in range(_N_MELS):
        lo, mid, hi = edges[i:i + 3]
        bank[i] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0.0, None)
    return bank


_BANK = _mel_filterbank()


def log_mel(audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """(n_frames, 40) log-mel in dB re the clip's 99th-percentile frame, floored at -60; frame i is
    centred at i * 10 ms."""
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    if sample_rate_hz != _SR:
        g = np.gcd(int(sample_rate_hz), _SR)
        x = resample_poly(x, _SR // g, int(sample_rate_hz) // g)
    n = int(np.ceil(len(x) / _HOP))
    padded = np.pad(x, (_WIN // 2, _WIN // 2 + _HOP))
    idx = np.arange(_WIN)[None, :] + _HOP * np.arange(n)[:, None]
    frames = padded[idx] * np.hanning(_WIN)[None, :]
    power = np.abs(np.fft.rfft(frames, n=512, axis=1)) ** 2
    db = 10.0 * np.log10(power @ _BANK.T + 1e-12)
    ref = np.percentile(db.max(axis=1), 99) if n else 0.0
    return np.clip(db - ref, _FLOOR_DB, 0.0) / -_FLOOR_DB + 1.0  # 0 (floor) .. 1 (loud)


def stacked_features(mel: np.ndarray) -> np.ndarray:
    """(n_frames, 13 * 40) context windows, edges padded with the floor."""
    n = len(mel)
    pad = max(abs(c) for c in _CONTEXT)
    padded = np.concatenate([np.zeros((pad, _N_MELS)), mel, np.zeros((pad, _N_MELS))])
    return np.concatenate([padded[pad + c:pad + c + n] for c in _CONTEXT], axis=1)


def closure_runs(probability: np.ndarray, close_at: float, reopen_below: float,
                 min_frames: int = MIN_CLOSURE_FRAMES) -> np.ndarray:
    """Lips-closed flags (n,) from per-frame closure probabilities, with hysteresis: a closure is a
    run of frames at or above ``reopen_below`` that reaches ``close_at`` somewhere; runs shorter than
    ``min_frames`` are widened about their centre."""
    p = np.asarray(probability, dtype=np.float64)
    above = p >= min(reopen_below, close_at)
    closed = np.zeros(len(p), dtype=bool)
    if not above.any():
        return closed
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(np.int8), [0]])))
    for start, end in zip(edges[::2], edges[1::2]):
        if p[start:end].max() < close_at:
            continue
        if end - start < min_frames:
            centre = (start + end) / 2
            start, end = max(0, int(round(centre - min_frames / 2))), min(len(p), int(round(centre + min_frames / 2)))
        closed[start:end] = True
    return closed


@dataclass(frozen=True)
class AudioFaceModel:
    """Standardised features -> a tanh hidden layer -> the mouth shapes; and the same features -> an
    ensemble of small classifiers (their hidden layers side by side in ``cw1``, each one's output
    weights a block of ``cw2``) -> the mean probability that the lips are closed, read by
    :func:`closure_runs` with the two thresholds chosen on a voice the detector did not see."""

    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray  # (520, hidden)
    b1: np.ndarray
    w2: np.ndarray  # (hidden, len(MOUTH_SHAPES))
    b2: np.ndarray
    cw1: np.ndarray  # (520, members x hidden)
    cb1: np.ndarray
    cw2: np.ndarray  # (members x hidden, members), block diagonal
    cb2: np.ndarray  # (members,)
    closure_threshold: np.ndarray  # (2,): close at, reopen below
    info: dict = field(default_factory=dict)

    def closure_probability(self, z: np.ndarray) -> np.ndarray:
        """Per-frame probability (n,) that the lips are closed, from standardised features."""
        logits = np.tanh(z @ self.cw1 + self.cb1) @ self.cw2 + self.cb2
        return np.mean(1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0))), axis=1)

    def predict_standardised(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mouth shapes (n, len(MOUTH_SHAPES)) in [0, 1] and lips-closed flags (n,) from the
        standardised features of consecutive frames."""
        shapes = np.tanh(z @ self.w1 + self.b1) @ self.w2 + self.b2
        close_at, reopen_below = self.closure_threshold
        return np.clip(shapes, 0.0, 1.0), closure_runs(self.closure_probability(z), close_at, reopen_below)

    def predict_frames(self, audio: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray]:
        """Mouth shapes and lips-closed flags at 100 Hz."""
        return self.predict_standardised((stacked_features(log_mel(audio, sample_rate_hz)) - self.mean) / self.scale)

    def mouth(self, audio: np.ndarray, sample_rate_hz: int, times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ARKit weights (n, 52) at ``times_s`` and the frames whose lips are closed (n,)."""
        shapes, closed = self.predict_frames(audio, sample_rate_hz)
        grid = np.arange(len(shapes)) / FEATURE_RATE_HZ
        weights = np.zeros((len(times_s), 52))
        for j, name in enumerate(MOUTH_SHAPES):
            weights[:, index_of(name)] = np.interp(times_s, grid, shapes[:, j])
        nearest = np.clip(np.round(times_s * FEATURE_RATE_HZ).astype(np.int64), 0, len(closed) - 1)
        return weights, closed[nearest]

    def save(self, path: str | os.PathLike[str]) -> None:
        arrays = {k: getattr(self, k) for k in _ARRAYS}
        meta = {"format": _FORMAT, "shapes": list(MOUTH_SHAPES), "context": list(_CONTEXT), "info": self.info}
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                # weight matrices in half precision (the file stays a few hundred kB), the rest single
                np.savez_compressed(fh, meta=np.array(json.dumps(meta)),
                                    **{k: v.astype(np.float16 if v.ndim == 2 else np.float32) for k, v in arrays.items()})

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> "AudioFaceModel":
        p = Path(path) if path is not None else default_model_path()
        try:
            with np.load(p, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                arrays = {k: data[k].astype(np.float64) for k in _ARRAYS}
        except FileNotFoundError:
            raise ModelError(f"{p}: no such audio-to-face model file") from None
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"{p}: not an audio-to-face model file ({exc})") from None
        if meta.get("format") != _FORMAT or meta.get("shapes") != list(MOUTH_SHAPES):
            raise ModelError(f"{p}: made for {meta.get('format')!r} with other shapes; retrain with `emosynth train-face`")
        return cls(info=meta.get("info", {}), **arrays)
