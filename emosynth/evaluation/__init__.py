"""Measuring emotional speech against what it was meant to express.

* :mod:`.manifest` - which clips, with which target emotion, intensity, text and speaker
* :mod:`.report` - :func:`evaluate`, the harness, giving an :class:`EvaluationReport`
* :mod:`.metrics` - UA/WA, confusion, intensity monotonicity, Pearson, word error rate, log-mel distance
* :mod:`.diarization` - emotion diarization error rate (EDER) of an emotion timeline
* :mod:`.plots` - the confusion matrix as a PNG
* :mod:`.asr` (extra ``asr``), :mod:`.speaker` (extra ``speaker``) and :mod:`.quality` (extra
  ``quality``) - transcripts, voice embeddings and predicted speech quality (DNSMOS); they import
  their heavy dependencies only when used
"""

from .asr import Transcriber
from .diarization import DiarizationErrors, emotion_diarization_error_rate, emotion_diarization_errors
from .manifest import MANIFEST_COLUMNS, ManifestRow, read_manifest
from .metrics import (
    EmotionAccuracy,
    confusion_matrix,
    intensity_monotonicity,
    log_mel_distance,
    normalise_text,
    pearson,
    unweighted_accuracy,
    weighted_accuracy,
    word_error_rate,
)
from .plots import save_confusion_png
from .quality import QualityEstimator, SpeechQuality
from .report import evaluate
from .results import ClipError, ClipResult, EvaluationReport, QualitySummary, SimilaritySummary, WerSummary
from .speaker import SpeakerEncoder, cosine_similarity

__all__ = [
    "ClipError",
    "ClipResult",
    "DiarizationErrors",
    "EmotionAccuracy",
    "EvaluationReport",
    "MANIFEST_COLUMNS",
    "ManifestRow",
    "QualityEstimator",
    "QualitySummary",
    "SimilaritySummary",
    "SpeakerEncoder",
    "SpeechQuality",
    "Transcriber",
    "WerSummary",
    "confusion_matrix",
    "cosine_similarity",
    "emotion_diarization_error_rate",
    "emotion_diarization_errors",
    "evaluate",
    "intensity_monotonicity",
    "log_mel_distance",
    "normalise_text",
    "pearson",
    "read_manifest",
    "save_confusion_png",
    "unweighted_accuracy",
    "weighted_accuracy",
    "word_error_rate",
]
