"""The evaluation harness: judge a folder of (synthetic) emotional speech against its manifest.

>>> rows = read_manifest("manifest.csv", "clips/")                   # doctest: +SKIP
>>> report = evaluate(rows, recognizer=Recognizer.load(), with_asr=True)  # doctest: +SKIP
>>> print(report.format_text())                                       # doctest: +SKIP
>>> report.save_json("report.json")                                   # doctest: +SKIP
>>> save_confusion_png(report.accuracy.confusion, report.accuracy.labels, "confusion.png")  # doctest: +SKIP

Each clip is read once: features for the recognizer, a transcript (``with_asr``), a voice
embedding (``with_speaker``) and predicted quality scores (``with_quality``). Then each speaker's
clips are scored. When ``use_reference`` is on and the speaker has neutral clips (emotion
``neutral`` or intensity 0), the speaker-normalised classifier reads the clips against a
reference built from those neutral clips; a neutral clip is read against the speaker's *other*
neutral clips, so it is never its own reference, and plainly when there are none. Speakers
without neutral clips are read plainly.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from ..audio import load_audio
from ..errors import EmosynthError, MissingExtraError
from ..recognizer import EmotionScores, Recognizer
from .asr import Transcriber
from .manifest import ManifestRow, read_manifest
from .metrics import word_error_rate
from .plots import save_confusion_png
from .quality import QualityEstimator, SpeechQuality
from .results import ClipError, ClipResult, EvaluationReport
from .speaker import SpeakerEncoder, cosine_similarity

__all__ = ["evaluate", "read_manifest", "save_confusion_png", "EvaluationReport", "ManifestRow"]

_RATE_HZ = 16_000


@dataclass(frozen=True)
class _Measured:
    """What was read from one clip before scoring."""

    row: ManifestRow
    features: np.ndarray  # (F,)
    transcript: str | None = None
    word_errors: int | None = None
    n_words: int | None = None
    embedding: np.ndarray | None = None  # (256,)
    quality: SpeechQuality | None = None


def _measure(row: ManifestRow, recognizer: Recognizer, transcriber: Transcriber | None,
             encoder: SpeakerEncoder | None, quality: QualityEstimator | None) -> _Measured:
    audio = load_audio(row.path, target_rate_hz=_RATE_HZ)
    features = recognizer.features(audio)
    transcript = errors = words = None
    if transcriber is not None and row.text:
        transcript = transcriber.transcribe(audio.samples)
        errors, words = word_error_rate(row.text, transcript)
    embedding = encoder.embed(audio.samples) if encoder is not None else None
    scored_quality = quality.score(audio.samples) if quality is not None else None
    return _Measured(row, features, transcript, errors, words, embedding, scored_quality)


def _reason(row: ManifestRow, exc: Exception) -> str:
    """The error's message without the path prefix the row already names."""
    text = str(exc) or type(exc).__name__
    return text.removeprefix(f"{row.path}: ")


def _reference_groups(indices: list[int], neutral: list[int]) -> list[tuple[list[int], list[int]]]:
    """(clips, the neutral clips of their reference) for one speaker: the non-neutral clips share
    all neutral clips; each neutral clip gets the others."""
    others = [i for i in indices if i not in neutral]
    groups = [(others, neutral)] if others else []
    return groups + [([i], [j for j in neutral if j != i]) for i in neutral]


def _score(measured: Sequence[_Measured], recognizer: Recognizer,
           use_reference: bool) -> list[tuple[EmotionScores, str, int]]:
    """(scores, mode, reference size) for every measured clip, in order."""
    out: list = [None] * len(measured)
    by_speaker = defaultdict(list)
    for i, m in enumerate(measured):
        by_speaker[m.row.speaker].append(i)
    for indices in by_speaker.values():
        neutral = [i for i in indices if measured[i].row.target == "neutral"] if use_reference else []
        for group, ref in _reference_groups(indices, neutral):
            reference = None
            if ref:
                reference = recognizer.reference_from_features(np.stack([measured[j].features for j in ref]))
            scores = recognizer.score_features(np.stack([measured[i].features for i in group]),
                                               reference=reference)
            for i, s in zip(group, scores):
                out[i] = (s, "speaker" if ref else "plain", len(ref))
    return out


def _similarities(measured: Sequence[_Measured]) -> list[float | None]:
    """Cosine of each non-neutral clip's embedding to the mean embedding of its speaker's neutral
    clips; None for neutral clips and for speakers without neutral clips."""
    voices = defaultdict(list)
    for m in measured:
        if m.row.target == "neutral" and m.embedding is not None:
            voices[m.row.speaker].append(m.embedding)
    means = {s: np.mean(v, axis=0) for s, v in voices.items()}
    return [cosine_similarity(m.embedding, means[m.row.speaker])
            if m.row.target != "neutral" and m.embedding is not None and m.row.speaker in means else None
            for m in measured]


def evaluate(
    rows: Iterable[ManifestRow],
    *,
    recognizer: Recognizer,
    with_asr: bool = False,
    with_speaker: bool = False,
    with_quality: bool = False,
    use_reference: bool = True,
    progress: bool = False,
    transcriber: Transcriber | None = None,
    speaker_encoder: SpeakerEncoder | None = None,
    quality_estimator: QualityEstimator | None = None,
) -> EvaluationReport:
    """Judge every clip of ``rows`` and summarise (see the module docstring for the scoring).

    A clip that cannot be read or measured is recorded in ``report.errors`` and the rest go on.
    ``with_asr`` needs the ``asr`` extra, ``with_speaker`` the ``speaker`` extra and
    ``with_quality`` the ``quality`` extra; their absence raises :class:`MissingExtraError` before
    any clip is read. ``transcriber``, ``speaker_encoder`` and ``quality_estimator`` reuse already
    loaded models; ``progress`` shows a bar on stderr.
    """
    rows = list(rows)
    if with_asr and transcriber is None:
        transcriber = Transcriber()
    if with_speaker and speaker_encoder is None:
        speaker_encoder = SpeakerEncoder()
    if with_quality and quality_estimator is None:
        quality_estimator = QualityEstimator()
    measured, errors = [], []
    for row in tqdm(rows, desc="evaluating", unit="clip", file=sys.stderr, disable=not progress):
        try:
            measured.append(_measure(row, recognizer, transcriber if with_asr else None,
                                     speaker_encoder if with_speaker else None,
                                     quality_estimator if with_quality else None))
        except MissingExtraError:
            raise
        except (EmosynthError, ValueError, RuntimeError, OSError) as exc:
            errors.append(ClipError(row.file, _reason(row, exc)))
    scored = _score(measured, recognizer, use_reference)
    similarity = _similarities(measured) if with_speaker else [None] * len(measured)
    clips = [
        ClipResult(
            file=m.row.file, speaker=m.row.speaker, emotion=m.row.emotion, intensity=m.row.intensity,
            target=m.row.target, target_valence=m.row.valence, target_arousal=m.row.arousal,
            scores=scores, mode=mode, n_reference=n_ref, transcript=m.transcript,
            word_errors=m.word_errors, n_words=m.n_words, similarity=sim, quality=m.quality,
        )
        for m, (scores, mode, n_ref), sim in zip(measured, scored, similarity)
    ]
    return EvaluationReport.build(clips, errors, with_asr=with_asr, with_speaker=with_speaker,
                                  with_quality=with_quality)
