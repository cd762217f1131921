"""Reading audio from files or arrays into one form: mono float32 at a known rate, checked.

Every stage that takes audio from a user goes through :func:`load_audio` or
:func:`prepare_array`, so every stage gives the same errors for the same bad input.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .errors import AudioError

__all__ = [
    "Audio",
    "load_audio",
    "prepare_array",
    "SUPPORTED_FORMATS",
    "MIN_DURATION_S",
    "SILENCE_PEAK",
]

#: Containers read through libsndfile (MP3 needs libsndfile >= 1.1, which soundfile's wheels ship).
SUPPORTED_FORMATS = ("WAV", "FLAC", "MP3", "OGG")
#: Shorter clips hold too little speech to judge an emotion by.
MIN_DURATION_S = 0.3
#: A clip whose absolute peak stays below this (about -66 dBFS) is treated as silence.
SILENCE_PEAK = 5e-4


@dataclass(frozen=True)
class Audio:
    """Mono samples in [-1, 1] with their rate."""

    samples: np.ndarray  # shape (n,), float32
    sample_rate_hz: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate_hz


def load_audio(path: str | os.PathLike[str], *, target_rate_hz: int | None = None, data: bytes | None = None) -> Audio:
    """Read a WAV/FLAC/MP3/OGG file, mix it to mono and (optionally) resample it.

    ``data``: the file's bytes, already read elsewhere (a cluster worker gets them from the
    driver); ``path`` then only names the file in errors.

    Raises :class:`AudioError` naming the file and the reason when the file is missing, is not
    audio, has a corrupt header, or holds an empty, too short or silent clip.
    """
    p = Path(path)
    if data is None and not p.exists():
        raise AudioError(f"{p}: no such file")
    if data is None and p.is_dir():
        raise AudioError(f"{p}: is a folder, not an audio file")
    try:
        samples, rate = sf.read(io.BytesIO(data) if data is not None else str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, EOFError) as exc:
        raise AudioError(
            f"{p}: cannot be read as audio ({_short(exc)}); "
            f"accepted formats: {', '.join(SUPPORTED_FORMATS)}"
        ) from None
    try:
        return prepare_array(samples, rate, target_rate_hz=target_rate_hz)
    except AudioError as exc:
        raise AudioError(f"{p}: {exc}") from None


def prepare_array(
    samples: np.ndarray, sample_rate_hz: int, *, target_rate_hz: int | None = None
) -> Audio:
    """Check and convert an array (shape (n,) or (n, channels)) to mono float32 ``Audio``.

    ``target_rate_hz`` resamples; ``None`` keeps the input rate.
    """
    target = target_rate_hz
    x = np.asarray(samples)
    if not np.issubdtype(x.dtype, np.number):
        raise AudioError(f"samples must be numbers, got dtype {x.dtype}")
    if x.ndim == 2:
        x = x.mean(axis=1)
    elif x.ndim != 1:
        raise AudioError(f"samples must have shape (n,) or (n, channels), got {x.shape}")
    if int(sample_rate_hz) <= 0:
        raise AudioError(f"sample rate must be positive, got {sample_rate_hz}")
    x = x.astype(np.float32, copy=False)
    if x.size == 0:
        raise AudioError("the clip is empty (0 samples)")
    if not np.all(np.isfinite(x)):
        raise AudioError("the clip holds NaN or infinite samples")
    duration = x.size / sample_rate_hz
    if duration < MIN_DURATION_S:
        raise AudioError(
            f"the clip is too short ({duration:.3f} s); at least {MIN_DURATION_S} s is needed"
        )
    if float(np.max(np.abs(x))) < SILENCE_PEAK:
        raise AudioError("the clip is silent (peak below -66 dBFS)")
    rate = int(sample_rate_hz)
    if target is not None and target != rate:
        g = gcd(rate, int(target))
        x = resample_poly(x, int(target) // g, rate // g).astype(np.float32)
        rate = int(target)
    return Audio(samples=x, sample_rate_hz=rate)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
