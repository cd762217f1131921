"""emosynth: emotional speech and avatar synthesis, judged by a recognizer trained on human speech.

Stages (each a module with a small typed interface):

* :mod:`emosynth.emotions` - the shared vocabulary of primary emotions and their circumplex positions
* :mod:`emosynth.audio` - reading and checking audio
* :mod:`emosynth.recognizer` - speech-emotion recognition (``Recognizer``)
* :mod:`emosynth.evaluation` - measuring synthetic speech against targets
"""

from .audio import Audio, load_audio
from .emotions import CIRCUMPLEX, PRIMARY_EMOTIONS
from .errors import AudioError, CorpusError, EmosynthError, ManifestError, MissingExtraError, ModelError
from .recognizer import EmotionScores, Recognizer, SpeakerReference

__version__ = "0.1.0"

__all__ = [
    "Audio",
    "AudioError",
    "CIRCUMPLEX",
    "CorpusError",
    "EmosynthError",
    "EmotionScores",
    "ManifestError",
    "MissingExtraError",
    "ModelError",
    "PRIMARY_EMOTIONS",
    "Recognizer",
    "SpeakerReference",
    "load_audio",
]
