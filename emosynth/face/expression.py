"""Emotion drives the rest of the face: one expression layer per primary, built from FACS.

Each primary's layer is a prototype set of facial action units (AUs) that shows it, from
Ekman & Friesen's FACS and its emotion prototypes (EMFACS; Ekman, Friesen & Hager, *Facial
Action Coding System: The Manual*, 2002, Investigator's Guide table of prototypes and major
variants):

* joy: AU6 cheek raiser + AU12 lip corner puller, with AU25 lips part (the open-mouthed smile
  that shows the upper teeth; 25 joins a prototype without changing the emotion it signals)
* sadness: AU1 inner brow raiser + AU4 brow lowerer + AU15 lip corner depressor + AU17 chin raiser
* surprise: AU1 + AU2 outer brow raiser + AU5 upper lid raiser + AU26 jaw drop
* fear: AU1 + AU2 + AU4 + AU5 + AU20 lip stretcher + AU26
* anger: AU4 + AU5 + AU7 + AU10 upper lip raiser + AU23 lip tightener + AU25, the EMFACS variant
  with the lips parted (4+5+7+10+23+25), which suits a speaking face better than the pressed-lips
  one (4+5+7+23+24)
* disgust: AU9 nose wrinkler + AU10 upper lip raiser + AU15 + AU16 lower lip depressor, with the
  narrowed eyes and lowered brow that come with a strong nose wrinkle (AU9 itself lifts the
  infraorbital cheek and pulls the brows' inner ends down; AU6 + AU7 + AU4 show that on a head whose
  noseSneer shape moves the nose alone) and AU17, as in the EMFACS variants of disgust with 15+17

Intensities (:data:`EMOTION_AUS`) are on FACS's A-E scale as 0.2-1.0. They were set so that an
independent expression classifier (:mod:`.judge`, ``fer``'s FER2013 model) reads the rendered
avatar as intended, tuned on sentences of our own and measured on others (docs/face.md): joy,
anger and surprise at D-E; AU4 in sadness at trace (A) and in fear at A-B, since the browDown
shape carries AU4's full drop of the inner brow and would otherwise cancel AU1's lift. Fear keeps
the outer brow low (AU2 at A) and the upper lid and lip stretch high (AU5 at E, AU20 at D): with
the outer brows as high as the inner ones and the jaw open it reads as surprise. Disgust with
9+10+15+16 alone was read as fear or sadness (never disgust): the judge, like FER2013's annotators,
wants the squint and the lowered brow with it.

Each AU maps to the ARKit blendshapes that perform it (:data:`AU_BLENDSHAPES`, following
Apple's descriptions of the shapes). A spec's signed weights mix the layers exactly as they mix
the voice's emotion tokens: a weighted sum, scaled by intensity. What is left negative on a
shape (a negation, ``-joy``) moves its antagonist instead (a negated smile turns the corners
down, negated raised brows lower them); a shape without an antagonist stays at rest.
"""

from __future__ import annotations

import numpy as np

from ..emotions import PRIMARY_EMOTIONS, EmotionSpec
from .arkit import index_of

__all__ = ["ANTAGONISTS", "AU_BLENDSHAPES", "EMOTION_AUS", "emotion_layers", "expression_layer"]


def _lr(shape: str, value: float = 1.0) -> dict[str, float]:
    return {shape + "Left": value, shape + "Right": value}


#: FACS action unit -> ARKit blendshapes (weight at full AU intensity).
AU_BLENDSHAPES: dict[int, dict[str, float]] = {
    1: {"browInnerUp": 1.0},
    2: _lr("browOuterUp"),
    4: _lr("browDown"),
    5: _lr("eyeWide"),
    6: {**_lr("cheekSquint"), **_lr("eyeSquint", 0.35)},
    7: _lr("eyeSquint"),
    9: {**_lr("noseSneer"), **_lr("mouthUpperUp", 0.3)},
    10: _lr("mouthUpperUp"),
    12: _lr("mouthSmile"),
    15: _lr("mouthFrown"),
    16: _lr("mouthLowerDown"),
    17: {"mouthShrugLower": 1.0},
    20: _lr("mouthStretch"),
    23: {**_lr("mouthPress", 0.5), "mouthRollLower": 0.3, "mouthRollUpper": 0.3},
    24: _lr("mouthPress"),
    25: {**_lr("mouthUpperUp", 0.6), **_lr("mouthLowerDown", 0.45)},  # ARKit has no lips-part shape: both lips move
    26: {"jawOpen": 1.0},
}

#: Each primary's prototype: AU -> intensity at emotion intensity 1 (FACS A-E scale as 0.2-1.0).
EMOTION_AUS: dict[str, dict[int, float]] = {
    "neutral": {},
    "joy": {6: 0.9, 12: 1.0, 25: 1.0},
    "sadness": {1: 0.7, 4: 0.2, 15: 0.6, 17: 0.4},
    "anger": {4: 1.0, 5: 0.7, 7: 0.6, 10: 0.8, 23: 0.8, 25: 0.5},
    "fear": {1: 0.7, 2: 0.2, 4: 0.3, 5: 1.0, 20: 0.8, 26: 0.1},
    "disgust": {4: 0.5, 6: 0.8, 7: 0.8, 9: 0.6, 10: 0.4, 15: 0.8, 16: 0.3, 17: 0.5},
    "surprise": {1: 0.7, 2: 1.0, 5: 0.8, 26: 0.25},
}

#: Where a negative residue goes: opposing muscles or movements.
ANTAGONISTS: dict[str, tuple[str, ...]] = {
    **{f"mouthSmile{s}": (f"mouthFrown{s}",) for s in ("Left", "Right")},
    **{f"mouthFrown{s}": (f"mouthSmile{s}",) for s in ("Left", "Right")},
    **{f"browDown{s}": ("browInnerUp", f"browOuterUp{s}") for s in ("Left", "Right")},
    "browInnerUp": ("browDownLeft", "browDownRight"),
    **{f"browOuterUp{s}": (f"browDown{s}",) for s in ("Left", "Right")},
    **{f"eyeWide{s}": (f"eyeSquint{s}",) for s in ("Left", "Right")},
    **{f"eyeSquint{s}": (f"eyeWide{s}",) for s in ("Left", "Right")},
}


def emotion_layers() -> np.ndarray:
    """(7, 52) ARKit weights of each primary's prototype, PRIMARY_EMOTIONS order."""
    layers = np.zeros((len(PRIMARY_EMOTIONS), 52))
    for k, emotion in enumerate(PRIMARY_EMOTIONS):
        for au, strength in EMOTION_AUS[emotion].items():
            for shape, w in AU_BLENDSHAPES[au].items():
                layers[k, index_of(shape)] += strength * w
    return np.clip(layers, 0.0, 1.0)


_LAYERS = emotion_layers()
_ANTAGONIST_PAIRS = [(index_of(a), [index_of(b) for b in bs]) for a, bs in ANTAGONISTS.items()]


def expression_layer(emotion: EmotionSpec) -> np.ndarray:
    """The face's expression for a spec: (52,) ARKit weights in [0, 1]."""
    signed = np.asarray(emotion.weights) @ _LAYERS
    out = np.clip(signed, 0.0, None)
    for shape, antagonists in _ANTAGONIST_PAIRS:
        if signed[shape] < 0.0:
            out[antagonists] += -signed[shape]
    return np.clip(out, 0.0, 1.0)
