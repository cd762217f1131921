"""Reading faces back: MediaPipe's FaceLandmarker on images, for checking what a render shows.

The model (faces/face_landmarker.task: face detector, 478 landmarks and the 52-blendshape head;
MediaPipe, Apache-2.0) ships with emosynth; the ``mediapipe`` runtime comes with the optional extra
``facecheck``. Used by the round-trip check (render a track, read the blendshapes back, compare)
and to find the face in a portrait photo (:func:`find_faces`, :mod:`.portrait`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import FaceError, MissingExtraError
from .arkit import ARKIT_BLENDSHAPES

if TYPE_CHECKING:
    from .track import BlendshapeTrack

__all__ = ["FaceReader", "RoundTrip", "round_trip", "find_faces", "find_faces_anywhere", "landmarker_model_path"]


def landmarker_model_path() -> Path:
    return Path(str(resources.files("emosynth.face_assets") / "face_landmarker.task"))


def _landmarker(what: str, *, num_faces: int, blendshapes: bool):
    """(the mediapipe module, a FaceLandmarker for still images); ``what`` names the use in the
    error raised when the ``facecheck`` extra is missing."""
    try:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions
        from mediapipe.tasks.python import vision
    except ImportError:
        raise MissingExtraError(what, extra="facecheck") from None
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(landmarker_model_path())),
        output_face_blendshapes=blendshapes, num_faces=num_faces, running_mode=vision.RunningMode.IMAGE)
    return mp, vision.FaceLandmarker.create_from_options(options)


def _as_mp_image(mp, image: np.ndarray):
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise FaceError(f"images must be RGB uint8 (h, w, 3), got {image.shape} {image.dtype}")
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))


@contextmanager
def _quiet_stderr():
    """Standard error (file descriptor 2, where native code writes) sent to the null device."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def find_faces(images: Iterable[np.ndarray], *, max_faces: int = 4) -> list[list[np.ndarray]]:
    """The faces FaceLandmarker finds in each RGB uint8 image (h, w, 3), up to ``max_faces`` an
    image: for each image a list of arrays (478, 3), a face's landmarks in pixels (x right, y down,
    from the image's top-left corner; z depth on the x scale, smaller nearer the camera). The first
    468 follow the canonical face mesh's vertex order (:mod:`.head`), the last 10 are the irises."""
    found = []
    with _quiet_stderr():  # MediaPipe's C++ logging would print a page of notes before a one-line error
        mp, landmarker = _landmarker("finding faces with MediaPipe", num_faces=max_faces, blendshapes=False)
        try:
            for image in images:
                result = landmarker.detect(_as_mp_image(mp, image))
                h, w = image.shape[:2]
                found.append([np.array([(p.x * w, p.y * h, p.z * w) for p in face])
                              for face in result.face_landmarks])
        finally:
            landmarker.close()
    return found


def find_faces_anywhere(rgb: np.ndarray, *, max_faces: int = 4, min_side: int = 128) -> list[np.ndarray]:
    """The faces in a photo. FaceLandmarker's detector sees the photo shrunk to a small square, so
    a face that is small in a large or long photo is looked for again in overlapping square windows
    (the photo's shorter side, then halves of it down to ``min_side``); a face found in several windows
    counts once."""
    faces = find_faces([rgb], max_faces=max_faces)[0]
    h, w = rgb.shape[:2]
    side = min(h, w)
    while not faces and side >= min_side:
        corners = [(x, y) for y in _window_starts(h, side) for x in _window_starts(w, side)]
        found = find_faces([rgb[y:y + side, x:x + side] for x, y in corners], max_faces=max_faces)
        # a face cut by a window's edge is found with guessed landmarks: the most central finding wins
        margin = lambda face: float(min(face[:, :2].min(), side - face[:, :2].max()))  # noqa: E731
        found = sorted(((margin(f), f + [x, y, 0.0]) for (x, y), fs in zip(corners, found) for f in fs),
                       key=lambda mf: -mf[0])
        for _, face in found:
            width = np.linalg.norm(face[454, :2] - face[234, :2])
            if all(np.linalg.norm(face[1, :2] - f[1, :2]) > 0.3 * width for f in faces):
                faces.append(face)
        side //= 2
    return faces


def _window_starts(length: int, side: int) -> list[int]:
    """Where windows of ``side`` start along ``length``, overlapping by half."""
    n = int(np.ceil(max(length - side, 0) / (side / 2))) + 1
    return sorted({int(round(v)) for v in np.linspace(0, length - side, n)})


class FaceReader:
    """ARKit blendshapes of the one face in each RGB image, in ARKIT_BLENDSHAPES order.

    A row is all NaN where no face is found. MediaPipe's model gives 51 of the 52 shapes (it has no
    tongueOut; its extra "_neutral" is dropped), so the tongueOut column is always NaN.
    """

    def __init__(self) -> None:
        self._mp, self._landmarker = _landmarker("reading faces with MediaPipe", num_faces=1, blendshapes=True)

    def blendshapes(self, frames: Iterable[np.ndarray]) -> np.ndarray:
        """(n, 52) in ARKIT_BLENDSHAPES order for RGB uint8 frames (h, w, 3)."""
        rows = []
        for frame in frames:
            result = self._landmarker.detect(_as_mp_image(self._mp, frame))
            if not result.face_blendshapes:
                rows.append(np.full(len(ARKIT_BLENDSHAPES), np.nan))
                continue
            scores = {c.category_name: c.score for c in result.face_blendshapes[0]}
            rows.append(np.array([scores.get(n, np.nan) for n in ARKIT_BLENDSHAPES]))
        return np.stack(rows) if rows else np.zeros((0, len(ARKIT_BLENDSHAPES)))

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> "FaceReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(frozen=True)
class RoundTrip:
    """What drove each rendered frame and what FaceLandmarker read back, both (n, 52)."""

    driven: np.ndarray
    read: np.ndarray

    @property
    def found(self) -> np.ndarray:
        """(n,) frames where a face was found (tongueOut is always NaN, so another shape decides)."""
        return ~np.isnan(self.read[:, ARKIT_BLENDSHAPES.index("jawOpen")])

    def r(self, *names: str) -> float:
        """Pearson r between driven and read over the frames with a face, the named shapes averaged
        (left and right of a pair, say)."""
        cols = [ARKIT_BLENDSHAPES.index(n) for n in names]
        ok = self.found
        return float(np.corrcoef(self.driven[ok][:, cols].mean(axis=1), self.read[ok][:, cols].mean(axis=1))[0, 1])


def round_trip(tracks: Sequence["BlendshapeTrack"], *, size: int = 512) -> RoundTrip:
    """Render every frame of ``tracks`` and read the blendshapes back with FaceLandmarker."""
    from .render import HeadRenderer

    renderer = HeadRenderer(size)
    frames = (renderer.frame(t.weights[i], t.head_rotation[i], t.gaze[i]) for t in tracks for i in range(t.n_frames))
    with FaceReader() as reader:
        read = reader.blendshapes(frames)
    return RoundTrip(driven=np.concatenate([t.weights for t in tracks]), read=read)
