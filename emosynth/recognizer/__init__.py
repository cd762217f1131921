"""Speech-emotion recognition trained on human speech."""

from .corpus import LabelledClip, read_corpus
from .features import ClipFeatureExtractor
from .model import RecognizerWeights, SpeakerReference
from .recognizer import EmotionScores, Recognizer, ScoredFile, default_weights_path

__all__ = [
    "ClipFeatureExtractor",
    "EmotionScores",
    "LabelledClip",
    "Recognizer",
    "RecognizerWeights",
    "ScoredFile",
    "SpeakerReference",
    "default_weights_path",
    "read_corpus",
]
