"""The face: speech to 52 ARKit blendshapes a frame, with head and eye motion.

Stages: phoneme timings (or timings aligned to a recording's words, :mod:`.align`) and
loudness -> mouth (:mod:`.visemes`); emotion spec -> expression
(:mod:`.expression`); arousal -> blinks, gaze, head (:mod:`.life`); all joined by
:func:`animate` into a :class:`BlendshapeTrack`, which saves Live Link Face CSV, JSON and
EmoTalk-order ``.npy``. :func:`load_portrait` finds the face in a photo (:mod:`.photo`) and
:class:`PortraitRenderer` animates it by a track (:mod:`.portrait`).
"""

from .align import align_transcript
from .animator import DEFAULT_FPS, animate, animate_utterance
from .arkit import ARKIT_BLENDSHAPES, EMOTALK_ORDER, LIVE_LINK_FACE_COLUMNS
from .photo import Portrait, example_portrait_path, load_portrait
from .portrait import PortraitRenderer
from .track import FRAME_RATES, TRACK_FORMATS, BlendshapeTrack

__all__ = ["animate", "animate_utterance", "align_transcript", "BlendshapeTrack", "ARKIT_BLENDSHAPES", "EMOTALK_ORDER",
           "LIVE_LINK_FACE_COLUMNS", "TRACK_FORMATS", "FRAME_RATES", "DEFAULT_FPS", "Portrait", "PortraitRenderer",
           "load_portrait", "example_portrait_path"]
