"""Reading a portrait photo and cropping it square around its one face.

:func:`load_portrait` reads the photo (EXIF orientation applied, RGB; transparency on grey), finds
its one face with MediaPipe's FaceLandmarker (:func:`.landmarks.find_faces_anywhere`; extra
``facecheck``) and crops a square frame around it, padding with the photo's edge where the photo is
too small. Everything a photo can get wrong (not an image, too small, no face, several, turned
aside, off the edge) is refused here, before any rendering (:mod:`.portrait` animates it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import FaceError, MissingExtraError
from .landmarks import find_faces_anywhere
from .render import DEFAULT_SIZE

__all__ = ["Portrait", "load_portrait", "example_portrait_path", "MIN_IMAGE_PX", "MIN_FACE_PX"]

#: The shorter side of a portrait, at least (pixels).
MIN_IMAGE_PX = 128
#: The face's width (cheek to cheek) in the photo, at least (pixels).
MIN_FACE_PX = 64
_MAX_IMAGE_PX = 2048  # larger photos are scaled down to this longer side before anything else
_MAX_FACES = 4  # faces looked for, to say how many there are
_FACE_SHARE = 0.46  # of the output frame's side, the face's extent (landmarks' bounding box)


def example_portrait_path() -> Path:
    """A portrait that ships with emosynth (NASA's photo of Eileen Collins, public domain)."""
    return Path(str(resources.files("emosynth.face_assets") / "astronaut.jpg"))


@dataclass(frozen=True)
class Portrait:
    """A photo cropped square around its one face, with that face's landmarks."""

    image: np.ndarray  # (size, size, 3) uint8 RGB
    landmarks: np.ndarray  # (478, 3) in the image's pixels: pixel centres at integers, y down
    source: str  # where it came from, for messages

    @property
    def size(self) -> int:
        return int(self.image.shape[0])


def load_portrait(source: str | os.PathLike[str] | np.ndarray, *, size: int = DEFAULT_SIZE) -> Portrait:
    """Read a portrait (an image file, or an RGB uint8 array), find its one face and crop a square
    ``size`` x ``size`` frame around it (the face takes about half of it).

    Raises :class:`FaceError` naming what is wrong: not a readable image, smaller than
    MIN_IMAGE_PX on a side, no face, more than one face, a face narrower than MIN_FACE_PX, turned
    too far from the camera or running off the photo's edge.
    """
    if not 64 <= size <= 4096:
        raise FaceError(f"frame size {size} is out of range; accepted: 64 to 4096 pixels")
    name = "the image" if isinstance(source, np.ndarray) else str(source)
    rgb = _read_rgb(source, name)
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_IMAGE_PX:
        raise FaceError(f"{name}: the image is {w}x{h} px; accepted: portraits at least {MIN_IMAGE_PX} px "
                        "on each side")
    if max(h, w) > _MAX_IMAGE_PX:
        rgb = _resized(rgb, _MAX_IMAGE_PX / max(h, w))
    faces = find_faces_anywhere(rgb, max_faces=_MAX_FACES, min_side=MIN_IMAGE_PX)
    if not faces:
        raise FaceError(f"{name}: no face found; accepted: a photo of one face seen from the front, at least "
                        f"{MIN_FACE_PX} px wide")
    if len(faces) > 1:
        many = f"{_MAX_FACES} or more" if len(faces) >= _MAX_FACES else str(len(faces))
        raise FaceError(f"{name}: {many} faces found; accepted: a photo of exactly one face (crop it to the "
                        "face to animate)")
    landmarks = faces[0]
    _check_face(landmarks, rgb.shape, name)
    image, landmarks = _crop(rgb, landmarks, size)
    return Portrait(image=image, landmarks=landmarks, source=name)


def _read_rgb(source, name: str) -> np.ndarray:
    if isinstance(source, np.ndarray):
        if source.ndim != 3 or source.shape[2] != 3 or source.dtype != np.uint8:
            raise FaceError(f"{name}: expected RGB uint8 (h, w, 3), got {source.shape} {source.dtype}")
        return np.ascontiguousarray(source)
    from PIL import Image, ImageOps

    path = Path(source)
    if not path.is_file():
        raise FaceError(f"{path}: no such file" + (" (a folder)" if path.is_dir() else ""))
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = Image.alpha_composite(Image.new("RGBA", im.size, (128, 128, 128, 255)), im.convert("RGBA"))
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise FaceError(f"{path}: not an image that can be read ({type(exc).__name__}); accepted: photos as "
                        "JPEG, PNG, WebP, BMP, TIFF or GIF") from None


def _resized(rgb: np.ndarray, scale: float) -> np.ndarray:
    cv2 = _cv2()
    h, w = rgb.shape[:2]
    dsize = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, dsize, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def _cv2():
    try:
        import cv2
    except ImportError:
        raise MissingExtraError("animating a portrait (OpenCV)", extra="facecheck") from None
    return cv2


def _check_face(landmarks: np.ndarray, shape, name: str) -> None:
    xy = landmarks[:468, :2]
    width = float(np.linalg.norm(xy[454] - xy[234]))  # cheek to cheek, at the eyes' height
    if width < MIN_FACE_PX:
        raise FaceError(f"{name}: the face is {int(width)} px wide; accepted: faces at least {MIN_FACE_PX} px "
                        "wide (a larger or closer photo)")
    # the nose tip's place between the cheeks: 0.5 seen from the front, near 0 or 1 in profile
    axis = xy[454] - xy[234]
    across = float(np.dot(xy[1] - xy[234], axis) / np.dot(axis, axis))
    if not 0.2 <= across <= 0.8:
        raise FaceError(f"{name}: the face is turned too far to the side; accepted: a face seen from the front "
                        "(turned less than about 45 degrees)")
    h, w = shape[:2]
    outside = np.mean((xy[:, 0] < 0) | (xy[:, 0] > w) | (xy[:, 1] < 0) | (xy[:, 1] > h))
    if outside > 0.02:
        raise FaceError(f"{name}: {100 * outside:.0f}% of the face lies outside the photo; accepted: a photo "
                        "with the whole face in it")


def _crop(rgb: np.ndarray, landmarks: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The square around the face, scaled to size x size, and the landmarks in its pixels."""
    cv2 = _cv2()
    h, w = rgb.shape[:2]
    lo, hi = landmarks[:468, :2].min(axis=0), landmarks[:468, :2].max(axis=0)
    extent = float(max(hi - lo))
    side = extent / _FACE_SHARE
    if side > min(h, w):  # a close-up: take what the photo has, padding only below 1.4 face extents
        side = max(min(h, w), 1.4 * extent)
    side = int(round(side))
    centre = (lo + hi) / 2 - np.array([0.0, 0.05 * extent])  # a little above: more hair, less neck
    origin = np.round(centre - side / 2).astype(int)
    for axis, dim in ((0, w), (1, h)):
        if side <= dim:  # inside the photo where it can be
            origin[axis] = min(max(origin[axis], 0), dim - side)
    pad = max(0, -origin[0], -origin[1], origin[0] + side - w, origin[1] + side - h)
    if pad:
        rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    x0, y0 = origin + pad
    crop = np.ascontiguousarray(rgb[y0:y0 + side, x0:x0 + side])
    scale = size / side
    image = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    out = landmarks.astype(np.float64).copy()
    out[:, :2] = (out[:, :2] - origin) * scale - 0.5  # MediaPipe's coordinates run from pixel edges
    out[:, 2] *= scale
    return image, out
