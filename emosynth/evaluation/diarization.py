"""Emotion diarization error rate (EDER): how much of a recording's time an emotion timeline got wrong.

Defined by Wang et al. (2023), "Speech Emotion Diarization: Which Emotion Appears When?" (ASRU
2023; SpeechBrain's ZaionEmotionDataset recipe), by analogy with the diarization error rate:

    EDER = (missed emotion + false alarm + overlap + confusion) / duration of the utterance

measured over time against reference segments. At every instant the reference holds one emotion
or none (time outside every reference segment is "no emotion") and the hypothesis holds a set of
labels, of which the ones in ``no_emotion`` (by default ``silence``) do not count as emotions:

* missed emotion: the reference has an emotion, the hypothesis none;
* false alarm: the reference has none, the hypothesis has one or more;
* overlap: the hypothesis has the reference's emotion and another one besides;
* confusion: the hypothesis has emotions, none of them the reference's.

Each instant is at most one of these, so EDER lies in [0, 1]; with one hypothesis label at a time
it is 1 - (the share of the time labelled correctly), the quantity SpeechBrain's recipe computes.
The sums are exact: the time axis is cut at every segment boundary and each piece, on which
nothing changes, is judged whole (the limit of an ever finer time grid).

In Wang et al.'s corpus the emotional segments sit in otherwise neutral speech, and a neutral
prediction counts as "no emotion". ``no_emotion=("silence", "neutral")`` scores that way;
the default keeps neutral as an emotion of its own, as emosynth's seven primaries do.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DiarizationErrors", "emotion_diarization_errors", "emotion_diarization_error_rate"]


@dataclass(frozen=True)
class DiarizationErrors:
    """The seconds of each kind of error over ``duration_s``; ``eder`` is their sum's share."""

    missed_s: float
    false_alarm_s: float
    overlap_s: float
    confusion_s: float
    duration_s: float

    @property
    def error_s(self) -> float:
        return self.missed_s + self.false_alarm_s + self.overlap_s + self.confusion_s

    @property
    def eder(self) -> float:
        return self.error_s / self.duration_s

    def to_dict(self) -> dict:
        return {"eder": round(self.eder, 4), "missed_s": round(self.missed_s, 3),
                "false_alarm_s": round(self.false_alarm_s, 3), "overlap_s": round(self.overlap_s, 3),
                "confusion_s": round(self.confusion_s, 3), "duration_s": round(self.duration_s, 3)}


def _spans(segments: Sequence[Any], what: str, duration_s: float) -> list[tuple[float, float, str]]:
    """(start, end, label) of segments given as objects with start_s/end_s/label or as tuples,
    clipped to [0, duration_s]; empty ones dropped."""
    out = []
    for s in segments:
        start, end, label = (s.start_s, s.end_s, s.label) if hasattr(s, "start_s") else s
        if end < start:
            raise ValueError(f"{what} segment {label!r} ends ({end}) before it starts ({start})")
        start, end = max(0.0, float(start)), min(duration_s, float(end))
        if end > start:
            out.append((start, end, str(label)))
    return out


def emotion_diarization_errors(
    reference: Sequence[Any],
    hypothesis: Sequence[Any],
    duration_s: float,
    *,
    no_emotion: Collection[str] = ("silence",),
) -> DiarizationErrors:
    """Missed, false-alarm, overlap and confusion time of ``hypothesis`` against ``reference``.

    Segments are ``(start_s, end_s, label)`` tuples or objects with those attributes
    (``TimelineSegment``). Reference segments may not overlap one another; hypothesis segments
    may. Both are clipped to the utterance, ``[0, duration_s]``. Raises ``ValueError`` for a
    non-positive duration, a segment that ends before it starts, or overlapping references.
    """
    if not duration_s > 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    ref = [s for s in _spans(reference, "reference", duration_s) if s[2] not in no_emotion]
    hyp = [s for s in _spans(hypothesis, "hypothesis", duration_s) if s[2] not in no_emotion]
    ordered = sorted(ref)
    for (a0, a1, la), (b0, b1, lb) in zip(ordered, ordered[1:]):
        if b0 < a1:
            raise ValueError(f"reference segments overlap: {la!r} [{a0}, {a1}) and {lb!r} [{b0}, {b1})")
    cuts = np.unique([0.0, duration_s, *(t for s in ref + hyp for t in s[:2])])
    missed = false_alarm = overlap = confusion = 0.0
    for a, b in zip(cuts[:-1], cuts[1:]):
        mid, length = (a + b) / 2, float(b - a)
        truth = next((label for s, e, label in ref if s <= mid < e), None)
        heard = {label for s, e, label in hyp if s <= mid < e}
        if truth is None:
            false_alarm += length if heard else 0.0
        elif not heard:
            missed += length
        elif truth not in heard:
            confusion += length
        elif len(heard) > 1:
            overlap += length
    return DiarizationErrors(missed, false_alarm, overlap, confusion, float(duration_s))


def emotion_diarization_error_rate(reference: Sequence[Any], hypothesis: Sequence[Any], duration_s: float, *,
                                   no_emotion: Collection[str] = ("silence",)) -> float:
    """EDER in [0, 1] (see :func:`emotion_diarization_errors`)."""
    return emotion_diarization_errors(reference, hypothesis, duration_s, no_emotion=no_emotion).eder
