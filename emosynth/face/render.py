"""Rendering the avatar head on a CPU: frames (numpy) and MP4 video (H.264 + AAC).

Each frame: the head (:mod:`.head`) deformed by the track's 52 weights and turned by its head
rotation, seen front-on (orthographic), its triangles flat-shaded by one key light and a fill
(back faces culled, far to near), the lips tinted, in front of a neck in the jaw's shadow; behind
the mesh's holes sit the eyes (white, with an iris about 0.4 of the eye's width that follows the
gaze) and the mouth's dark interior with the upper incisors (fixed to the skull) and the lower ones
(riding on the jaw). Over the skin: creases and folds that deepen with the shapes that make them,
as a game head's wrinkle maps do (the nasolabial fold with a smile, AU6's furrow under the eye and
crow's feet, the furrows between lowered brows, forehead lines with raised brows, ...; a shade layer
multiplied into the frame), the brows (filled between the mesh's brow landmarks), a lash line on
each upper eyelid. Triangles are filled by Pillow (a dependency of matplotlib); video is encoded by
the ffmpeg binary that the optional ``video`` extra installs (``imageio-ffmpeg``), run as a
separate program.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import FaceError, MissingExtraError
from ..io import atomic_path
from .arkit import index_of
from .head import Head, load_head
from .track import BlendshapeTrack

__all__ = ["HeadRenderer", "render_video", "DEFAULT_SIZE"]

DEFAULT_SIZE = 512
_BACKGROUND = (34, 38, 46)
_SKIN = np.array([222.0, 172.0, 146.0])
_LIGHT = np.array([-0.35, 0.45, 0.82]) / np.linalg.norm([-0.35, 0.45, 0.82])
_HEAD_CENTRE_CM = np.array([0.0, 0.0, -4.0])  # rotations turn the face about a point inside the head
_EYES = {"Left": (386, 374, 263, 362), "Right": (159, 145, 33, 133)}  # upper, lower, corners
# Upper eyelid margins, corner to corner: drawn as a lash line, so the lid reads against the eye.
_UPPER_LIDS = ((263, 466, 388, 387, 386, 385, 384, 398, 362), (33, 246, 161, 160, 159, 158, 157, 173, 133))
_IRIS_TRAVEL_CM = 0.9  # iris offset at 0.5 rad of gaze
_IRIS_RADIUS_CM = 0.52  # a human iris is about 11 mm across: the lids cover its top and bottom at rest
_SCLERA = (208, 200, 192)
# Brows: upper edge medial to lateral... each a closed outline (upper edge, then lower edge back).
_BROW_OUTLINES = ((70, 63, 105, 66, 107, 55, 65, 52, 53, 46), (300, 293, 334, 296, 336, 285, 295, 282, 283, 276))
_BROW_COLOUR = (64, 46, 36)
# The lips' vertices: outer contour, two rings between, inner contour (MediaPipe's lip landmarks).
_LIP_VERTICES = frozenset({
    61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 146, 91, 181, 84, 17, 314, 405, 321, 375,
    76, 184, 74, 73, 72, 11, 302, 303, 304, 408, 306, 77, 90, 180, 85, 16, 315, 404, 320, 307,
    62, 183, 42, 41, 38, 12, 268, 271, 272, 407, 292, 96, 89, 179, 86, 15, 316, 403, 319, 325,
    78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 95, 88, 178, 87, 14, 317, 402, 318, 324})
_LIP_TINT = np.array([0.93, 0.70, 0.70])  # lips: skin times this
_MOUTH_INTERIOR = (52, 14, 18)
_TEETH, _TEETH_LOWER = (232, 228, 218), (206, 200, 190)
_TEETH_HALF_WIDTH_CM = 1.9
_UPPER_TEETH_SHOW_CM = 0.25  # incisors showing below the relaxed upper lip
_IRIS = (78, 58, 40)
# A crease's cross-section: shadow widths (in crease widths) and their share of its darkness, outside in.
_CREASE_PROFILE = ((4.0, 0.2), (2.8, 0.4), (1.8, 0.65), (1.0, 1.0))
# The neck, in shadow under the jaw: front-on outline (cm), behind the head and still as it turns.
_NECK = np.array([[-5.2, -2.0], [-5.4, -9.0], [-5.8, -14.0], [-9.0, -20.0], [9.0, -20.0], [5.8, -14.0],
                  [5.4, -9.0], [5.2, -2.0]])
_NECK_COLOUR = tuple(int(c) for c in 0.55 * _SKIN)


class _Crease(NamedTuple):
    """A crease or fold that deepens with the shapes that make it (as a game head's wrinkle maps do)."""

    shapes: dict[str, float]  # ARKit shape (subject's right; mirrored for the left) -> how much it deepens it
    path: tuple[tuple[int, ...], ...]  # through the mesh; a tuple of several landmarks means their midpoint
    darkness: float  # at full depth
    width_cm: float
    rest: float = 0.0  # depth with every shape at 0


_CREASES = (
    # nasolabial fold, down past the mouth corner: AU12 pulls the corner up and back, AU6 lifts the cheek against it
    _Crease({"mouthSmileRight": 1.0, "cheekSquintRight": 0.4}, ((129,), (203,), (206,), (216,), (212,)), 0.55, 0.16,
            rest=0.15),
    # its upper part, beside the nose: AU9 and AU10 lift the upper lip and deepen it there
    _Crease({"mouthUpperUpRight": 0.6, "noseSneerRight": 0.6}, ((129,), (203,), (206,)), 0.55, 0.16),
    # infraorbital furrow under the lower lid, AU6
    _Crease({"cheekSquintRight": 1.0, "eyeSquintRight": 0.3}, ((110,), (24,), (23,), (22,), (26,)), 0.35, 0.16),
    # crow's feet at the outer corner of the eye, AU6 (orbicularis oculi, outer part)
    _Crease({"cheekSquintRight": 1.0}, ((130,), (226,), (35,)), 0.35, 0.1),
    # vertical furrow between the brows, AU4 (corrugator)
    _Crease({"browDownRight": 1.0}, ((107, 9), (55, 8)), 0.5, 0.05),
    # the shadow under a lowered brow, over the upper lid, AU4
    _Crease({"browDownRight": 1.0}, ((225,), (224,), (223,), (222,), (221,)), 0.35, 0.1),
    # wrinkle across the root of the nose: AU9, and AU4's procerus
    _Crease({"noseSneerRight": 1.0, "browDownRight": 0.5}, ((189,), (193,), (168,)), 0.45, 0.05),
    # forehead lines, AU1 in the middle and AU2 to the side
    _Crease({"browInnerUp": 0.6, "browOuterUpRight": 0.5}, ((104,), (69,), (108,), (151,)), 0.35, 0.08),
    # lines down from the mouth corners, AU15
    _Crease({"mouthFrownRight": 1.0}, ((57,), (43,), (202,)), 0.35, 0.1),
    # mentolabial sulcus under the lower lip, AU17
    _Crease({"mouthShrugLower": 1.0}, ((18,), (83,), (182,)), 0.35, 0.1),
    # the upper lid's fold, always there
    _Crease({}, ((247,), (30,), (29,), (27,), (28,), (56,)), 0.3, 0.08, rest=1.0),
)


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return ry @ rx @ rz


class HeadRenderer:
    """Draws frames of the avatar head, ``size`` x ``size`` RGB."""

    def __init__(self, size: int = DEFAULT_SIZE, head: Head | None = None) -> None:
        if not 64 <= size <= 4096:
            raise FaceError(f"frame size {size} is out of range; accepted: 64 to 4096 pixels")
        self.size = size
        self.head = head or load_head()
        v = self.head.vertices
        span = float(max(np.ptp(v[:, 0]), np.ptp(v[:, 1])))
        self._scale = 0.86 * size / span  # pixels per cm
        self._centre = np.array([(v[:, 0].max() + v[:, 0].min()) / 2, (v[:, 1].max() + v[:, 1].min()) / 2])
        lips = np.array([set(t) <= _LIP_VERTICES for t in self.head.triangles.tolist()])
        self._base = np.where(lips[:, None], _SKIN * _LIP_TINT, _SKIN)
        self._creases = _mirrored_creases(v)
        self._teeth = _teeth(v)
        self._jaw_at_teeth = self.head.targets[index_of("jawOpen")][14].astype(np.float64)

    def _to_pixels(self, points: np.ndarray) -> np.ndarray:
        xy = (points[:, :2] - self._centre) * self._scale
        return np.stack([self.size / 2 + xy[:, 0], self.size / 2 - xy[:, 1]], axis=1)

    def frame(self, weights: np.ndarray, head_rotation=(0.0, 0.0, 0.0), gaze=(0.0, 0.0)) -> np.ndarray:
        """One frame (size, size, 3) uint8 for blendshape weights (52,), yaw/pitch/roll and gaze (radians)."""
        from PIL import Image, ImageDraw

        weights = np.asarray(weights, dtype=np.float64)
        rot = _rotation(*head_rotation)

        def pose(points: np.ndarray) -> np.ndarray:
            return (points - _HEAD_CENTRE_CM) @ rot.T + _HEAD_CENTRE_CM

        v = pose(self.head.deformed(weights).astype(np.float64))
        px = self._to_pixels(v)
        image = Image.new("RGB", (self.size, self.size), _BACKGROUND)
        draw = ImageDraw.Draw(image)
        draw.polygon([tuple(p) for p in self._to_pixels(_NECK)], fill=_NECK_COLOUR)
        self._draw_mouth(draw, px, pose, weights[index_of("jawOpen")])
        for side in _EYES:
            self._draw_eye(draw, px, side, gaze)
        tris = self.head.triangles
        a, b, c = v[tris[:, 0]], v[tris[:, 1]], v[tris[:, 2]]
        normals = np.cross(b - a, c - a)
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        facing = normals[:, 2] > 0.0  # the mesh winds counter-clockwise seen from the front
        shade = 0.35 + 0.65 * np.clip(normals @ _LIGHT, 0.0, 1.0) + 0.1 * np.clip(normals[:, 2], 0, 1)
        colours = np.clip(self._base * shade[:, None], 0, 255).astype(np.uint8)
        depth = (a[:, 2] + b[:, 2] + c[:, 2]) / 3.0
        for t in np.flatnonzero(facing)[np.argsort(depth[facing])]:
            tri = tris[t]
            draw.polygon([tuple(px[tri[0]]), tuple(px[tri[1]]), tuple(px[tri[2]])], fill=tuple(colours[t]))
        image = self._shade_creases(image, px, weights)
        draw = ImageDraw.Draw(image)
        for outline in _BROW_OUTLINES:
            draw.polygon([tuple(px[i]) for i in outline], fill=_BROW_COLOUR)
        lash = max(1, round(0.13 * self._scale))
        for lid in _UPPER_LIDS:
            draw.line([tuple(px[i]) for i in lid], fill=(40, 28, 24), width=lash, joint="curve")
        return np.asarray(image)

    def _shade_creases(self, image, px: np.ndarray, weights: np.ndarray):
        """The image darkened along each crease, as deep as its shapes make it (a multiplied shade layer)."""
        from PIL import Image, ImageChops, ImageDraw

        shade = Image.new("L", image.size, 255)
        draw = ImageDraw.Draw(shade)
        dark = [(crease.darkness * min(1.0, crease.rest + float(weights[shapes] @ factors)), path, crease)
                for shapes, factors, path, crease in self._creases]
        for darkness, path, crease in sorted(dark, key=lambda d: d[0]):  # deeper ones last, over shallower
            if darkness < 0.02:
                continue
            line = [tuple(px[list(p)].mean(axis=0)) for p in path]
            for k, share in _CREASE_PROFILE:
                draw.line(line, fill=round(255 * (1.0 - share * darkness)),
                          width=max(1, round(k * crease.width_cm * self._scale)), joint="curve")
        return ImageChops.multiply(image, Image.merge("RGB", (shade, shade, shade)))

    def _draw_mouth(self, draw, px: np.ndarray, pose, jaw: float) -> None:
        left, right, top, bottom = px[291], px[61], px[13], px[14]
        cx, cy = (left[0] + right[0]) / 2, (top[1] + bottom[1]) / 2
        half_w = abs(left[0] - right[0]) / 2 + 2
        half_h = max(abs(bottom[1] - top[1]) / 2, 1.0) + 6
        draw.ellipse([cx - half_w, cy - half_h, cx + half_w, cy + half_h], fill=_MOUTH_INTERIOR)
        upper, lower = self._teeth
        # lower teeth ride on the jaw, behind the upper ones, which sit on the skull
        draw.polygon([tuple(p) for p in self._to_pixels(pose(lower + jaw * self._jaw_at_teeth))], fill=_TEETH_LOWER)
        draw.polygon([tuple(p) for p in self._to_pixels(pose(upper))], fill=_TEETH)

    def _draw_eye(self, draw, px: np.ndarray, side: str, gaze) -> None:
        upper, lower, outer, inner = _EYES[side]
        cx = (px[outer][0] + px[inner][0]) / 2
        cy = (px[upper][1] + px[lower][1]) / 2
        half_w = abs(px[outer][0] - px[inner][0]) / 2 + 3
        half_h = 0.6 * self._scale
        draw.ellipse([cx - half_w, cy - half_h, cx + half_w, cy + half_h], fill=_SCLERA)
        # positive gaze yaw turns the eyes to the avatar's left, which is the viewer's right
        ix = cx + float(gaze[0]) / 0.5 * _IRIS_TRAVEL_CM * self._scale
        iy = cy - float(gaze[1]) / 0.5 * _IRIS_TRAVEL_CM * self._scale
        r = _IRIS_RADIUS_CM * self._scale
        draw.ellipse([ix - r, iy - r, ix + r, iy + r], fill=_IRIS)
        draw.ellipse([ix - r / 2.4, iy - r / 2.4, ix + r / 2.4, iy + r / 2.4], fill=(12, 10, 10))


def _mirrored_creases(v: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, tuple[tuple[int, ...], ...], _Crease]]:
    """_CREASES for both sides (shape indices, their factors, the path, the crease): each landmark mirrored
    to its nearest vertex across x = 0."""
    mirror = np.argmin(np.linalg.norm(v[None, :, :] - (v * [-1, 1, 1])[:, None, :], axis=2), axis=1)
    out = []
    for crease in _CREASES:
        for mirrored in (False, True):
            shapes = {k.replace("Right", "Left") if mirrored else k: f for k, f in crease.shapes.items()}
            path = tuple(tuple(int(mirror[i]) if mirrored else i for i in p) for p in crease.path)
            out.append((np.array([index_of(k) for k in shapes], dtype=int), np.array(list(shapes.values()), dtype=float),
                        path, crease))
    return out


def _teeth(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Front views of the upper and lower incisor arches (3D outlines, cm) behind the closed lips: the upper
    edge just below the lip line, the lower teeth's edge behind the upper ones (overbite)."""
    x = np.linspace(-1.0, 1.0, 9)
    z = float(v[13, 2]) - 0.5 - 0.4 * x ** 2
    def arch(edge: float, root: float, curve: float) -> np.ndarray:
        rim = np.stack([x * _TEETH_HALF_WIDTH_CM, edge + curve * x ** 2, z], axis=1)
        base = np.stack([x * _TEETH_HALF_WIDTH_CM, np.full_like(x, root), z], axis=1)[::-1]
        return np.concatenate([rim, base])
    upper_edge = float(v[13, 1] + v[14, 1]) / 2.0 - _UPPER_TEETH_SHOW_CM
    lower_edge = upper_edge + 0.2
    return arch(upper_edge, upper_edge + 1.2, 0.25), arch(lower_edge, lower_edge - 1.0, 0.2)


def _ffmpeg() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise MissingExtraError("writing MP4 video", extra="video") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def render_video(track: BlendshapeTrack, audio: np.ndarray, sample_rate_hz: int, path: str | os.PathLike[str],
                 *, size: int = DEFAULT_SIZE, renderer=None) -> Path:
    """An MP4 (H.264 video at the track's frame rate, AAC audio) of the head speaking; atomic.

    ``renderer`` draws the frames: anything with ``size`` and ``frame(weights, head_rotation, gaze)``
    (a :class:`.portrait.PortraitRenderer`, say); by default the avatar head, ``size`` x ``size``."""
    import soundfile as sf

    p = Path(path)
    if p.suffix.lower() != ".mp4":
        raise FaceError(f"{p}: video is written as .mp4")
    exe = _ffmpeg()
    renderer = HeadRenderer(size) if renderer is None else renderer
    size = renderer.size
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "audio.wav"
        sf.write(str(wav), np.asarray(audio, dtype=np.float32), sample_rate_hz, subtype="PCM_16")
        with atomic_path(p) as out:
            cmd = [exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                   "-s", f"{size}x{size}", "-r", str(track.fps), "-i", "-", "-i", str(wav),
                   "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
                   "-shortest", "-movflags", "+faststart", "-f", "mp4", str(out)]
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                for i in range(track.n_frames):
                    frame = renderer.frame(track.weights[i], track.head_rotation[i], track.gaze[i])
                    proc.stdin.write(frame.tobytes())
                proc.stdin.close()
            except BrokenPipeError:
                pass
            err = proc.stderr.read().decode(errors="replace")
            if proc.wait() != 0:
                raise FaceError(f"ffmpeg could not write {p}: {err.strip()[:300]}")
    return p
