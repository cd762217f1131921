"""Speaker embeddings, to check that emotional speech keeps the voice (optional extra
``speaker``).

Uses resemblyzer's bundled GE2E voice encoder (Wan et al. 2018): 256 numbers per clip with unit
length, so the cosine of two embeddings is their dot product; clips of one speaker typically
score above about 0.75, clips of different speakers lower.
"""

from __future__ import annotations

import threading

import numpy as np

from ._extras import require

__all__ = ["SpeakerEncoder", "cosine_similarity", "shared_encoder"]

_WHAT = "Speaker similarity"
_RATE_HZ = 16_000  # resemblyzer's own rate, so raw samples can stand in for preprocessed ones
_MIN_SAMPLES = _RATE_HZ // 10  # less speech than 0.1 s left after trimming is no basis


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the angle between two vectors of shape (d,); nan when either is all zeros."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / norms) if norms > 0 else float("nan")


class SpeakerEncoder:
    """Voice embeddings of 16 kHz clips. The encoder loads on the first :meth:`embed`.

    Raises :class:`~emosynth.errors.MissingExtraError` on construction when ``resemblyzer`` (or
    ``torch``) is not installed.
    """

    def __init__(self) -> None:
        require("torch", what=_WHAT, extra="speaker")
        require("resemblyzer", what=_WHAT, extra="speaker")
        self._encoder = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._encoder is None:
                resemblyzer = require("resemblyzer", what=_WHAT, extra="speaker")
                self._encoder = resemblyzer.VoiceEncoder(device="cpu", verbose=False)
        return self._encoder

    def embed(self, samples_16k: np.ndarray) -> np.ndarray:
        """Unit-length embedding, shape (256,), of a mono 16 kHz clip of shape (n,).

        resemblyzer's preprocessing (volume normalisation, trimming long pauses) is applied;
        should it trim away nearly everything, the raw samples are embedded instead.
        """
        encoder = self._load()
        resemblyzer = require("resemblyzer", what=_WHAT, extra="speaker")
        torch = require("torch", what=_WHAT, extra="speaker")
        samples = np.ascontiguousarray(samples_16k, dtype=np.float32)
        wav = resemblyzer.preprocess_wav(samples, source_sr=_RATE_HZ)
        if len(wav) < _MIN_SAMPLES:
            wav = samples
        # One torch thread: the encoder is small (about 20 ms a clip), and several torch threads
        # next to the Whisper runtimes' own thread pools were measured up to 100x slower on a
        # busy 2-core machine. The caller's setting is restored afterwards.
        with self._lock:
            previous = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                embedding = encoder.embed_utterance(wav)
            finally:
                torch.set_num_threads(previous)
        return np.asarray(embedding, dtype=np.float64)

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> float:
        """Cosine similarity of two embeddings."""
        return cosine_similarity(a, b)


_shared: list[SpeakerEncoder] = []


def shared_encoder() -> SpeakerEncoder:
    """One encoder for the whole process, so code that embeds clip after clip loads the model once.

    Raises :class:`~emosynth.errors.MissingExtraError` as the constructor does.
    """
    if not _shared:
        _shared.append(SpeakerEncoder())
    return _shared[0]
