"""emosynth: emotional speech and avatar synthesis, judged by a recognizer trained on human speech.

Stages (each a module with a small typed interface):

* :mod:`emosynth.emotions` - the shared vocabulary: primaries, their circumplex positions, and
  ``parse_emotion`` for emotion specs such as ``joy:0.7`` (an ``EmotionSpec``)
* :mod:`emosynth.audio` - reading and checking audio
* :mod:`emosynth.synthesizer` - text and an emotion to speech (``Synthesizer``, ``Utterance``),
  through :mod:`emosynth.voice` (prosody plan, Kokoro backbone, voices and emotion tokens)
* :mod:`emosynth.face` - speech to 52 ARKit blendshapes (``animate``, ``BlendshapeTrack``)
* :mod:`emosynth.recognizer` - speech-emotion recognition (``Recognizer``)
* :mod:`emosynth.evaluation` - measuring synthetic speech against targets
"""

from .audio import Audio, load_audio
from .emotions import (
    CIRCUMPLEX,
    MAX_INTENSITY,
    PRIMARY_EMOTIONS,
    SECONDARY_EMOTIONS,
    EmotionSpec,
    parse_emotion,
)
from .errors import (
    AudioError,
    CorpusError,
    EmosynthError,
    EmotionSpecError,
    FaceError,
    ManifestError,
    MissingExtraError,
    ModelError,
)
from .face import BlendshapeTrack, animate, animate_utterance
from .recognizer import EmotionScores, Recognizer, SpeakerReference
from .synthesizer import Synthesizer, Utterance

__version__ = "0.1.0"

__all__ = [
    "Audio",
    "AudioError",
    "BlendshapeTrack",
    "CIRCUMPLEX",
    "CorpusError",
    "EmosynthError",
    "EmotionScores",
    "EmotionSpec",
    "EmotionSpecError",
    "FaceError",
    "MAX_INTENSITY",
    "ManifestError",
    "MissingExtraError",
    "ModelError",
    "PRIMARY_EMOTIONS",
    "Recognizer",
    "SECONDARY_EMOTIONS",
    "SpeakerReference",
    "Synthesizer",
    "Utterance",
    "animate",
    "animate_utterance",
    "load_audio",
    "parse_emotion",
]
