"""Which emotion is heard when: an emotion timeline (speech emotion diarization) of a recording.

>>> timeline = Recognizer.load().timeline("interview.flac")        # doctest: +SKIP
>>> for s in timeline.segments:                                     # doctest: +SKIP
...     print(s.start_s, s.end_s, s.label, s.confidence)

How it works (docs/timeline.md has the measurements behind each choice):

1. The file streams through in blocks (:class:`~emosynth.audio_stream.AudioStream`), mixed to mono
   and resampled to 16 kHz, so an hour of audio never sits in memory.
2. Overlapping windows (``window_s`` long, every ``hop_s``) are read by the recognizer as clips of
   their own (``Recognizer.features`` + ``score_features``), optionally relative to a neutral
   reference of the speaker. Only the seven probabilities of each window are kept.
3. Speech activity comes from the energy of 20 ms frames, judged against the file's own noise
   floor, so a quiet hiss is not speech. Pauses of at least ``min_silence_s`` are silence; windows
   that hold little speech are not trusted to say which emotion is heard.
4. The windows' probabilities are smoothed over time (by default a centred moving average over
   ``average_windows`` windows; or a Viterbi pass that pays ``switch_penalty`` nats for every change
   of emotion) and each window's label holds from the midpoint between its centre and the previous
   window's to the midpoint with the next one's.
   Silence is laid over the result, and the runs become :class:`TimelineSegment`\\ s.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..audio import SILENCE_PEAK, Audio
from ..audio_stream import AudioStream
from ..emotions import PRIMARY_EMOTIONS
from .features import FEATURE_SAMPLE_RATE_HZ
from .timeline_output import TimelineOutputs

if TYPE_CHECKING:
    from .model import SpeakerReference
    from .recognizer import EmotionScores

__all__ = [
    "SILENCE",
    "TIMELINE_LABELS",
    "SMOOTHINGS",
    "EmotionTimeline",
    "TimelineSegment",
    "TimelineSettings",
    "WindowReadings",
    "build_timeline",
    "emotion_timeline",
    "frame_levels_db",
    "read_windows",
    "speech_frames",
]

#: The label of a stretch with no speech in it.
SILENCE = "silence"
#: Every label a timeline segment can carry.
TIMELINE_LABELS: tuple[str, ...] = (*PRIMARY_EMOTIONS, SILENCE)
#: How window readings can be smoothed over time.
SMOOTHINGS = ("viterbi", "average", "none")

FRAME_S = 0.02  # speech activity is judged per 20 ms frame
_FRAME = int(FRAME_S * FEATURE_SAMPLE_RATE_HZ)
_ABSOLUTE_FLOOR_DB = -70.0  # frames quieter than this (RMS, dBFS) are never speech
_SPEECH_MARGIN_DB = 10.0  # speech stands at least this far above the noise floor ...
_MAX_MARGIN_SHARE = 0.5  # ... or half the way to the loud frames, when the file's range is narrow
_MIN_RANGE_DB = 6.0  # a file whose level hardly moves (hiss, hum) holds no speech
_MIN_SPEECH_RUN_S = 0.15  # shorter bursts of energy (clicks, a door) in a pause are not speech
_MIN_FRAGMENT_S = 0.25  # shorter emotion pieces left between other segments join a neighbour
_SCORE_BATCH = 32  # windows scored together; only their probabilities are kept


@dataclass(frozen=True)
class TimelineSettings:
    """How a timeline is read; the defaults are the ones docs/timeline.md measured best."""

    window_s: float = 2.0  # each window is read as a clip of this length
    hop_s: float = 0.5  # a new window starts this often
    smoothing: str = "average"  # one of SMOOTHINGS
    average_windows: int = 5  # average: windows in the centred moving average
    switch_penalty: float = 4.0  # viterbi: nats a change of emotion costs
    min_silence_s: float = 1.0  # shorter pauses belong to the speech around them
    min_speech_share: float = 0.25  # windows with less speech than this do not vote on the emotion

    def __post_init__(self) -> None:
        if not 0.5 <= self.window_s <= 30.0:
            raise ValueError(f"window_s must be between 0.5 and 30 s, got {self.window_s}")
        if not 0.05 <= self.hop_s <= self.window_s:
            raise ValueError(f"hop_s must be between 0.05 s and window_s ({self.window_s}), got {self.hop_s}")
        if self.smoothing not in SMOOTHINGS:
            raise ValueError(f"unknown smoothing {self.smoothing!r}; known: {', '.join(SMOOTHINGS)}")
        if self.switch_penalty < 0 or self.average_windows < 1 or self.min_silence_s <= 0:
            raise ValueError("switch_penalty must be >= 0, average_windows >= 1 and min_silence_s > 0")
        if not 0.0 <= self.min_speech_share <= 1.0:
            raise ValueError(f"min_speech_share must lie in [0, 1], got {self.min_speech_share}")


@dataclass(frozen=True)
class TimelineSegment:
    """One stretch of the timeline: ``label`` (a primary or "silence") from ``start_s`` to ``end_s``.

    ``confidence`` is, for an emotion, the mean probability the windows that cover the segment gave
    that emotion; for silence, the share of the segment's frames that hold no speech.
    """

    start_s: float
    end_s: float
    label: str
    confidence: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3), "label": self.label,
                "confidence": round(self.confidence, 4)}


@dataclass(frozen=True)
class WindowReadings:
    """What one pass over a recording measured, before any smoothing (see :func:`read_windows`)."""

    starts_s: np.ndarray  # (n,) where each window starts
    lengths_s: np.ndarray  # (n,) each window's length (window_s, or the file when it is shorter)
    probabilities: np.ndarray  # (n, 7) PRIMARY_EMOTIONS order; NaN rows for windows too quiet to read
    frame_levels_db: np.ndarray  # (m,) RMS level of every 20 ms frame, dBFS
    duration_s: float
    window_s: float
    hop_s: float
    speaker_normalised: bool
    source: str


@dataclass(frozen=True)
class EmotionTimeline(TimelineOutputs):
    """Segments covering a recording from 0 to ``duration_s`` without gaps or overlaps, plus the
    windows they came from. Written by :meth:`save_json`, :meth:`save_csv` and :meth:`save_png`."""

    segments: tuple[TimelineSegment, ...]
    duration_s: float
    window_s: float
    hop_s: float
    smoothing: str
    speaker_normalised: bool
    source: str
    window_centres_s: np.ndarray  # (n,)
    window_probabilities: np.ndarray  # (n, 7), NaN rows for windows not read
    window_speech_share: np.ndarray  # (n,) share of each window's frames that hold speech
    window_trusted: np.ndarray  # (n,) bool: read, and with enough speech to vote on the emotion

    def label_at(self, time_s: float) -> str:
        """The label of the segment holding ``time_s`` (the last segment holds the very end)."""
        for segment in self.segments:
            if time_s < segment.end_s:
                return segment.label
        return self.segments[-1].label

    def to_dict(self, *, windows: bool = False) -> dict:
        """JSON-ready form; ``windows`` adds every window's centre, speech share and probabilities."""
        out = {"source": self.source, "duration_s": round(self.duration_s, 3), "window_s": self.window_s,
               "hop_s": self.hop_s, "smoothing": self.smoothing, "speaker_normalised": self.speaker_normalised,
               "labels": list(TIMELINE_LABELS), "segments": [s.to_dict() for s in self.segments]}
        if windows:
            out["windows"] = [
                {"centre_s": round(float(c), 3), "speech_share": round(float(share), 3), "trusted": bool(trusted),
                 "probabilities": None if np.isnan(p).any() else
                 {e: round(float(v), 4) for e, v in zip(PRIMARY_EMOTIONS, p)}}
                for c, share, trusted, p in zip(self.window_centres_s, self.window_speech_share,
                                                self.window_trusted, self.window_probabilities)]
        return out


class WindowScorer(Protocol):
    """What a timeline needs of a recognizer (``Recognizer`` is one)."""

    def features(self, audio: Audio) -> np.ndarray: ...

    def score_features(self, features: np.ndarray, *, reference: "SpeakerReference | None" = None
                       ) -> "list[EmotionScores]": ...


# -- one pass over the recording ----------------------------------------------------------------
def read_windows(
    source: Audio | str | os.PathLike[str],
    scorer: WindowScorer,
    *,
    window_s: float = TimelineSettings.window_s,
    hop_s: float = TimelineSettings.hop_s,
    reference: "SpeakerReference | None" = None,
    progress: bool = False,
) -> WindowReadings:
    """Stream ``source`` once: every window's probabilities and every frame's level.

    Memory holds one block of audio, one window and the scores of ``_SCORE_BATCH`` windows, plus 7
    probabilities per window and one level per 20 ms frame (about 3 MB an hour). Raises
    :class:`AudioError` for a file that cannot be used, as ``load_audio`` would.
    """
    from tqdm import tqdm

    TimelineSettings(window_s=window_s, hop_s=hop_s)  # checks the two
    rate = FEATURE_SAMPLE_RATE_HZ
    stream = AudioStream(source, target_rate_hz=rate)
    window, hop = int(round(window_s * rate)), int(round(hop_s * rate))
    reader = _WindowReader(scorer, reference)
    held = np.zeros(0, dtype=np.float32)  # the stream from sample `held_from` on
    held_from, next_start, n_seen = 0, 0, 0
    levels, carry = [], np.zeros(0, dtype=np.float32)
    with tqdm(total=round(stream.info.duration_s, 1), unit="s", desc="timeline", disable=not progress,
              bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]") as bar:
        for block in stream:
            n_seen += len(block)
            frames = np.concatenate([carry, block])
            n_whole = len(frames) // _FRAME * _FRAME
            levels.append(frame_levels_db(frames[:n_whole]))
            carry = frames[n_whole:]
            held = np.concatenate([held, block])
            while next_start + window <= n_seen:
                reader.add(next_start, held[next_start - held_from:next_start - held_from + window])
                next_start += hop
            # Keep what the next window, or a last window ending at the file's end, may need.
            keep_from = max(0, min(next_start, n_seen - window))
            held, held_from = held[keep_from - held_from:], keep_from
            bar.update(min(len(block) / rate, bar.total - bar.n))
    if len(carry):
        levels.append(frame_levels_db(carry))
    if next_start == 0:  # shorter than one window: the whole file is the window
        reader.add(0, held[:n_seen])
    elif next_start - hop + window < n_seen:  # the windows stopped short of the end: one more, ending there
        reader.add(n_seen - window, held[n_seen - window - held_from:])
    starts, lengths, probabilities = reader.finish()
    return WindowReadings(
        starts_s=starts / rate, lengths_s=lengths / rate, probabilities=probabilities,
        frame_levels_db=np.concatenate(levels), duration_s=n_seen / rate, window_s=window_s, hop_s=hop_s,
        speaker_normalised=reference is not None, source=stream.info.name)


class _WindowReader:
    """Scores windows in small batches and keeps only their probabilities."""

    def __init__(self, scorer: WindowScorer, reference: "SpeakerReference | None") -> None:
        self.scorer, self.reference = scorer, reference
        self.starts: list[int] = []
        self.lengths: list[int] = []
        self.rows: list[np.ndarray] = []
        self._features: list[np.ndarray] = []
        self._feature_rows: list[int] = []

    def add(self, start: int, samples: np.ndarray) -> None:
        self.starts.append(start)
        self.lengths.append(len(samples))
        self.rows.append(np.full(len(PRIMARY_EMOTIONS), np.nan))
        if float(np.max(np.abs(samples))) < SILENCE_PEAK:  # nothing to read; saves the encoder's time
            return
        self._features.append(self.scorer.features(Audio(np.ascontiguousarray(samples), FEATURE_SAMPLE_RATE_HZ)))
        self._feature_rows.append(len(self.rows) - 1)
        if len(self._features) >= _SCORE_BATCH:
            self._score()

    def _score(self) -> None:
        if self._features:
            scores = self.scorer.score_features(np.stack(self._features), reference=self.reference)
            for row, s in zip(self._feature_rows, scores):
                self.rows[row] = s.probability_vector()
        self._features, self._feature_rows = [], []

    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._score()
        return np.array(self.starts, dtype=np.float64), np.array(self.lengths, dtype=np.float64), np.stack(self.rows)


def frame_levels_db(samples: np.ndarray) -> np.ndarray:
    """RMS level in dBFS of each 20 ms frame (a last partial frame counts as one)."""
    if len(samples) == 0:
        return np.zeros(0, dtype=np.float32)
    n = -(-len(samples) // _FRAME)
    padded = np.zeros(n * _FRAME, dtype=np.float64)
    padded[:len(samples)] = samples
    power = (padded.reshape(n, _FRAME) ** 2).sum(axis=1) / np.minimum(_FRAME, len(samples) - np.arange(n) * _FRAME)
    return (10.0 * np.log10(power + 1e-12)).astype(np.float32)


# -- from readings to segments ------------------------------------------------------------------
def speech_frames(levels_db: np.ndarray) -> np.ndarray:
    """Which 20 ms frames hold speech, shape (m,) bool, from their levels alone.

    The noise floor is the 10th percentile of the frames' levels (digital zeros left out) and the
    speech level the 99th; a frame is speech when it stands ``_SPEECH_MARGIN_DB`` above the floor
    (or half the way to the speech level when the file's range is narrower) and above -70 dBFS;
    a file whose levels span less than 6 dB (steady hiss or hum) has none.
    Bursts shorter than 0.15 s between non-speech frames are dropped. Soft speech matters: acted
    neutral or sad speech can sit 40 dB below shouted anger in the same file, so the threshold
    follows the floor, not the loudest speech.
    """
    levels = np.asarray(levels_db, dtype=np.float64)
    audible = levels[levels > -100.0]
    if audible.size == 0:
        return np.zeros(len(levels), dtype=bool)
    floor, loud = np.percentile(audible, [10, 99])
    if loud - floor < _MIN_RANGE_DB:
        return np.zeros(len(levels), dtype=bool)
    threshold = max(_ABSOLUTE_FLOOR_DB, floor + min(_SPEECH_MARGIN_DB, _MAX_MARGIN_SHARE * (loud - floor)))
    speech = levels > threshold
    for start, end, is_speech in _runs(speech):
        if is_speech and (end - start) * FRAME_S < _MIN_SPEECH_RUN_S:
            speech[start:end] = False
    return speech


def _runs(flags: np.ndarray) -> list[tuple[int, int, bool]]:
    """(start, end, value) of each run of equal values."""
    if len(flags) == 0:
        return []
    edges = np.flatnonzero(np.diff(flags.astype(np.int8))) + 1
    bounds = [0, *edges.tolist(), len(flags)]
    return [(a, b, bool(flags[a])) for a, b in zip(bounds[:-1], bounds[1:])]


def _silences(speech: np.ndarray, duration_s: float, min_silence_s: float) -> list[tuple[float, float]]:
    """(start, end) in seconds of the runs without speech that last at least ``min_silence_s``."""
    return [(a * FRAME_S, min(b * FRAME_S, duration_s)) for a, b, is_speech in _runs(speech)
            if not is_speech and min(b * FRAME_S, duration_s) - a * FRAME_S >= min_silence_s]


def _window_speech_share(readings: WindowReadings, speech: np.ndarray) -> np.ndarray:
    """Share of each window's frames that hold speech, shape (n,)."""
    first = np.round(readings.starts_s / FRAME_S).astype(np.int64)
    last = np.maximum(np.round((readings.starts_s + readings.lengths_s) / FRAME_S).astype(np.int64), first + 1)
    counts = np.concatenate([[0], np.cumsum(speech, dtype=np.int64)])
    last = np.minimum(last, len(speech))
    return (counts[last] - counts[np.minimum(first, last)]) / np.maximum(last - first, 1)


def _fill_from_nearest(p: np.ndarray, trusted: np.ndarray) -> np.ndarray:
    """Rows not trusted take the nearest trusted row's values."""
    idx = np.flatnonzero(trusted)
    positions = np.arange(len(p))
    after = idx[np.clip(np.searchsorted(idx, positions), 0, len(idx) - 1)]
    before = idx[np.clip(np.searchsorted(idx, positions, side="right") - 1, 0, len(idx) - 1)]
    nearest = np.where(np.abs(after - positions) < np.abs(positions - before), after, before)
    return p[nearest]


def _viterbi(log_emissions: np.ndarray, switch_penalty: float) -> np.ndarray:
    """The label path maximising the summed log emissions minus ``switch_penalty`` per change."""
    n, k = log_emissions.shape
    score = log_emissions[0].copy()
    back = np.zeros((n, k), dtype=np.int64)
    for t in range(1, n):
        best = int(np.argmax(score))
        switch = score[best] - switch_penalty > score
        back[t] = np.where(switch, best, np.arange(k))
        score = np.where(switch, score[best] - switch_penalty, score) + log_emissions[t]
    path = np.zeros(n, dtype=np.int64)
    path[-1] = int(np.argmax(score))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _window_labels(p: np.ndarray, trusted: np.ndarray, settings: TimelineSettings) -> np.ndarray:
    """One emotion index per window, smoothed over time as ``settings`` says."""
    if settings.smoothing == "viterbi":
        # Windows that are not trusted say nothing (a flat emission): the path carries on through them.
        log_e = np.where(trusted[:, None], np.log(np.clip(np.nan_to_num(p, nan=1.0), 1e-6, 1.0)), 0.0)
        return _viterbi(log_e, settings.switch_penalty)
    filled = _fill_from_nearest(p, trusted)
    if settings.smoothing == "average":
        from scipy.ndimage import uniform_filter1d

        filled = uniform_filter1d(filled, size=settings.average_windows, axis=0, mode="nearest")
    return np.argmax(filled, axis=1)


def build_timeline(readings: WindowReadings, settings: TimelineSettings | None = None) -> EmotionTimeline:
    """Segments from one pass's readings (cheap: the smoothing can be varied without rereading)."""
    settings = settings or TimelineSettings(window_s=readings.window_s, hop_s=readings.hop_s)
    speech = speech_frames(readings.frame_levels_db)
    silences = _silences(speech, readings.duration_s, settings.min_silence_s)
    if not speech.any():  # no speech anywhere: all of it is silence, however short the file
        silences = [(0.0, readings.duration_s)]
    share = _window_speech_share(readings, speech)
    p = readings.probabilities
    scored = ~np.isnan(p).any(axis=1)
    trusted = scored & (share >= settings.min_speech_share)
    if not trusted.any():  # too little speech anywhere to be picky: every window read votes
        trusted = scored
    centres = readings.starts_s + readings.lengths_s / 2
    # Each window owns the time from the midpoint with its predecessor to the midpoint with its successor.
    edges = np.concatenate([[0.0], (centres[:-1] + centres[1:]) / 2, [readings.duration_s]])
    if trusted.any():
        labels = [PRIMARY_EMOTIONS[i] for i in _window_labels(p, trusted, settings)]
    else:  # nothing could be read at all: the file is silence throughout
        labels = [SILENCE] * len(centres)
    pieces = _overlay_silence(edges, labels, silences)
    pieces = _absorb_fragments(_merge(pieces))
    segments = tuple(
        TimelineSegment(a, b, label, _confidence(a, b, label, edges, p, trusted, speech))
        for a, b, label in _merge(pieces))
    return EmotionTimeline(
        segments=segments, duration_s=readings.duration_s, window_s=readings.window_s, hop_s=readings.hop_s,
        smoothing=settings.smoothing, speaker_normalised=readings.speaker_normalised, source=readings.source,
        window_centres_s=centres, window_probabilities=p, window_speech_share=share, window_trusted=trusted)


def _overlay_silence(edges: np.ndarray, labels: Sequence[str],
                     silences: list[tuple[float, float]]) -> list[tuple[float, float, str]]:
    """(start, end, label) pieces: the windows' labels, with the silences cut in."""
    cuts = np.unique(np.concatenate([edges, np.array([t for s in silences for t in s], dtype=np.float64)]))
    cuts = cuts[(cuts >= 0) & (cuts <= edges[-1])]
    pieces = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        if b - a <= 1e-9:
            continue
        mid = (a + b) / 2
        if any(s <= mid < e for s, e in silences):
            pieces.append((float(a), float(b), SILENCE))
        else:
            owner = min(int(np.searchsorted(edges, mid, side="right")) - 1, len(labels) - 1)
            pieces.append((float(a), float(b), labels[owner]))
    return pieces


def _merge(pieces: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    merged: list[tuple[float, float, str]] = []
    for a, b, label in pieces:
        if merged and merged[-1][2] == label:
            merged[-1] = (merged[-1][0], b, label)
        else:
            merged.append((a, b, label))
    return merged


def _absorb_fragments(pieces: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Emotion pieces shorter than ``_MIN_FRAGMENT_S`` (left where a silence cut a window's share)
    take the label of their longer emotional neighbour; beside silence only, they stay."""
    out = list(pieces)
    for i, (a, b, label) in enumerate(out):
        if label == SILENCE or b - a >= _MIN_FRAGMENT_S:
            continue
        neighbours = [out[j] for j in (i - 1, i + 1) if 0 <= j < len(out) and out[j][2] != SILENCE]
        if neighbours:
            out[i] = (a, b, max(neighbours, key=lambda n: n[1] - n[0])[2])
    return out


def _confidence(a: float, b: float, label: str, edges: np.ndarray, p: np.ndarray, trusted: np.ndarray,
                speech: np.ndarray) -> float:
    """Mean probability of ``label`` over the trusted windows owning [a, b), weighted by the time
    each owns; for silence, the share of its frames without speech."""
    if label == SILENCE:
        frames = speech[int(round(a / FRAME_S)):max(int(round(b / FRAME_S)), int(round(a / FRAME_S)) + 1)]
        return float(1.0 - frames.mean()) if len(frames) else 1.0
    overlap = np.clip(np.minimum(edges[1:], b) - np.maximum(edges[:-1], a), 0.0, None) * trusted
    if overlap.sum() <= 0:
        return 0.0
    k = PRIMARY_EMOTIONS.index(label)
    return float(np.nansum(overlap * p[:, k]) / overlap.sum())


def emotion_timeline(
    source: Audio | str | os.PathLike[str],
    scorer: WindowScorer,
    *,
    settings: TimelineSettings | None = None,
    reference: "SpeakerReference | None" = None,
    progress: bool = False,
) -> EmotionTimeline:
    """The emotion timeline of a file (WAV, FLAC, MP3, OGG; any rate; mono or stereo) or a clip.

    ``scorer`` is a :class:`~emosynth.recognizer.Recognizer`; ``reference`` reads every window
    relative to that speaker's neutral; ``progress`` shows a bar over the file's seconds.
    """
    settings = settings or TimelineSettings()
    readings = read_windows(source, scorer, window_s=settings.window_s, hop_s=settings.hop_s,
                            reference=reference, progress=progress)
    return build_timeline(readings, settings)
