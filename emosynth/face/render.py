"""Rendering the avatar head on a CPU: frames (numpy) and MP4 video (H.264 + AAC).

Each frame: the head (:mod:`.head`) deformed by the track's 52 weights and turned by its head
rotation, seen front-on (orthographic), its triangles flat-shaded by one key light and a fill
(back faces culled, far to near); behind the mesh's holes sit the eyes (white, with an iris that
follows the gaze) and the mouth's dark interior with a band of upper teeth; a lash line marks each
upper eyelid. Triangles are filled by
Pillow (a dependency of matplotlib); video is encoded by the ffmpeg binary that the optional
``video`` extra installs (``imageio-ffmpeg``), run as a separate program.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import FaceError, MissingExtraError
from ..io import atomic_path
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

    def _to_pixels(self, points: np.ndarray) -> np.ndarray:
        xy = (points[:, :2] - self._centre) * self._scale
        return np.stack([self.size / 2 + xy[:, 0], self.size / 2 - xy[:, 1]], axis=1)

    def frame(self, weights: np.ndarray, head_rotation=(0.0, 0.0, 0.0), gaze=(0.0, 0.0)) -> np.ndarray:
        """One frame (size, size, 3) uint8 for blendshape weights (52,), yaw/pitch/roll and gaze (radians)."""
        from PIL import Image, ImageDraw

        rot = _rotation(*head_rotation)
        v = (self.head.deformed(weights).astype(np.float64) - _HEAD_CENTRE_CM) @ rot.T + _HEAD_CENTRE_CM
        px = self._to_pixels(v)
        image = Image.new("RGB", (self.size, self.size), _BACKGROUND)
        draw = ImageDraw.Draw(image)
        self._draw_mouth(draw, px)
        for side in _EYES:
            self._draw_eye(draw, px, side, gaze)
        tris = self.head.triangles
        a, b, c = v[tris[:, 0]], v[tris[:, 1]], v[tris[:, 2]]
        normals = np.cross(b - a, c - a)
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        facing = normals[:, 2] > 0.0  # the mesh winds counter-clockwise seen from the front
        shade = 0.35 + 0.65 * np.clip(normals @ _LIGHT, 0.0, 1.0) + 0.1 * np.clip(normals[:, 2], 0, 1)
        colours = np.clip(_SKIN[None, :] * shade[:, None], 0, 255).astype(np.uint8)
        depth = (a[:, 2] + b[:, 2] + c[:, 2]) / 3.0
        for t in np.flatnonzero(facing)[np.argsort(depth[facing])]:
            tri = tris[t]
            draw.polygon([tuple(px[tri[0]]), tuple(px[tri[1]]), tuple(px[tri[2]])], fill=tuple(colours[t]))
        lash = max(1, round(0.08 * self._scale))
        for lid in _UPPER_LIDS:
            draw.line([tuple(px[i]) for i in lid], fill=(40, 28, 24), width=lash, joint="curve")
        return np.asarray(image)

    def _draw_mouth(self, draw, px: np.ndarray) -> None:
        left, right, top, bottom = px[291], px[61], px[13], px[14]
        cx, cy = (left[0] + right[0]) / 2, (top[1] + bottom[1]) / 2
        half_w = abs(left[0] - right[0]) / 2 + 2
        half_h = max(abs(bottom[1] - top[1]) / 2, 1.0) + 6
        draw.ellipse([cx - half_w, cy - half_h, cx + half_w, cy + half_h], fill=(70, 18, 24))
        teeth_h = 0.28 * self._scale  # upper teeth show under the upper lip
        draw.rectangle([cx - 0.6 * half_w, top[1] - 2, cx + 0.6 * half_w, top[1] + teeth_h], fill=(236, 232, 222))

    def _draw_eye(self, draw, px: np.ndarray, side: str, gaze) -> None:
        upper, lower, outer, inner = _EYES[side]
        cx = (px[outer][0] + px[inner][0]) / 2
        cy = (px[upper][1] + px[lower][1]) / 2
        half_w = abs(px[outer][0] - px[inner][0]) / 2 + 3
        half_h = 0.45 * self._scale
        draw.ellipse([cx - half_w, cy - half_h, cx + half_w, cy + half_h], fill=(240, 238, 232))
        # positive gaze yaw turns the eyes to the avatar's left, which is the viewer's right
        ix = cx + float(gaze[0]) / 0.5 * _IRIS_TRAVEL_CM * self._scale
        iy = cy - float(gaze[1]) / 0.5 * _IRIS_TRAVEL_CM * self._scale
        r = 0.42 * self._scale
        draw.ellipse([ix - r, iy - r, ix + r, iy + r], fill=(78, 58, 40))
        draw.ellipse([ix - r / 2.2, iy - r / 2.2, ix + r / 2.2, iy + r / 2.2], fill=(12, 10, 10))


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
