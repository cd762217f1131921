"""Phoneme timings for a recording whose words are known (or heard by the ASR extra).

The audio-to-mouth model alone finds few lip closures in a voice it has not heard (a mouth from
audio is a guess at articulation). When the words are known, the mouth can come from timings
instead, as for `say`'s own speech: the words are spoken by one of our voices, whose phoneme
timings are exact, and that reference is aligned to the recording by dynamic time warping; each
phoneme's start and end follow the warping path onto the recording.

What is compared frame by frame is what the audio-to-mouth model's hidden layers make of the
audio (shape network and closure detector side by side, each dimension standardised within its
clip): features trained to describe articulation, so they depend less on who speaks than the
spectrum does. The path moves one recording frame at a time and 0, 1 or 2 reference frames
(the recording may be slower than the reference by any amount, faster by up to 2x); staying and
skipping cost a little extra, so it prefers to move in step.

An aligned bilabial is held closed for at least ALIGNED_MIN_CLOSURE_S, grown back from its release
and never past its neighbours' centres: its place is known to about 10-20 ms (docs/face.md), and a
stop's real closure lasts that long anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import FaceError
from .audio_model import FEATURE_RATE_HZ, AudioFaceModel, log_mel, stacked_features

if TYPE_CHECKING:
    from ..synthesizer import PhonemeTiming

__all__ = ["align_transcript", "timings_from_words", "warping_path", "articulation_features", "transcribe",
           "ALIGNED_MIN_CLOSURE_S", "REFERENCE_VOICE", "MAX_ALIGN_S"]

#: The voice that speaks the reference.
REFERENCE_VOICE = "kumo"
#: Aligned bilabials (p, b, m) last at least this long, centred where the alignment put them.
ALIGNED_MIN_CLOSURE_S = 0.08
_STEP_PENALTY = 0.05  # cost of a reference frame held or skipped, against a cosine distance in [0, 2]
#: Longest recording aligned in one piece: the path's table holds (recording x reference) frames
#: (about 0.3 GB at this length).
MAX_ALIGN_S = 60.0


def articulation_features(audio: np.ndarray, sample_rate_hz: int, model: AudioFaceModel) -> np.ndarray:
    """Per 10 ms frame, the model's hidden units (shapes, then closure), standardised within the clip."""
    z = (stacked_features(log_mel(audio, sample_rate_hz)) - model.mean) / model.scale
    f = np.concatenate([np.tanh(z @ model.w1 + model.b1), np.tanh(z @ model.cw1 + model.cb1)], axis=1)
    f = (f - f.mean(axis=0)) / (f.std(axis=0) + 1e-6)
    return (f / (np.linalg.norm(f, axis=1, keepdims=True) + 1e-9)).astype(np.float32)


def warping_path(recording: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, float]:
    """For each recording frame, the reference frame it matches (non-decreasing, from the first to
    the last of each), and the mean cosine distance along the path. Inputs: unit-length feature
    rows (n, d) and (m, d)."""
    n, m = len(recording), len(reference)
    cost = 1.0 - recording @ reference.T
    total = np.empty((n, m), dtype=np.float32)
    step = np.zeros((n, m), dtype=np.int8)  # reference frames advanced into (i, j): 0, 1 or 2
    total[0] = np.inf
    total[0, 0] = cost[0, 0]
    cols = np.arange(m)
    for i in range(1, n):
        prev = total[i - 1]
        options = np.full((3, m), np.inf, dtype=np.float32)
        options[0] = prev + _STEP_PENALTY
        options[1, 1:] = prev[:-1]
        options[2, 2:] = prev[:-2] + _STEP_PENALTY
        k = np.argmin(options, axis=0)
        total[i] = cost[i] + options[k, cols]
        step[i] = k
    if not np.isfinite(total[-1, -1]):
        raise FaceError("the recording is too short for these words (under half the time a voice takes to say them)")
    path = np.empty(n, dtype=np.int64)
    j = m - 1
    for i in range(n - 1, -1, -1):
        path[i] = j
        j -= int(step[i, j])
    return path, float(np.mean(cost[np.arange(n), path]))


def align_transcript(audio: np.ndarray, sample_rate_hz: int, text: str, *,
                     model: AudioFaceModel | None = None) -> list["PhonemeTiming"]:
    """Phoneme timings, in samples of ``audio``, for ``text`` as spoken in it.

    The words are trusted: other words than the recording's give a wrong mouth, not an error (the
    path's distance does not tell them apart reliably: on the benchmark's sentences, matched and
    mismatched texts overlap). Raises :class:`~emosynth.errors.TextError` for text with nothing to
    say and :class:`FaceError` for a recording too short for the words.
    """
    from ..synthesizer import PhonemeTiming, Synthesizer

    model = model or AudioFaceModel.load()
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    if x.size > MAX_ALIGN_S * sample_rate_hz:
        raise FaceError(f"the recording lasts {x.size / sample_rate_hz:.0f} s; words are aligned to at most "
                        f"{MAX_ALIGN_S:.0f} s at a time (split the recording and its words)")
    reference = Synthesizer(REFERENCE_VOICE).say(text, emotion="neutral", score=False)
    path, _ = warping_path(articulation_features(x, sample_rate_hz, model),
                           articulation_features(reference.audio, reference.sample_rate_hz, model))
    ref_rate = reference.sample_rate_hz

    def place(sample: int) -> int:
        frame = np.searchsorted(path, sample / ref_rate * FEATURE_RATE_HZ)  # first recording frame that far on
        return int(min(x.size, round(frame / FEATURE_RATE_HZ * sample_rate_hz)))

    spans = []
    for p in reference.phonemes:
        start = place(p.start_sample)
        spans.append((p.symbol, start, min(max(start + 1, place(p.end_sample)), x.size)))
    timings = []
    for i, (symbol, start, end) in enumerate(spans):
        if symbol in ("p", "b", "m"):
            before = (spans[i - 1][1] + spans[i - 1][2]) // 2 if i else 0
            after = (spans[i + 1][1] + spans[i + 1][2]) // 2 if i + 1 < len(spans) else x.size
            start, end = _widened(start, end, int(ALIGNED_MIN_CLOSURE_S * sample_rate_hz), before, after)
        timings.append(PhonemeTiming(symbol, start, end))
    return timings


def _widened(start: int, end: int, least: int, before: int, after: int) -> tuple[int, int]:
    """A bilabial's span grown to ``least`` samples: earlier first (the lips close before the
    release into the next sound, which the alignment places best), then later, never past the
    centres of its neighbours (``before``, ``after``), so the vowel next to it stays open."""
    if end - start >= least:
        return start, end
    start = min(start, max(before, end - least))
    return start, max(end, min(after, start + least))


def transcribe(audio: np.ndarray, sample_rate_hz: int) -> str:
    """The words of an English recording by Whisper tiny.en (extra ``asr``); FaceError when it hears none."""
    from ..audio import prepare_array
    from ..errors import MissingExtraError
    from ..evaluation.asr import Transcriber

    try:
        transcriber = Transcriber()
    except MissingExtraError:
        raise MissingExtraError("Hearing the words of a recording (text \"auto\")", extra="asr") from None
    words = transcriber.transcribe(prepare_array(audio, sample_rate_hz, target_rate_hz=16_000).samples).strip()
    if not any(c.isalpha() for c in words):
        raise FaceError("no words were heard in the recording, so there is nothing to align; give them with --text")
    return words


def timings_from_words(audio: np.ndarray, sample_rate_hz: int, text: str) -> Sequence["PhonemeTiming"]:
    """``align_transcript`` for ``text``, or for the words the ASR hears when ``text`` is "auto"."""
    return align_transcript(audio, sample_rate_hz, transcribe(audio, sample_rate_hz) if text == "auto" else text)
