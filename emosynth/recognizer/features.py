"""Acoustic features the recognizer reads: one fixed-length vector per clip.

Each Whisper encoder (:mod:`.encoders`) turns the clip's log-mel spectrogram into states, one per
20 ms; the recognizer reads the states of one *middle* block of the encoder (:mod:`.whisper_encoder`
runs it that far), mean- and std-pooled over the clip. Middle blocks carry how something is said
better than the last, which is shaped towards the words: Whisper base's third of six blocks lifts
held-out UA from 0.69 to 0.73 (RAVDESS) and 0.56 to 0.66 (nEMO) over its output (docs/recognizer.md,
"Which block"). A *feature set* names the encoders whose pooled states are concatenated:
``tiny.en`` (768 numbers), ``base`` (1024) or ``tiny.en+base`` (1792).

A clip is encoded over its own length, not zero-padded to Whisper's 30 s window: the encoder's
positional embeddings are simply cut, which costs a tenth of the time for a 4 s clip
(docs/recognizer.md). Clips longer than 8 s are read in equal pieces, each on its own, so every
piece looks like the few-second utterances the classifier was trained on.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np
from threadpoolctl import threadpool_limits

from ..audio import Audio
from ..cpus import usable_cpus
from ..errors import ModelError
from .encoders import ENCODERS, encoder_model_dir
from .whisper_encoder import WhisperEncoder

__all__ = [
    "DEFAULT_FEATURE_SET",
    "FEATURE_SAMPLE_RATE_HZ",
    "FEATURE_SETS",
    "ClipFeatureExtractor",
    "clip_pieces",
    "encoder_frames",
    "encoder_version",
    "feature_encoders",
    "feature_version",
    "n_features",
    "whisper_log_mel",
]

#: Every feature view reads 16 kHz audio.
FEATURE_SAMPLE_RATE_HZ = 16_000
#: The feature sets the recognizer can be trained on.
FEATURE_SETS = ("tiny.en", "base", "tiny.en+base")
DEFAULT_FEATURE_SET = "tiny.en+base"  # chosen by cross-validation over both corpora (docs/recognizer.md)
# Bumped whenever the pooled states of an encoder change, so caches and models trained on old ones
# are refused (2 read a 30 s padded window; 3 each clip over its own length; 4 a middle block's
# states in float32 instead of CTranslate2's int8 last block).
_POOLING_VERSION = "meanstd-ownlength/4"

_N_FFT = 400  # 25 ms window
_HOP = 160  # 10 ms hop: 100 mel frames a second, 50 encoder frames a second
_N_MELS = 80
_WINDOW_SAMPLES = 30 * FEATURE_SAMPLE_RATE_HZ  # the encoder reads at most 30 s
_SEGMENT_SAMPLES = 8 * FEATURE_SAMPLE_RATE_HZ


def feature_encoders(feature_set: str) -> tuple[str, ...]:
    """The encoders of ``feature_set``, in the order their features are concatenated."""
    if feature_set not in FEATURE_SETS:
        raise ModelError(f"unknown feature set {feature_set!r}; known: {', '.join(FEATURE_SETS)}")
    return tuple(feature_set.split("+"))


def encoder_version(encoder: str) -> str:
    """Version string of one encoder's pooled features (a cache key part)."""
    return f"whisper-{encoder}-block{ENCODERS[encoder].block}-{_POOLING_VERSION}"


def feature_version(feature_set: str) -> str:
    """Version string of a feature set's vectors: models and references record it."""
    return "+".join(encoder_version(e) for e in feature_encoders(feature_set))


def n_features(feature_set: str) -> int:
    """Length of a feature set's vector: mean and std of every encoder's states."""
    return sum(2 * ENCODERS[e].dim for e in feature_encoders(feature_set))


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (as Whisper's filters)."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_region = f >= 1000.0
    mel[log_region] = 15.0 + np.log(f[log_region] / 1000.0) / (np.log(6.4) / 27.0)
    return mel


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f = m * (200.0 / 3)
    log_region = m >= 15.0
    f[log_region] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m[log_region] - 15.0))
    return f


@lru_cache(maxsize=1)
def _mel_filters() -> np.ndarray:
    """Slaney-normalised triangular filters, shape (80, 201), the bank Whisper was trained with."""
    fft_hz = np.linspace(0, FEATURE_SAMPLE_RATE_HZ / 2, _N_FFT // 2 + 1)
    edges_hz = _mel_to_hz(np.linspace(_hz_to_mel(np.array([0.0]))[0],
                                      _hz_to_mel(np.array([8000.0]))[0], _N_MELS + 2))
    lower = (fft_hz[None, :] - edges_hz[:-2, None]) / np.diff(edges_hz)[:-1, None]
    upper = (edges_hz[2:, None] - fft_hz[None, :]) / np.diff(edges_hz)[1:, None]
    filters = np.maximum(0.0, np.minimum(lower, upper))
    filters *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return filters.astype(np.float32)


def whisper_log_mel(samples_16k: np.ndarray) -> np.ndarray:
    """Whisper's log-mel spectrogram of a 16 kHz clip (at most 30 s), over the clip's own length.

    The clip is zero-padded to a whole number of encoder frames (320 samples, two mel frames
    each). Returns shape (80, 2 * ceil(n / 320)): centred 25 ms Hann frames every 10 ms, power
    mel energies, log10, floored 8 decades below the peak, then scaled by (x + 4) / 4, exactly
    as Whisper computes its 30 s window.
    """
    if len(samples_16k) > _WINDOW_SAMPLES:
        raise ValueError(f"whisper_log_mel reads at most {_WINDOW_SAMPLES} samples (30 s)")
    n_padded = max(1, -(-len(samples_16k) // (2 * _HOP))) * 2 * _HOP
    padded = np.zeros(n_padded, dtype=np.float32)
    padded[: len(samples_16k)] = samples_16k
    framed_input = np.pad(padded, _N_FFT // 2, mode="reflect")
    n_frames = 1 + (len(framed_input) - _N_FFT) // _HOP
    idx = np.arange(_N_FFT)[None, :] + _HOP * np.arange(n_frames)[:, None]
    window = np.hanning(_N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann
    spectrum = np.fft.rfft(framed_input[idx] * window, axis=1)
    power = (np.abs(spectrum[:-1]) ** 2).T  # Whisper drops the last frame
    mel = _mel_filters() @ power
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


def clip_pieces(samples_16k: np.ndarray) -> list[np.ndarray]:
    """A clip cut into equal pieces of at most 8 s, each read on its own (see the module doc)."""
    return np.array_split(samples_16k, -(-len(samples_16k) // _SEGMENT_SAMPLES))


def encoder_frames(n_samples: int) -> int:
    """How many encoder states (one per 20 ms) hold ``n_samples`` samples: the ones pooled."""
    return max(1, -(-n_samples // (2 * _HOP)))


class ClipFeatureExtractor:
    """Turns 16 kHz audio into a feature set's vector (see the module doc).

    The encoders load on first use (under 1 s; Whisper base is joined from its packages the first
    time ever, see :mod:`.encoders`) and are reused. One extractor is safe to share between
    threads; each process builds its own. ``threads`` caps the numeric library's threads while
    encoding (default: up to 4).
    """

    def __init__(self, feature_set: str = DEFAULT_FEATURE_SET, *, threads: int | None = None) -> None:
        self.feature_set = feature_set
        self.encoders = feature_encoders(feature_set)
        self._threads = threads or min(4, usable_cpus())
        self._models: dict[str, WhisperEncoder] = {}
        self._lock = threading.Lock()

    @property
    def n_features(self) -> int:
        return n_features(self.feature_set)

    def _model(self, encoder: str) -> WhisperEncoder:
        with self._lock:
            if encoder not in self._models:
                self._models[encoder] = WhisperEncoder(encoder_model_dir(encoder) / "model.bin",
                                                       ENCODERS[encoder].block)
            return self._models[encoder]

    def __call__(self, audio: Audio) -> np.ndarray:
        """Feature vector, float64, for ``audio`` at 16 kHz: the encoders' pooled states in order."""
        by_encoder = self.encoder_features(audio)
        return np.concatenate([by_encoder[e] for e in self.encoders])

    def encoder_features(self, audio: Audio, encoders: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """Each encoder's pooled states (mean then std, 2 x its width), float64, by encoder name."""
        if audio.sample_rate_hz != FEATURE_SAMPLE_RATE_HZ:
            raise ValueError(f"features need {FEATURE_SAMPLE_RATE_HZ} Hz audio, got {audio.sample_rate_hz}")
        pieces = clip_pieces(audio.samples)
        mels = [whisper_log_mel(piece) for piece in pieces]
        out = {}
        with threadpool_limits(limits=self._threads):
            for encoder in encoders or self.encoders:
                held = np.concatenate([self.encoder_states(encoder, mel, len(piece))
                                       for mel, piece in zip(mels, pieces)]).astype(np.float64)
                out[encoder] = np.concatenate([held.mean(axis=0), held.std(axis=0)])
        return out

    def encoder_states(self, encoder: str, log_mel: np.ndarray, n_samples: int) -> np.ndarray:
        """The read block's states (frames, width) of the frames that hold ``n_samples`` samples."""
        return self._model(encoder)(log_mel)[: encoder_frames(n_samples)]
