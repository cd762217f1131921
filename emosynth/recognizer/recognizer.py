"""Scoring speech for emotion: the recognizer's public face.

>>> rec = Recognizer.load()                      # the shipped weights
>>> scores = rec.score_file("clip.wav")          # doctest: +SKIP
>>> scores.label, scores.confidence, scores.valence, scores.arousal  # doctest: +SKIP

Without a reference the ``plain`` classifier reads the clip as it is. With a
:class:`SpeakerReference` built from neutral recordings of the same speaker (``reference_from_files``)
the ``speaker`` classifier reads how the clip departs from that speaker's neutral, which is
markedly more accurate (see docs/recognizer.md).

Valence and arousal are the expectation of the primaries' circumplex positions under the
predicted probabilities, ``v = sum_k p_k v_k`` (likewise ``a``), so they lie in [-1, 1] and
move smoothly between categories; RAVDESS has no dimensional labels to fit a regressor to.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..audio import Audio, load_audio, prepare_array
from ..emotions import PRIMARY_EMOTIONS, circumplex_array
from ..errors import AudioError, EmosynthError
from .features import FEATURE_SAMPLE_RATE_HZ, ClipFeatureExtractor
from .model import RecognizerWeights, SpeakerReference

if TYPE_CHECKING:
    from .timeline import EmotionTimeline, TimelineSettings

__all__ = ["EmotionScores", "ScoredFile", "Recognizer", "default_weights_path"]


def default_weights_path() -> Path:
    """The weights that ship inside the package (trained on RAVDESS actors 01-20 and six nEMO speakers)."""
    return Path(str(resources.files("emosynth") / "models" / "ser.npz"))


@dataclass(frozen=True)
class EmotionScores:
    """The recognizer's reading of one clip."""

    probabilities: dict[str, float]  # every primary, summing to 1
    label: str  # the most probable primary
    confidence: float  # its probability
    valence: float  # in [-1, 1], expectation over the circumplex positions
    arousal: float  # in [-1, 1], likewise
    speaker_normalised: bool  # True when read relative to a reference of the same speaker

    @classmethod
    def from_probabilities(cls, p: np.ndarray, *, speaker_normalised: bool) -> "EmotionScores":
        va = p @ circumplex_array()
        k = int(np.argmax(p))
        return cls(
            probabilities={e: float(v) for e, v in zip(PRIMARY_EMOTIONS, p)},
            label=PRIMARY_EMOTIONS[k],
            confidence=float(p[k]),
            valence=float(va[0]),
            arousal=float(va[1]),
            speaker_normalised=speaker_normalised,
        )

    def probability_vector(self) -> np.ndarray:
        """Probabilities as an array of shape (7,), in ``PRIMARY_EMOTIONS`` order."""
        return np.array([self.probabilities[e] for e in PRIMARY_EMOTIONS])

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "probabilities": {e: round(v, 4) for e, v in self.probabilities.items()},
            "valence": round(self.valence, 4),
            "arousal": round(self.arousal, 4),
            "speaker_normalised": self.speaker_normalised,
        }


@dataclass(frozen=True)
class ScoredFile:
    """One file of a batch: its scores, or why it could not be scored."""

    path: Path
    scores: EmotionScores | None
    error: str | None = None


class Recognizer:
    """Speech-emotion recognizer: features from :class:`ClipFeatureExtractor`, weights from
    :class:`RecognizerWeights`."""

    def __init__(self, weights: RecognizerWeights, *, extractor: ClipFeatureExtractor | None = None) -> None:
        self.weights = weights
        self.extractor = extractor or ClipFeatureExtractor(weights.feature_set)
        if self.extractor.feature_set != weights.feature_set:
            raise ValueError(f"the extractor reads {self.extractor.feature_set!r}, the weights {weights.feature_set!r}")

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> "Recognizer":
        """Load weights from ``path``, or the shipped ones when ``path`` is None."""
        return cls(RecognizerWeights.load(path or default_weights_path()))

    # -- features -----------------------------------------------------------------------
    def features(self, audio: Audio) -> np.ndarray:
        """Feature vector (F,) of a checked clip at any rate (F from the weights' feature set)."""
        if audio.sample_rate_hz != FEATURE_SAMPLE_RATE_HZ:
            audio = prepare_array(audio.samples, audio.sample_rate_hz, target_rate_hz=FEATURE_SAMPLE_RATE_HZ)
        return self.extractor(audio)

    # -- references ---------------------------------------------------------------------
    def reference_from_features(self, features: np.ndarray) -> SpeakerReference:
        return SpeakerReference.from_features(features, self.weights.pooled_sd)

    def reference_from_arrays(self, clips: Iterable[tuple[np.ndarray, int]]) -> SpeakerReference:
        """Reference from neutral clips of one speaker, given as (samples, sample_rate_hz)."""
        feats = [self.features(prepare_array(x, sr)) for x, sr in clips]
        if not feats:
            raise AudioError("a speaker reference needs at least one neutral clip")
        return self.reference_from_features(np.stack(feats))

    def reference_from_files(self, paths: Sequence[str | os.PathLike[str]]) -> SpeakerReference:
        """Reference from neutral recordings of one speaker; any bad file is an error."""
        if not paths:
            raise AudioError("a speaker reference needs at least one neutral clip")
        return self.reference_from_features(np.stack([self.features(load_audio(p)) for p in paths]))

    # -- scoring ------------------------------------------------------------------------
    def score_features(self, features: np.ndarray, *, reference: SpeakerReference | None = None) -> list[EmotionScores]:
        """Scores for precomputed features of shape (n, F) or (F,)."""
        if reference is None:
            p = self.weights.plain.probabilities(features)
        else:
            p = self.weights.speaker.probabilities(reference.normalise(features))
        return [EmotionScores.from_probabilities(row, speaker_normalised=reference is not None) for row in p]

    def score_array(
        self, samples: np.ndarray, sample_rate_hz: int, *, reference: SpeakerReference | None = None
    ) -> EmotionScores:
        """Score a clip given as samples, shape (n,) or (n, channels), at any rate."""
        audio = prepare_array(samples, sample_rate_hz)
        return self.score_features(self.features(audio), reference=reference)[0]

    def score_file(self, path: str | os.PathLike[str], *, reference: SpeakerReference | None = None) -> EmotionScores:
        """Score a WAV/FLAC/MP3/OGG file at any rate, mono or stereo."""
        return self.score_features(self.features(load_audio(path)), reference=reference)[0]

    def score_files(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        reference: SpeakerReference | None = None,
    ) -> Iterable[ScoredFile]:
        """Score files one by one; a bad file yields its error and the rest are still scored."""
        for path in paths:
            try:
                yield ScoredFile(Path(path), self.score_file(path, reference=reference))
            except EmosynthError as exc:
                yield ScoredFile(Path(path), None, str(exc))

    def timeline(self, audio_or_path: Audio | str | os.PathLike[str], *, reference: SpeakerReference | None = None,
                 progress: bool = False, settings: "TimelineSettings | None" = None) -> "EmotionTimeline":
        """Which emotion is heard when: an :class:`~emosynth.recognizer.timeline.EmotionTimeline` of a
        file or clip of any length, read in overlapping windows (see :mod:`.timeline`)."""
        from .timeline import emotion_timeline

        return emotion_timeline(audio_or_path, self, settings=settings, reference=reference, progress=progress)

    @cached_property
    def training_info(self) -> dict:
        """What the weights were trained on and how they scored in cross-validation."""
        return dict(self.weights.info)
