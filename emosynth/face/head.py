"""The avatar head: MediaPipe's canonical face mesh with 52 ARKit morph targets authored on it.

The mesh (faces/canonical_face.npz: 468 vertices in cm, y up, z toward the viewer, +x the subject's
left; UVs; 898 triangles) is MediaPipe's canonical face model (Apache-2.0). Each ARKit shape is a
displacement field built here from landmarks of that mesh (mouth corners 61/291, inner lips 13/14,
eyelids 159/145 and 386/374, brows 105/334, chin 152) with smooth Gaussian falloffs, following
Apple's description of the shape and the FACS action unit it performs (AU12 for mouthSmile, AU4
for browDown, ...); "Left" is the subject's left (+x). jawOpen turns the whole mandible (chin, jaw
line and angle) about the jaw joints in front of the ears. The mouth and eyes are opened (the
triangles inside the inner-lip and eyelid contours are dropped), and the canonical mesh's parted
lips are closed at rest (the targets are authored on the canonical geometry and apply unchanged).
The mesh has no eyeballs, teeth or tongue (the renderer draws eyes, teeth and a mouth interior
behind the holes): eyeLook* move the lids a little as real gaze does, and tongueOut only parts the
lips. :meth:`Head.deformed` adds one corrective to the linear blend (a blink closes the eye
whatever lifts the lid).
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
_BLINK_CORRECTIVE = [(ARKIT_BLENDSHAPES.index(f"eyeBlink{side}"),
                      [ARKIT_BLENDSHAPES.index(f"eyeWide{side}"), ARKIT_BLENDSHAPES.index(f"eyeLookUp{side}")])
                     for side in ("Left", "Right")]
_EYELIDS = {"Left": (386, 374), "Right": (159, 145)}  # upper, lower lid margin
_CORNERS = {"Left": 291, "Right": 61}
_BROWS = {"Left": 334, "Right": 105}
_INNER_BROWS = {"Left": 336, "Right": 107}
# The canonical mesh is closed over the eyes and mouth; these contours (inner lips, eyelid
# margins) are opened, so the mouth can open and eyes show behind the lids.
_HOLES = (
    frozenset({78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95}),
    frozenset({263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466}),
    frozenset({33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246}),
)
# Inner lip contours, corner to corner, upper and lower in matching order.
_INNER_UPPER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
_INNER_LOWER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
_JAW_HINGE = np.array([0.0, 0.5, -5.0])  # the jaw joints, in front of the ears (the mesh stops short of them)
_JAW_OPEN_RAD = 0.33  # ~19 degrees: the lower lip down about 3.1 cm, the chin 2.5 cm
# The mandible's outline seen from the front: level with the lips between the mouth corners, rising
# (cm per cm) from 2.5 cm out towards the jaw joints; the cheeks above it stretch (over 0.4 of the rise).
_MANDIBLE_RISE_FROM_CM, _MANDIBLE_RISE, _CHEEK_FIRM = 2.5, 0.6, 0.4


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
        """Vertex positions (V, 3) for blendshape weights (52,).

        One corrective on top of the linear blend, as face rigs have for this pair: a blink closes
        the eye whatever else lifts its upper lid (eyeWide, eyeLookUp count for 1 - eyeBlink of
        themselves). The glTF export carries the plain linear targets.
        """
        w = np.array(weights, dtype=np.float32)
        for blink, lifts in _BLINK_CORRECTIVE:
            w[lifts] *= 1.0 - np.clip(w[blink], 0.0, 1.0)
        return self.vertices + np.tensordot(w, self.targets, axes=1)


@lru_cache(maxsize=1)
def load_head() -> Head:
    path = head_mesh_path()
    try:
        with np.load(path, allow_pickle=False) as data:
            vertices, uv, triangles = data["vertices"], data["uv"], data["triangles"]
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"{path}: not the avatar head mesh ({exc}); rebuild it with faces/extract_mesh.py") from None
    keep = [i for i, t in enumerate(triangles.tolist()) if not any(set(t) <= hole for hole in _HOLES)]
    v = vertices.astype(np.float64)
    return Head(vertices=(v + _lips_together(v)).astype(np.float32), uv=uv.astype(np.float32),
                triangles=triangles[keep].astype(np.int32), targets=_author_targets(v))


def _lips_together(v: np.ndarray) -> np.ndarray:
    """Displacements that close the canonical mesh's parted lips: the avatar rests with its lips together.

    The canonical face's inner lips are about 5 mm apart at the midline; each lip moves half of the
    gap at the same x (0 at the corners), fading away from the lip line. The morph targets are
    authored on the canonical (parted) geometry and apply unchanged.
    """
    upper, lower = v[list(_INNER_UPPER_LIP)], v[list(_INNER_LOWER_LIP)]
    order = np.argsort(upper[:, 0])
    x = upper[order, 0]
    half_gap = np.interp(v[:, 0], x, (upper[order, 1] - lower[order, 1]) / 2.0, left=0.0, right=0.0)
    line = np.interp(v[:, 0], x, ((upper[:, 1] + lower[:, 1]) / 2.0)[order])
    near = np.exp(-((v[:, 1] - line) / 1.2) ** 2) * np.exp(-((v[:, 2] - v[13, 2]) / 2.0) ** 2)
    dy = np.where(v[:, 1] > line, -half_gap, half_gap) * near
    return np.stack([np.zeros(len(v)), dy, np.zeros(len(v))], axis=1)


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

    # -- jaw: the mandible turns about the jaw joints: everything below the lip line between the
    # mouth corners, and below a line rising from the corners to the joints further out (the jaw's
    # body and angle), the cheeks between stretching
    rise = np.clip(np.abs(v[:, 0]) - _MANDIBLE_RISE_FROM_CM, 0.0, None) * _MANDIBLE_RISE
    below = _smoothstep(v[13, 1] - 0.05 + rise, v[14, 1] + 0.1 + _CHEEK_FIRM * rise, v[:, 1])
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
        # AU12: the corner pulled up and out along the zygomatic major, the lip's outer half
        # following it, the cheek above pushed up and forward against the nasolabial fold
        pull = _falloff(v, v[_CORNERS[side]], (1.7, 1.1, 1.5))
        bulge = _falloff(v, v[_CORNERS[side]] + np.array([sx * 1.2, 1.6, 0.0]), (1.4, 1.3, 1.5))
        shapes[f"mouthSmile{side}"] = move(pull, (sx * 0.6, 1.0, -0.25)) + move(bulge, (sx * 0.1, 0.3, 0.25))
        shapes[f"mouthFrown{side}"] = move(corner, (sx * 0.1, -0.45, 0))
        shapes[f"mouthDimple{side}"] = move(corner, (sx * 0.2, 0, -0.3))
        shapes[f"mouthStretch{side}"] = move(corner, (sx * 0.45, -0.15, -0.1))
        half = _falloff(v, mouth + np.array([sx * 1.3, 0, 0]), (1.4, 0.8, 1.5))
        shapes[f"mouthPress{side}"] = np.where((v[:, 1] < mouth[1])[:, None], move(half, (0, 0.12, -0.1)),
                                               move(half, (0, -0.08, -0.1)))
        shapes[f"mouthLowerDown{side}"] = move(_falloff(v, mouth + np.array([sx * 1.1, -0.6, 0.1]), (1.3, 0.6, 1.5)), (0, -0.6, 0))
        shapes[f"mouthUpperUp{side}"] = move(_falloff(v, mouth + np.array([sx * 1.1, 0.6, 0.3]), (1.3, 0.6, 1.5)), (0, 0.6, 0))

        upper_i, lower_i = _EYELIDS[side]
        centre = (v[upper_i] + v[lower_i]) / 2.0
        opening = float(v[upper_i, 1] - v[lower_i, 1])
        eye = _falloff(v, centre, (1.6, 1.0, 3.0))
        upper = eye * (v[:, 1] > centre[1] - 0.02)
        lower = eye * (v[:, 1] <= centre[1] - 0.02)
        shapes[f"eyeBlink{side}"] = move(upper, (0, -opening * 1.0 / 0.98, 0)) + move(lower, (0, opening * 0.08, 0))
        shapes[f"eyeSquint{side}"] = move(lower, (0, opening * 0.35, 0)) + move(upper, (0, -opening * 0.1, 0))
        shapes[f"eyeWide{side}"] = move(upper, (0, opening * 0.65, 0))  # AU5: the white shows above the iris
        shapes[f"eyeLookUp{side}"] = move(upper, (0, opening * 0.15, 0))
        shapes[f"eyeLookDown{side}"] = move(upper, (0, -opening * 0.35, 0))
        shapes[f"eyeLookIn{side}"] = move(eye, (-sx * 0.08, 0, 0))
        shapes[f"eyeLookOut{side}"] = move(eye, (sx * 0.08, 0, 0))

        # AU4 (corrugator, depressor supercilii, procerus): the brow lowered, most at its inner end,
        # and drawn towards the midline
        brow = _falloff(v, v[_BROWS[side]], (2.6, 1.2, 2.0))
        head = _falloff(v, v[_INNER_BROWS[side]] + np.array([sx * 0.3, 0.0, 0.0]), (1.3, 1.2, 2.0))
        shapes[f"browDown{side}"] = move(brow, (-sx * 0.1, -0.2, 0.0)) + move(head, (-sx * 0.45, -1.1, 0.1))
        shapes[f"browOuterUp{side}"] = move(_falloff(v, v[_BROWS[side]] + np.array([sx * 1.0, 0, -0.5]), (1.4, 1.0, 2.0)), (0, 1.0, 0))
        shapes[f"cheekSquint{side}"] = move(_falloff(v, centre + np.array([sx * 0.6, -2.4, 0.3]), (1.7, 1.1, 2.0)), (0, 0.4, 0.2))
        # AU9: the wing of the nose drawn up by about 6 mm (a quarter of that was too small to see)
        shapes[f"noseSneer{side}"] = move(_falloff(v, v[1] + np.array([sx * 1.2, 0.3, -1.7]), (1.0, 1.0, 1.5)), (0, 0.62, 0.12))

    inner = _falloff(v, np.array([1.6, v[_BROWS["Left"], 1], v[_BROWS["Left"], 2] + 0.6]), (1.5, 1.3, 2.0))
    inner += _falloff(v, np.array([-1.6, v[_BROWS["Right"], 1], v[_BROWS["Right"], 2] + 0.6]), (1.5, 1.3, 2.0))
    shapes["browInnerUp"] = move(inner, (0, 1.1, 0))
    puff = _falloff(v, np.array([4.2, -3.0, 3.6]), (1.8, 1.8, 2.0)) + _falloff(v, np.array([-4.2, -3.0, 3.6]), (1.8, 1.8, 2.0))
    shapes["cheekPuff"] = puff[:, None] * np.stack([np.sign(v[:, 0]) * 0.4, np.zeros(len(v)), np.full(len(v), 0.3)], axis=1)

    missing = [n for n in ARKIT_BLENDSHAPES if n not in shapes]
    assert not missing, missing
    return np.stack([shapes[n] for n in ARKIT_BLENDSHAPES]).astype(np.float32)
