"""Speech-emotion recognition trained on human speech."""

from .corpus import LabelledClip, read_corpus
from .features import ClipFeatureExtractor
from .model import RecognizerWeights, SpeakerReference
from .recognizer import EmotionScores, Recognizer, ScoredFile, default_weights_path
from .timeline import EmotionTimeline, TimelineSegment, TimelineSettings, emotion_timeline

__all__ = [
    "ClipFeatureExtractor",
    "EmotionScores",
    "EmotionTimeline",
    "LabelledClip",
    "Recognizer",
    "RecognizerWeights",
    "ScoredFile",
    "SpeakerReference",
    "TimelineSegment",
    "TimelineSettings",
    "default_weights_path",
    "emotion_timeline",
    "read_corpus",
]
