"""Speech in, a talking face's blendshape track out (EmoTalk's split: content and emotion apart).

>>> utt = Synthesizer("kumo").say("The train leaves at ten.", emotion="joy:0.7")   # doctest: +SKIP
>>> track = animate_utterance(utt)                                                # doctest: +SKIP
>>> track.save("joy.csv")       # Live Link Face CSV; .json and .npy too          # doctest: +SKIP

Layers, in this order: the mouth from the phoneme timings and the audio's loudness
(:mod:`.visemes`; for a recording without timings, from timings aligned to its words when they
are known (:mod:`.align`), else from the audio-to-mouth model in :mod:`.audio_model`), plus the emotion's expression (:mod:`.expression`, eased in over the first
quarter second), plus life (:mod:`.life`: blinks, gaze, head motion). Lip closures are applied
last, so no expression or exaggerated intensity ever parts the lips on a p, b or m.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ..emotions import EmotionSpec, circumplex_array, parse_emotion
from ..errors import FaceError
from .arkit import index_of
from .audio_model import AudioFaceModel
from .expression import expression_layer
from .life import BROW_ACCENT, blink_curve, gaze_path, gaze_weights, head_motion, pitch_accents
from .track import FRAME_RATES, BlendshapeTrack
from .visemes import close_lips, keep_visemes, loudness_envelope, mouth_segments, mouth_weights

if TYPE_CHECKING:
    from ..recognizer import Recognizer
    from ..synthesizer import PhonemeTiming, Utterance

__all__ = ["animate", "animate_utterance", "DEFAULT_FPS"]

DEFAULT_FPS = 30
#: Longest recording `emosynth animate` takes in one piece (its features are held in memory).
MAX_AUDIO_S = 600.0
_EXPRESSION_ONSET_S = 0.25
_BLINK = (index_of("eyeBlinkLeft"), index_of("eyeBlinkRight"))
_BROWS_UP = ("browInnerUp", "browOuterUpLeft", "browOuterUpRight")


def animate(
    audio: np.ndarray,
    sample_rate_hz: int,
    phonemes: Sequence["PhonemeTiming"] | None = None,
    *,
    text: str | None = None,
    emotion: str | EmotionSpec = "neutral",
    fps: int = DEFAULT_FPS,
    seed: int = 0,
    recognizer: "Recognizer | None" = None,
    ease_in: bool = True,
) -> BlendshapeTrack:
    """The face for ``audio`` (n,).

    With ``phonemes`` (``Utterance.phonemes``, exact to the sample) the mouth comes from them; with
    ``text`` (the words spoken, or ``"auto"``: the words the ASR extra hears), from timings aligned
    to the audio (:mod:`.align`); with neither, from the audio-to-mouth model (:mod:`.audio_model`). ``emotion`` is any spec (``joy:0.7``, a
    mixture, a negation, ``va:...``) or ``"auto"``: the recognizer's reading of the audio (its
    probabilities as mixture weights). ``seed`` fixes the blinks, gaze and head motion. ``ease_in=False``
    shows the expression from the first frame, for a later piece of a stream (``emosynth serve``). Raises
    :class:`FaceError` for an unsupported frame rate, empty audio or phoneme timings outside the audio.
    """
    if fps not in FRAME_RATES:
        raise FaceError(f"frame rate {fps} is not supported; accepted: {', '.join(map(str, FRAME_RATES))}")
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    if x.size == 0 or sample_rate_hz <= 0:
        raise FaceError("cannot animate empty audio")
    if phonemes and max(p.end_sample for p in phonemes) > x.size:
        raise FaceError(f"phoneme timings run to sample {max(p.end_sample for p in phonemes)}, past the "
                        f"audio's {x.size} samples: they belong to other audio")
    spec = _heard_emotion(x, sample_rate_hz, recognizer) if emotion == "auto" else parse_emotion(emotion)
    aligned = text is not None
    if aligned:
        if phonemes is not None:
            raise FaceError("give the phoneme timings or the words, not both")
        from .align import timings_from_words

        phonemes = timings_from_words(x, sample_rate_hz, text)
    n = int(np.ceil(x.size / sample_rate_hz * fps))
    times = np.arange(n) / fps
    loudness = loudness_envelope(x, sample_rate_hz, times)

    if phonemes is None:
        weights, closed = AudioFaceModel.load().mouth(x, sample_rate_hz, times)
        mouth = "audio-to-mouth model (emosynth/models/audio_face.npz)"
    else:
        segments = mouth_segments([(p.symbol, p.start_sample / sample_rate_hz, p.end_sample / sample_rate_hz)
                                   for p in phonemes])
        weights, closed = mouth_weights(segments, times, loudness)
        mouth = ("phoneme timings aligned to the words (emosynth.face.align)" if aligned else "phoneme timings") + \
            " (dominance coarticulation) and loudness"
    mouth_layer = weights
    onset = np.clip(times / _EXPRESSION_ONSET_S, 0.0, 1.0)[:, None] if ease_in else np.ones((n, 1))
    weights = weights + onset * expression_layer(spec)[None, :]

    rng = np.random.default_rng(seed)
    arousal = float(np.clip(np.asarray(spec.weights) @ circumplex_array()[:, 1], -1.0, 1.0))
    blink = blink_curve(n, fps, arousal, rng)
    for i in _BLINK:
        weights[:, i] = np.maximum(weights[:, i], blink)
    gaze = gaze_path(n, fps, arousal, rng)
    for shape, curve in gaze_weights(gaze).items():
        weights[:, index_of(shape)] += curve
    accents = pitch_accents(x, sample_rate_hz, times, loudness)
    for shape in _BROWS_UP:  # brows flash up on pitch rises
        weights[:, index_of(shape)] += BROW_ACCENT * accents
    head = head_motion(n, fps, arousal, loudness, rng, accents)

    weights = np.clip(weights, 0.0, 1.0)
    keep_visemes(weights, mouth_layer)  # the expression never undoes a viseme ...
    close_lips(weights, closed)  # ... nor a closure
    info = {"emotion": spec.to_dict(), "fps": fps, "seed": seed, "arousal": round(arousal, 4),
            "mouth": mouth, "expression": "FACS prototypes"}
    return BlendshapeTrack(fps=fps, weights=weights.astype(np.float32), head_rotation=head, gaze=gaze, info=info)


def _heard_emotion(audio: np.ndarray, sample_rate_hz: int, recognizer: "Recognizer | None") -> EmotionSpec:
    """The recognizer's reading as a mixture spec: every primary it gives 5% or more."""
    from ..recognizer import Recognizer

    scores = (recognizer or Recognizer.load()).score_array(audio.astype(np.float32), sample_rate_hz)
    return EmotionSpec.from_weights({e: round(p, 2) for e, p in scores.probabilities.items()
                                     if e != "neutral" and p >= 0.05})


def animate_utterance(utterance: "Utterance", *, fps: int = DEFAULT_FPS, seed: int = 0) -> BlendshapeTrack:
    """The face for speech from :meth:`Synthesizer.say`, with its timings and emotion."""
    track = animate(utterance.audio, utterance.sample_rate_hz, utterance.phonemes,
                    emotion=utterance.emotion, fps=fps, seed=seed)
    return replace(track, info={**track.info, "voice": utterance.voice, "text": utterance.text})
