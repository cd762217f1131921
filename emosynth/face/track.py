"""``BlendshapeTrack``: what the face animator makes and what game engines and avatar tools read.

One track holds, per frame at ``fps``: the 52 ARKit blendshape weights in [0, 1], the head's
rotation (yaw, pitch, roll) and the eyes' gaze (yaw, pitch), in radians. ``save`` writes it by
suffix, atomically:

* ``.csv``: the Live Link Face app's CSV (Unreal's LiveLinkFaceImporter, Blender add-ons):
  ``Timecode`` (``HH:MM:SS:FF.mmm`` at the track's frame rate), ``BlendShapeCount`` (61), the 52
  blendshapes in PascalCase, then head and eye rotations (both eyes share the gaze; roll 0).
* ``.json``: every curve by name, with the frame rate and what made the track.
* ``.npy``: an array (frames, 52) float32 in EmoTalk's (alphabetical) order.
* ``.glb``: glTF 2.0 of the avatar head (:mod:`.head`) with the 52 morph targets, animated by the
  track (:mod:`.gltf`); three.js and Blender open it.

``BlendshapeTrack.load`` reads the first three back, mapping columns by name.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FaceError
from ..io import atomic_path, write_text_atomic
from .arkit import (ARKIT_BLENDSHAPES, EMOTALK_ORDER, LIVE_LINK_FACE_COLUMNS, LIVE_LINK_FACE_ROTATIONS,
                    index_of, pascal_case)

__all__ = ["BlendshapeTrack", "TRACK_FORMATS", "FRAME_RATES"]

#: What ``save`` writes, by suffix.
TRACK_FORMATS = {".csv": "Live Link Face CSV", ".json": "JSON curves by name", ".npy": "EmoTalk-order array",
                 ".glb": "glTF 2.0 avatar head with the 52 morph targets and the animation"}
#: Frame rates the animator makes (Live Link Face records at 60, most pipelines at 30).
FRAME_RATES = (24, 25, 30, 50, 60)
_JSON_FORMAT = "emosynth-blendshape-track/1"
_EMOTALK_FROM_ARKIT = np.array([index_of(n) for n in EMOTALK_ORDER])


@dataclass(frozen=True)
class BlendshapeTrack:
    """Blendshape curves and head and eye motion at a fixed frame rate."""

    fps: int
    weights: np.ndarray  # (n_frames, 52) float32 in ARKIT_BLENDSHAPES order, each in [0, 1]
    head_rotation: np.ndarray  # (n_frames, 3) yaw, pitch, roll, radians
    gaze: np.ndarray  # (n_frames, 2) yaw, pitch of both eyes, radians
    info: dict = field(default_factory=dict)  # what made it: emotion, voice, seed, ...

    def __post_init__(self) -> None:
        n = self.weights.shape[0]
        if self.weights.shape != (n, 52) or self.head_rotation.shape != (n, 3) or self.gaze.shape != (n, 2):
            raise FaceError(f"a track needs weights (n, 52), head_rotation (n, 3) and gaze (n, 2); got "
                            f"{self.weights.shape}, {self.head_rotation.shape}, {self.gaze.shape}")

    @property
    def n_frames(self) -> int:
        return int(self.weights.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    def curve(self, name: str) -> np.ndarray:
        """One blendshape's weights over time, by ARKit (or Live Link Face) name."""
        return self.weights[:, index_of(name)]

    def emotalk_array(self) -> np.ndarray:
        """(frames, 52) float32 in EmoTalk's alphabetical order."""
        return self.weights[:, _EMOTALK_FROM_ARKIT].astype(np.float32)

    # -- writing -----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write by suffix (.csv, .json, .npy), atomically; returns the path."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix not in TRACK_FORMATS:
            raise FaceError(f"{p}: cannot write {p.suffix or 'a file without suffix'}; accepted: "
                            + ", ".join(f"{s} ({d})" for s, d in TRACK_FORMATS.items()))
        if suffix == ".csv":
            write_text_atomic(p, self.to_live_link_csv())
        elif suffix == ".json":
            write_text_atomic(p, json.dumps(self.to_dict()) + "\n")
        elif suffix == ".glb":
            from .gltf import save_glb

            save_glb(self, p)
        else:
            with atomic_path(p) as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, self.emotalk_array())
        return p

    def to_live_link_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(LIVE_LINK_FACE_COLUMNS)
        for i in range(self.n_frames):
            yaw, pitch, roll = self.head_rotation[i]
            gy, gp = self.gaze[i]
            writer.writerow([_timecode(i, self.fps), 61, *(f"{v:.6f}" for v in self.weights[i]),
                             *(f"{v:.6f}" for v in (yaw, pitch, roll, gy, gp, 0.0, gy, gp, 0.0))])
        return out.getvalue()

    def to_dict(self) -> dict:
        r = lambda a: np.round(a.astype(np.float64), 5).tolist()  # noqa: E731
        return {
            "format": _JSON_FORMAT, "fps": self.fps, "n_frames": self.n_frames, "info": self.info,
            "blendshapes": {name: r(self.weights[:, i]) for i, name in enumerate(ARKIT_BLENDSHAPES)},
            "head_rotation_rad": {"yaw": r(self.head_rotation[:, 0]), "pitch": r(self.head_rotation[:, 1]),
                                  "roll": r(self.head_rotation[:, 2])},
            "gaze_rad": {"yaw": r(self.gaze[:, 0]), "pitch": r(self.gaze[:, 1])},
        }

    # -- reading -----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str], *, fps: int | None = None) -> "BlendshapeTrack":
        """Read a track written by ``save`` (or any Live Link Face CSV); columns are found by name.

        A ``.npy`` file holds no frame rate or head motion: pass ``fps`` (head and gaze read as 0).
        """
        p = Path(path)
        suffix = p.suffix.lower()
        try:
            if suffix == ".csv":
                return _from_live_link_csv(p.read_text(), fps)
            if suffix == ".json":
                return _from_dict(json.loads(p.read_text()))
            if suffix == ".npy":
                if fps is None:
                    raise FaceError(f"{p}: a .npy track holds no frame rate; pass fps")
                arr = np.load(p, allow_pickle=False)
                if arr.ndim != 2 or arr.shape[1] != 52:
                    raise FaceError(f"{p}: expected an array (frames, 52), got {arr.shape}")
                weights = np.zeros_like(arr, dtype=np.float32)
                weights[:, _EMOTALK_FROM_ARKIT] = arr
                n = len(arr)
                return cls(fps=fps, weights=weights, head_rotation=np.zeros((n, 3)), gaze=np.zeros((n, 2)))
        except FileNotFoundError:
            raise FaceError(f"{p}: no such file") from None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise FaceError(f"{p}: not a blendshape track ({exc})") from None
        raise FaceError(f"{p}: cannot read {p.suffix or 'a file without suffix'}; accepted: .csv, .json, .npy")


def _timecode(frame: int, fps: int) -> str:
    seconds, ff = divmod(frame, fps)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}.000"


def _from_live_link_csv(text: str, fps: int | None) -> BlendshapeTrack:
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise ValueError("no frames")
    n = len(rows)
    weights = np.zeros((n, 52), dtype=np.float32)
    for name in ARKIT_BLENDSHAPES:
        weights[:, index_of(name)] = [float(r[pascal_case(name)]) for r in rows]
    rot = np.array([[float(r.get(c) or 0.0) for c in LIVE_LINK_FACE_ROTATIONS] for r in rows])
    if fps is None:  # frame numbers wrap at the frame rate, so a take of a second or more shows it
        frames = [int(r["Timecode"].split(":")[3].split(".")[0]) for r in rows]
        if n <= max(frames) + 1:
            raise FaceError("the take is shorter than a second, so its frame rate cannot be read "
                            "from the timecodes; pass fps")
        fps = max(frames) + 1
    return BlendshapeTrack(fps=fps, weights=weights, head_rotation=rot[:, :3], gaze=rot[:, 3:5])


def _from_dict(d: dict) -> BlendshapeTrack:
    if d.get("format") != _JSON_FORMAT:
        raise ValueError(f"format is {d.get('format')!r}, expected {_JSON_FORMAT!r}")
    curves = d["blendshapes"]
    weights = np.stack([np.asarray(curves[name], dtype=np.float32) for name in ARKIT_BLENDSHAPES], axis=1)
    head = np.stack([d["head_rotation_rad"][k] for k in ("yaw", "pitch", "roll")], axis=1)
    gaze = np.stack([d["gaze_rad"][k] for k in ("yaw", "pitch")], axis=1)
    return BlendshapeTrack(fps=int(d["fps"]), weights=weights, head_rotation=head, gaze=gaze, info=d.get("info", {}))
