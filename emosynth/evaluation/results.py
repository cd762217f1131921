"""What an evaluation found: per-clip results and the summaries computed from them.

:meth:`EvaluationReport.build` turns per-clip results into every summary, so the summaries can
be recomputed (or tested) without audio or models.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..emotions import PRIMARY_EMOTIONS
from ..io import write_text_atomic
from ..recognizer import EmotionScores
from .metrics import EmotionAccuracy, intensity_monotonicity, json_float, pearson
from .quality import SpeechQuality
from .text import format_report

__all__ = ["ClipResult", "ClipError", "WerSummary", "SimilaritySummary", "QualitySummary", "EvaluationReport"]


@dataclass(frozen=True)
class ClipResult:
    """One judged clip: what was asked for, what the recognizer read, and the extra measures."""

    file: str
    speaker: str
    emotion: str  # the manifest's emotion
    intensity: float
    target: str  # what accuracy counts it as: the emotion, or neutral at intensity 0
    target_valence: float
    target_arousal: float
    scores: EmotionScores
    mode: str  # "speaker" (read against the speaker's neutral reference) or "plain"
    n_reference: int = 0  # neutral clips in that reference
    transcript: str | None = None
    word_errors: int | None = None
    n_words: int | None = None  # words in the normalised reference text
    similarity: float | None = None  # cosine to the mean voice of the speaker's neutral clips
    quality: SpeechQuality | None = None  # predicted opinion scores (DNSMOS)

    @property
    def wer(self) -> float | None:
        return self.word_errors / self.n_words if self.word_errors is not None and self.n_words else None

    def to_dict(self) -> dict:
        scores = self.scores.to_dict()
        return {
            "file": self.file, "speaker": self.speaker, "emotion": self.emotion,
            "intensity": self.intensity, "target": self.target,
            "label": scores["label"], "confidence": scores["confidence"],
            "probabilities": scores["probabilities"],
            "valence": scores["valence"], "arousal": scores["arousal"],
            "target_valence": json_float(self.target_valence),
            "target_arousal": json_float(self.target_arousal),
            "mode": self.mode, "n_reference": self.n_reference,
            "transcript": self.transcript, "word_errors": self.word_errors, "n_words": self.n_words,
            "wer": json_float(self.wer), "similarity": json_float(self.similarity),
            "quality": self.quality.to_dict() if self.quality else None,
        }


@dataclass(frozen=True)
class ClipError:
    """A clip that could not be judged, and why."""

    file: str
    reason: str


def _by(items: Iterable, key: Callable) -> dict:
    groups = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return groups


def _ordered(values: dict[str, float]) -> dict[str, float]:
    """``values`` in ``PRIMARY_EMOTIONS`` order."""
    return {e: values[e] for e in PRIMARY_EMOTIONS if e in values}


def _pooled_wer(clips: Sequence[ClipResult]) -> float:
    """Sum of word errors over sum of reference words."""
    words = sum(c.n_words for c in clips)
    return sum(c.word_errors for c in clips) / words if words else math.nan


def _delta_to_own_neutral(clips: Sequence[ClipResult], measure: Callable[[Sequence[ClipResult]], float]) -> dict[str, float]:
    """Per target: the mean, over speakers with clips of it and neutral clips, of ``measure`` on
    the speaker's clips of that target minus ``measure`` on their neutral clips."""
    deltas = defaultdict(list)
    for speaker_clips in _by(clips, lambda c: c.speaker).values():
        by_target = _by(speaker_clips, lambda c: c.target)
        if "neutral" in by_target:
            baseline = measure(by_target["neutral"])
            for e, group in by_target.items():
                deltas[e].append(measure(group) - baseline)
    return _ordered({e: float(np.mean(d)) for e, d in deltas.items()})


@dataclass(frozen=True)
class WerSummary:
    """Word error rates over the clips with a reference text, pooled (errors / words).

    ``delta_to_neutral[e]`` is the mean, over speakers with both ``e`` and neutral clips, of the
    speaker's WER on ``e`` minus their WER on neutral: how much the emotion costs intelligibility.
    """

    corpus: float
    n_clips: int
    n_words: int
    per_emotion: dict[str, float]
    delta_to_neutral: dict[str, float]

    @classmethod
    def from_clips(cls, clips: Sequence[ClipResult]) -> "WerSummary":
        measured = [c for c in clips if c.n_words]
        per_emotion = {e: _pooled_wer(g) for e, g in _by(measured, lambda c: c.target).items()}
        return cls(
            corpus=_pooled_wer(measured), n_clips=len(measured),
            n_words=sum(c.n_words for c in measured), per_emotion=_ordered(per_emotion),
            delta_to_neutral=_delta_to_own_neutral(measured, _pooled_wer),
        )

    def to_dict(self) -> dict:
        return {"corpus": json_float(self.corpus), "n_clips": self.n_clips, "n_words": self.n_words,
                "per_emotion": {e: json_float(v) for e, v in self.per_emotion.items()},
                "delta_to_neutral": {e: json_float(v) for e, v in self.delta_to_neutral.items()}}


@dataclass(frozen=True)
class SimilaritySummary:
    """Cosine similarity of non-neutral clips to their speaker's neutral voice (mean embedding)."""

    mean: float
    n_clips: int
    per_emotion: dict[str, float]

    @classmethod
    def from_clips(cls, clips: Sequence[ClipResult]) -> "SimilaritySummary":
        measured = [c for c in clips if c.similarity is not None]
        groups = _by(measured, lambda c: c.target)
        return cls(
            mean=float(np.mean([c.similarity for c in measured])) if measured else math.nan,
            n_clips=len(measured),
            per_emotion=_ordered({e: float(np.mean([c.similarity for c in g])) for e, g in groups.items()}),
        )

    def to_dict(self) -> dict:
        return {"mean": json_float(self.mean), "n_clips": self.n_clips,
                "per_emotion": {e: json_float(v) for e, v in self.per_emotion.items()}}


@dataclass(frozen=True)
class QualitySummary:
    """Predicted opinion scores (DNSMOS, 1-5) per target emotion.

    ``overall_delta_to_neutral[e]`` is the mean, over speakers with both ``e`` and neutral clips,
    of the speaker's mean OVRL on ``e`` minus on neutral: what the emotion costs in quality.
    """

    overall: float  # mean OVRL over all clips
    n_clips: int
    per_emotion: dict[str, dict[str, float]]  # target -> mean overall, signal, background, p808
    overall_delta_to_neutral: dict[str, float]

    @classmethod
    def from_clips(cls, clips: Sequence[ClipResult]) -> "QualitySummary":
        measured = [c for c in clips if c.quality is not None]
        per_emotion = {e: {k: float(np.mean([getattr(c.quality, k) for c in g]))
                           for k in ("overall", "signal", "background", "p808")}
                       for e, g in _by(measured, lambda c: c.target).items()}
        return cls(
            overall=float(np.mean([c.quality.overall for c in measured])) if measured else math.nan,
            n_clips=len(measured), per_emotion=_ordered(per_emotion),
            overall_delta_to_neutral=_delta_to_own_neutral(
                measured, lambda group: float(np.mean([c.quality.overall for c in group]))),
        )

    def to_dict(self) -> dict:
        return {"overall": json_float(self.overall), "n_clips": self.n_clips,
                "per_emotion": {e: {k: json_float(v) for k, v in s.items()} for e, s in self.per_emotion.items()},
                "overall_delta_to_neutral": {e: json_float(v) for e, v in self.overall_delta_to_neutral.items()}}


def _monotonicity(clips: Sequence[ClipResult]) -> dict[str, float]:
    """Spearman rho of intensity vs the emotion's probability, for each non-neutral emotion
    asked for at three or more distinct intensities."""
    out = {}
    for emotion, group in _by(clips, lambda c: c.emotion).items():
        if emotion != "neutral" and len({c.intensity for c in group}) >= 3:
            out[emotion] = intensity_monotonicity([c.intensity for c in group],
                                                  [c.scores.probabilities[emotion] for c in group])
    return _ordered(out)


@dataclass(frozen=True)
class EvaluationReport:
    """Everything one evaluation found. Build it with :meth:`build`."""

    clips: tuple[ClipResult, ...]
    errors: tuple[ClipError, ...]
    accuracy: EmotionAccuracy  # over the scored clips; ua and wa are nan when there are none
    monotonicity: dict[str, float]  # emotion -> Spearman rho
    mean_monotonicity: float
    valence_r: float
    arousal_r: float
    wer: WerSummary | None  # None unless transcription was asked for
    similarity: SimilaritySummary | None  # None unless speaker similarity was asked for
    quality: QualitySummary | None = None  # None unless quality was asked for

    @classmethod
    def build(cls, clips: Sequence[ClipResult], errors: Sequence[ClipError] = (), *,
              with_asr: bool = False, with_speaker: bool = False, with_quality: bool = False) -> "EvaluationReport":
        """Compute every summary from per-clip results."""
        monotonicity = _monotonicity(clips)
        finite = [v for v in monotonicity.values() if math.isfinite(v)]
        accuracy = EmotionAccuracy.from_labels([c.target for c in clips],
                                               [c.scores.label for c in clips], PRIMARY_EMOTIONS)
        return cls(
            clips=tuple(clips), errors=tuple(errors), accuracy=accuracy,
            monotonicity=monotonicity, mean_monotonicity=float(np.mean(finite)) if finite else math.nan,
            valence_r=pearson([c.target_valence for c in clips], [c.scores.valence for c in clips]),
            arousal_r=pearson([c.target_arousal for c in clips], [c.scores.arousal for c in clips]),
            wer=WerSummary.from_clips(clips) if with_asr else None,
            similarity=SimilaritySummary.from_clips(clips) if with_speaker else None,
            quality=QualitySummary.from_clips(clips) if with_quality else None,
        )

    @property
    def n_clips(self) -> int:
        """Rows evaluated: scored clips plus errors."""
        return len(self.clips) + len(self.errors)

    @property
    def n_errors(self) -> int:
        return len(self.errors)

    def to_dict(self) -> dict:
        """Plain JSON-ready data; undefined numbers (nan) become None."""
        modes = _by(self.clips, lambda c: c.mode)
        return {
            "n_clips": self.n_clips, "n_scored": len(self.clips), "n_errors": self.n_errors,
            "errors": [{"file": e.file, "reason": e.reason} for e in self.errors],
            "modes": {m: len(g) for m, g in sorted(modes.items())},
            "accuracy": self.accuracy.to_dict(),
            "monotonicity": {e: json_float(v) for e, v in self.monotonicity.items()},
            "mean_monotonicity": json_float(self.mean_monotonicity),
            "valence_r": json_float(self.valence_r), "arousal_r": json_float(self.arousal_r),
            "wer": self.wer.to_dict() if self.wer else None,
            "similarity": self.similarity.to_dict() if self.similarity else None,
            "quality": self.quality.to_dict() if self.quality else None,
            "clips": [c.to_dict() for c in self.clips],
        }

    def save_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` as indented JSON, atomically."""
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")

    def format_text(self, *, per_clip: bool = False) -> str:
        """A readable multi-line summary; ``per_clip`` adds one line per clip."""
        return format_report(self, per_clip=per_clip)
