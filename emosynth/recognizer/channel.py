"""Channel perturbations that keep a recording's emotion, for training the recognizer.

A recognizer that judges synthetic speech must not read the channel a voice comes through (a
vocoder's buzz, a clean studio, a codec) as an emotion. Training copies of the human recordings
pass through one of these channels each; the emotion label stays, the channel varies:

* ``vocoder``: WORLD copy-synthesis (DIO + StoneMask pitch, CheapTrick envelope, D4C
  aperiodicity, 5 ms frames), the parametric resynthesis a TTS vocoder performs;
* ``noise``: white or pink noise at 15-30 dB SNR over the speech;
* ``reverb``: a synthetic room (exponentially decaying noise, RT60 0.15-0.6 s) mixed with the dry
  signal;
* ``codec``: MP3 through libsndfile's LAME at a low to middling bitrate;
* ``bandwidth``: down to 8 or 11.025 kHz and back, as a telephone or an old recording;
* ``loudness``: -20 to +12 dB of gain, a soft limiter catching what would clip.

Every second copy moves the *speaker* instead (``speaker``): the clip is resampled as if it had
been recorded at a rate 0.8-1.25 times its own, which raises or lowers pitch, formants and tempo
together by that factor (Ko et al.'s speed perturbation). A voice is a new speaker; Kokoro's voices
lie at the edges of the actors' pitch range or beyond (tebukuro speaks at a median 317 Hz), and a
classifier with no reference reads an unfamiliar pitch as an emotion. The factor is small next to
the differences between speakers, and every emotion's copies move alike, so the emotion stays.

Every perturbation is seeded by the clip's file name and the copy index, so training is
reproducible whatever order or machine the clips are read on. Nothing here is ever applied to
speech that is being scored, and emosynth's own synthetic speech is never a training input.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from fractions import Fraction

import numpy as np
from scipy.signal import fftconvolve, lfilter, resample_poly

from ..errors import MissingExtraError

__all__ = ["CHANNELS", "DEFAULT_COPIES", "SPEAKER", "SPEAKER_RANGE", "channel_for", "copy_version", "perturb"]

#: Bumped whenever a channel perturbation changes, so cached features of its copies are recomputed.
CHANNEL_VERSION = 1
#: The same for the speaker perturbation.
SPEAKER_VERSION = 1
_RATE = 16_000
#: Perturbed copies of every training clip the shipped recognizer was trained with
#: (docs/recognizer.md): copy 1 through a channel, copy 2 with the speaker moved.
DEFAULT_COPIES = 2
#: The copies that move the speaker, and the range of their resampling factor.
SPEAKER = "speaker"
SPEAKER_RANGE = (0.8, 1.25)


def _vocoder(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    try:
        import pyworld
    except ImportError:
        raise MissingExtraError("WORLD copy-synthesis for training (pyworld)", extra="train") from None
    xd = x.astype(np.float64)
    f0, t = pyworld.dio(xd, _RATE, frame_period=5.0)
    f0 = pyworld.stonemask(xd, f0, t, _RATE)
    sp = pyworld.cheaptrick(xd, f0, t, _RATE)
    ap = pyworld.d4c(xd, f0, t, _RATE)
    return pyworld.synthesize(f0, sp, ap, _RATE, 5.0)[: len(x)]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)


def _noise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(len(x))
    if rng.random() < 0.5:  # pink: Kellet's three-pole approximation of a 1/f spectrum
        white = lfilter([0.049922035, -0.095993537, 0.050612699, -0.004408786],
                        [1, -2.494956002, 2.017265875, -0.522189400], white)
    snr_db = rng.uniform(15.0, 30.0)
    return x + white * (_rms(x) / _rms(white)) * 10 ** (-snr_db / 20)


def _reverb(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rt60 = rng.uniform(0.15, 0.6)
    n = int(rt60 * _RATE)
    decay = np.exp(-6.9078 * np.arange(n) / n)  # 60 dB down at rt60
    tail = rng.standard_normal(n) * decay
    tail[: int(0.003 * _RATE)] = 0.0  # the first reflections arrive a few ms after the direct sound
    rir = tail / np.sqrt(np.sum(tail**2)) * 10 ** (-rng.uniform(0.0, 10.0) / 20)  # direct-to-reverb 0-10 dB
    rir[0] = 1.0
    return fftconvolve(x, rir)[: len(x)]


def _codec(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    import soundfile as sf

    buffer = io.BytesIO()
    peak = max(1.0, float(np.abs(x).max()))
    sf.write(buffer, x / peak, _RATE, format="MP3", subtype="MPEG_LAYER_III",
             compression_level=float(rng.uniform(0.4, 0.95)))
    buffer.seek(0)
    y, _ = sf.read(buffer, dtype="float32")
    y = np.resize(y, len(x)) if len(y) != len(x) else y
    return y * peak


def _bandwidth(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    up, down = (1, 2) if rng.random() < 0.5 else (441, 640)  # 8 kHz or 11.025 kHz
    return resample_poly(resample_poly(x, up, down), down, up)[: len(x)]


def _loudness(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    y = x * 10 ** (rng.uniform(-20.0, 12.0) / 20)
    peak = float(np.abs(y).max())
    return np.tanh(y) if peak > 0.9 else y  # a soft limiter, as a loud recording chain has


CHANNELS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "vocoder": _vocoder,
    "noise": _noise,
    "reverb": _reverb,
    "codec": _codec,
    "bandwidth": _bandwidth,
    "loudness": _loudness,
}


def _seed(name: str, copy: int, seed: int) -> int:
    digest = hashlib.sha256(f"{seed}:{copy}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _speaker(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Resampled by a factor f in SPEAKER_RANGE (log-uniform): n / f samples, pitch, formants and
    tempo times f."""
    lo, hi = np.log(SPEAKER_RANGE[0]), np.log(SPEAKER_RANGE[1])
    ratio = Fraction(float(np.exp(rng.uniform(lo, hi)))).limit_denominator(40)
    return resample_poly(x, ratio.denominator, ratio.numerator)


def _moves_speaker(copy: int) -> bool:
    """Odd copies go through a channel, even ones move the speaker."""
    return copy % 2 == 0


def channel_for(name: str, copy: int, seed: int = 0) -> str:
    """What copy ``copy`` (1, 2, ...) of the clip called ``name`` goes through: odd copies a channel
    (a fixed draw by name), even copies :data:`SPEAKER`."""
    if _moves_speaker(copy):
        return SPEAKER
    kinds = sorted(CHANNELS)
    return kinds[_seed(name, copy, seed) % len(kinds)]


def copy_version(copy: int) -> str:
    """The version of the perturbation copy ``copy`` goes through (a part of its cache key)."""
    return f"speaker/{SPEAKER_VERSION}" if _moves_speaker(copy) else f"channel/{CHANNEL_VERSION}"


def perturb(samples_16k: np.ndarray, name: str, copy: int, seed: int = 0) -> tuple[str, np.ndarray]:
    """(channel, perturbed float32 samples) for copy ``copy`` of the 16 kHz clip called ``name``."""
    kind = channel_for(name, copy, seed)
    rng = np.random.default_rng(_seed(name, copy, seed) + 1)
    x = np.asarray(samples_16k, dtype=np.float32)
    y = _speaker(x, rng) if kind == SPEAKER else CHANNELS[kind](x, rng)
    return kind, np.asarray(y, dtype=np.float32)
