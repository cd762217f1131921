"""The avatar head: MediaPipe's canonical face mesh with 52 ARKit morph targets authored on it.

The mesh (faces/canonical_face.npz: 468 vertices in cm, y up, z toward the viewer, +x the subject's
left; UVs; 898 triangles) is MediaPipe's canonical face model (Apache-2.0). Each ARKit shape is a
displacement field built here from landmarks of that mesh (mouth corners 61/291, inner lips 13/14,
eyelids 159/145 and 386/374, brows 105/334, chin 152) with smooth Gaussian falloffs, following
Apple's description of the shape; "Left" is the subject's left (+x). The jaw rotates about a hinge
behind and above the mouth. The mouth and eyes are opened (the triangles inside the inner-lip and
eyelid contours are dropped). The mesh has no eyeballs, teeth or tongue (the renderer draws eyes and
a mouth interior behind the holes): eyeLook* move the lids a little as real gaze does, and
tongueOut only parts the lips.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .arkit import ARKIT_BLENDSHAPES

__all__ = ["Head", "load_head", "head_mesh_path"]

_SIDES = {"Left": 1.0, "Right": -1.0}
_EYELIDS = {"Left": (386, 374), "Right": (159, 145)}  # upper, lower lid margin
_CORNERS = {"Left": 291, "Right": 61}
_BROWS = {"Left": 334, "Right": 105}
# The canonical mesh is closed over the eyes and mouth; these contours (inner lips, eyelid
# margins) are opened, so the mouth can open and eyes show behind the lids.
_HOLES = (
    frozenset({78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95}),
    frozenset({263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466}),
    frozenset({33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246}),
)
_JAW_HINGE = np.array([0.0, -2.0, -4.0])
_JAW_OPEN_RAD = 0.25  # ~14 degrees: chin down about 1.8 cm


def head_mesh_path() -> Path:
    return Path(str(resources.files("emosynth.face_assets") / "canonical_face.npz"))


@dataclass(frozen=True)
class Head:
    """A neutral mesh and one displacement field per ARKit blendshape."""

    vertices: np.ndarray  # (V, 3) float32, cm
    uv: np.ndarray  # (V, 2)
    triangles: np.ndarray  # (T, 3) int32
    targets: np.ndarray  # (52, V, 3) float32 displacements at weight 1, ARKIT_BLENDSHAPES order

    def deformed(self, weights: np.ndarray) -> np.ndarray:
        """Vertex positions (V, 3) for blendshape weights (52,)."""
        return self.vertices + np.tensordot(np.asarray(weights, dtype=np.float32), self.targets, axes=1)


@lru_cache(maxsize=1)
def load_head() -> Head:
    path = head_mesh_path()
    try:
        with np.load(path, allow_pickle=False) as data:
            vertices, uv, triangles = data["vertices"], data["uv"], data["triangles"]
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"{path}: not the avatar head mesh ({exc}); rebuild it with faces/extract_mesh.py") from None
    keep = [i for i, t in enumerate(triangles.tolist()) if not any(set(t) <= hole for hole in _HOLES)]
    return Head(vertices=vertices.astype(np.float32), uv=uv.astype(np.float32), triangles=triangles[keep].astype(np.int32),
                targets=_author_targets(vertices.astype(np.float64)))


def _falloff(v: np.ndarray, center: np.ndarray, radii: tuple[float, float, float]) -> np.ndarray:
    d2 = np.sum(((v - center) / np.asarray(radii)) ** 2, axis=1)
    return np.exp(-d2)


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _author_targets(v: np.ndarray) -> np.ndarray:
    shapes: dict[str, np.ndarray] = {}
    mouth = (v[13] + v[14]) / 2.0

    def move(weight: np.ndarray, delta) -> np.ndarray:
        return weight[:, None] * np.asarray(delta, dtype=np.float64)[None, :]

    # -- jaw: a rotation about the hinge for everything below the lip line, fading towards the ears
    below = _smoothstep(v[13, 1] - 0.05, v[14, 1] + 0.1, v[:, 1]) * np.exp(-(np.clip(np.abs(v[:, 0]) - 4.0, 0, None) / 1.5) ** 2)
    rel = v - _JAW_HINGE
    c, s = np.cos(_JAW_OPEN_RAD), np.sin(_JAW_OPEN_RAD)
    rotated = np.stack([rel[:, 0], rel[:, 1] * c - rel[:, 2] * s, rel[:, 1] * s + rel[:, 2] * c], axis=1)
    jaw_open = below[:, None] * (rotated - rel)
    shapes["jawOpen"] = jaw_open
    shapes["jawForward"] = move(below, (0, 0, 0.5))
    shapes["jawLeft"] = move(below, (0.6, 0, 0))
    shapes["jawRight"] = move(below, (-0.6, 0, 0))

    lips = _falloff(v, mouth, (2.8, 1.2, 2.0))
    lower_lip = lips * _smoothstep(v[13, 1], v[14, 1], v[:, 1])
    upper_lip = lips * (1.0 - _smoothstep(v[13, 1], v[14, 1], v[:, 1]))
    # lips together over an open jaw: the lower lip undoes the jaw's motion, the upper comes down a little
    shapes["mouthClose"] = -lower_lip[:, None] * jaw_open + move(upper_lip, (0, -0.1, 0))
    xrel = v[:, 0] - mouth[0]
    shapes["mouthFunnel"] = lips[:, None] * np.stack([-0.25 * xrel, np.where(v[:, 1] > mouth[1], 0.15, -0.15),
                                                     np.full(len(v), 0.5)], axis=1)
    shapes["mouthPucker"] = lips[:, None] * np.stack([-0.45 * xrel, np.zeros(len(v)), np.full(len(v), 0.7)], axis=1)
    region = _falloff(v, mouth, (3.4, 1.8, 2.5))
    shapes["mouthLeft"] = move(region, (0.6, 0, 0))
    shapes["mouthRight"] = move(region, (-0.6, 0, 0))
    lower_band = _falloff(v, mouth + np.array([0, -0.55, 0.2]), (2.4, 0.5, 1.5))
    upper_band = _falloff(v, mouth + np.array([0, 0.55, 0.4]), (2.4, 0.5, 1.5))
    shapes["mouthRollLower"] = move(lower_band, (0, 0.25, -0.35))
    shapes["mouthRollUpper"] = move(upper_band, (0, -0.25, -0.35))
    shapes["mouthShrugLower"] = move(_falloff(v, mouth + np.array([0, -1.7, -0.3]), (2.5, 1.5, 2.0)), (0, 0.35, 0.1))
    shapes["mouthShrugUpper"] = move(upper_band, (0, 0.25, 0.05))
    shapes["tongueOut"] = move(lower_band, (0, -0.2, 0.1))

    for side, sx in _SIDES.items():
        corner = _falloff(v, v[_CORNERS[side]], (1.3, 1.3, 1.5))
        shapes[f"mouthSmile{side}"] = move(corner, (sx * 0.35, 0.55, -0.2))
        shapes[f"mouthFrown{side}"] = move(corner, (sx * 0.1, -0.45, 0))
        shapes[f"mouthDimple{side}"] = move(corner, (sx * 0.2, 0, -0.3))
        shapes[f"mouthStretch{side}"] = move(corner, (sx * 0.45, -0.15, -0.1))
        half = _falloff(v, mouth + np.array([sx * 1.3, 0, 0]), (1.4, 0.8, 1.5))
        shapes[f"mouthPress{side}"] = np.where((v[:, 1] < mouth[1])[:, None], move(half, (0, 0.12, -0.1)),
                                               move(half, (0, -0.08, -0.1)))
        shapes[f"mouthLowerDown{side}"] = move(_falloff(v, mouth + np.array([sx * 1.1, -0.6, 0.1]), (1.3, 0.6, 1.5)), (0, -0.4, 0))
        shapes[f"mouthUpperUp{side}"] = move(_falloff(v, mouth + np.array([sx * 1.1, 0.6, 0.3]), (1.3, 0.6, 1.5)), (0, 0.4, 0))

        upper_i, lower_i = _EYELIDS[side]
        centre = (v[upper_i] + v[lower_i]) / 2.0
        opening = float(v[upper_i, 1] - v[lower_i, 1])
        eye = _falloff(v, centre, (1.6, 1.0, 3.0))
        upper = eye * (v[:, 1] > centre[1] - 0.02)
        lower = eye * (v[:, 1] <= centre[1] - 0.02)
        shapes[f"eyeBlink{side}"] = move(upper, (0, -opening * 1.0 / 0.98, 0)) + move(lower, (0, opening * 0.08, 0))
        shapes[f"eyeSquint{side}"] = move(lower, (0, opening * 0.35, 0)) + move(upper, (0, -opening * 0.1, 0))
        shapes[f"eyeWide{side}"] = move(upper, (0, opening * 0.4, 0))
        shapes[f"eyeLookUp{side}"] = move(upper, (0, opening * 0.15, 0))
        shapes[f"eyeLookDown{side}"] = move(upper, (0, -opening * 0.35, 0))
        shapes[f"eyeLookIn{side}"] = move(eye, (-sx * 0.08, 0, 0))
        shapes[f"eyeLookOut{side}"] = move(eye, (sx * 0.08, 0, 0))

        brow = _falloff(v, v[_BROWS[side]], (2.2, 1.0, 2.0))
        shapes[f"browDown{side}"] = move(brow, (-sx * 0.15, -0.45, 0))
        shapes[f"browOuterUp{side}"] = move(_falloff(v, v[_BROWS[side]] + np.array([sx * 1.0, 0, -0.5]), (1.4, 1.0, 2.0)), (0, 0.55, 0))
        shapes[f"cheekSquint{side}"] = move(_falloff(v, centre + np.array([sx * 0.6, -2.6, 0.3]), (1.6, 1.0, 2.0)), (0, 0.3, 0.05))
        shapes[f"noseSneer{side}"] = move(_falloff(v, v[1] + np.array([sx * 1.2, 0.3, -1.7]), (1.0, 1.0, 1.5)), (0, 0.25, 0.05))

    inner = _falloff(v, np.array([1.6, v[_BROWS["Left"], 1], v[_BROWS["Left"], 2] + 0.6]), (1.5, 1.3, 2.0))
    inner += _falloff(v, np.array([-1.6, v[_BROWS["Right"], 1], v[_BROWS["Right"], 2] + 0.6]), (1.5, 1.3, 2.0))
    shapes["browInnerUp"] = move(inner, (0, 1.1, 0))
    puff = _falloff(v, np.array([4.2, -3.0, 3.6]), (1.8, 1.8, 2.0)) + _falloff(v, np.array([-4.2, -3.0, 3.6]), (1.8, 1.8, 2.0))
    shapes["cheekPuff"] = puff[:, None] * np.stack([np.sign(v[:, 0]) * 0.4, np.zeros(len(v)), np.full(len(v), 0.3)], axis=1)

    missing = [n for n in ARKIT_BLENDSHAPES if n not in shapes]
    assert not missing, missing
    return np.stack([shapes[n] for n in ARKIT_BLENDSHAPES]).astype(np.float32)
