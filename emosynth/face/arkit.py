"""The 52 ARKit face blendshapes and the orders other tools keep them in.

Apple's ARKit names (camelCase) are the canonical names everywhere in emosynth; a track stores
them in :data:`ARKIT_BLENDSHAPES` order (Apple's documentation order, which is also the column
order of the Live Link Face app's CSV, there written in PascalCase). EmoTalk's ``.npy`` arrays
keep the same 52 names sorted alphabetically (:data:`EMOTALK_ORDER`). Exporters map columns by
name through :func:`index_of`, never by position.
"""

from __future__ import annotations

__all__ = ["ARKIT_BLENDSHAPES", "EMOTALK_ORDER", "LIVE_LINK_FACE_COLUMNS", "LIVE_LINK_FACE_ROTATIONS",
           "index_of", "pascal_case"]

ARKIT_BLENDSHAPES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawRight", "jawLeft", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthRight", "mouthLeft",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
assert len(ARKIT_BLENDSHAPES) == len(set(ARKIT_BLENDSHAPES)) == 52

#: EmoTalk's order: the same names, sorted alphabetically.
EMOTALK_ORDER: tuple[str, ...] = tuple(sorted(ARKIT_BLENDSHAPES))

#: The nine rotation columns that follow the blendshapes in a Live Link Face CSV (radians here).
LIVE_LINK_FACE_ROTATIONS: tuple[str, ...] = (
    "HeadYaw", "HeadPitch", "HeadRoll",
    "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)

_INDEX = {name: i for i, name in enumerate(ARKIT_BLENDSHAPES)}


def pascal_case(name: str) -> str:
    """``eyeBlinkLeft`` -> ``EyeBlinkLeft``, as the Live Link Face CSV writes it."""
    return name[0].upper() + name[1:]


#: Every column of a Live Link Face CSV, in the app's order (63 in all).
LIVE_LINK_FACE_COLUMNS: tuple[str, ...] = (
    "Timecode", "BlendShapeCount", *(pascal_case(n) for n in ARKIT_BLENDSHAPES), *LIVE_LINK_FACE_ROTATIONS,
)


def index_of(name: str) -> int:
    """Column of a blendshape in a track, from its ARKit or Live Link Face (PascalCase) name."""
    key = name[0].lower() + name[1:] if name else name
    try:
        return _INDEX[key]
    except KeyError:
        raise KeyError(f"{name!r} is not an ARKit blendshape name") from None
