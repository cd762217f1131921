"""glTF 2.0 binary (.glb) of the avatar head: 52 ARKit morph targets and the track as animation.

What three.js (GLTFLoader: ``mesh.morphTargetDictionary``) and Blender (shape keys) read: one mesh
with POSITION, NORMAL, TEXCOORD_0 and indices; 52 morph targets (POSITION displacements) named in
``mesh.extras.targetNames`` in ARKit order; one animation with a ``weights`` channel (LINEAR, one
keyframe a frame) and a ``rotation`` channel for the head (yaw about +y, pitch about +x, roll
about +z). Units are metres (the mesh is authored in cm).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

from ..io import write_bytes_atomic
from .arkit import ARKIT_BLENDSHAPES
from .head import Head, load_head
from .track import BlendshapeTrack

__all__ = ["track_to_glb", "save_glb"]

_FLOAT, _UINT16, _UINT32 = 5126, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_CM = 0.01


def _normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    face = np.cross(b - a, c - a)
    out = np.zeros_like(vertices)
    for i in range(3):
        np.add.at(out, triangles[:, i], face)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def _quaternions(head_rotation: np.ndarray) -> np.ndarray:
    """(n, 4) x, y, z, w for yaw (about y), then pitch (about x), then roll (about z)."""
    yaw, pitch, roll = (head_rotation[:, i] / 2.0 for i in range(3))
    qy = np.stack([np.zeros_like(yaw), np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], axis=1)
    qx = np.stack([np.sin(pitch), np.zeros_like(pitch), np.zeros_like(pitch), np.cos(pitch)], axis=1)
    qz = np.stack([np.zeros_like(roll), np.zeros_like(roll), np.sin(roll), np.cos(roll)], axis=1)
    return _qmul(_qmul(qy, qx), qz)


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ax, ay, az, aw = a.T
    bx, by, bz, bw = b.T
    return np.stack([aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz], axis=1)


class _Builder:
    def __init__(self) -> None:
        self.blob = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, array: np.ndarray, kind: str, component: int, *, target: int | None = None, bounds: bool = False) -> int:
        data = np.ascontiguousarray(array).tobytes()
        self.blob += b"\0" * (-len(self.blob) % 4)
        view = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.blob += data
        self.views.append(view)
        accessor = {"bufferView": len(self.views) - 1, "componentType": component,
                    "count": int(array.shape[0]), "type": kind}
        if bounds:
            flat = array.reshape(array.shape[0], -1)
            accessor["min"] = [float(x) for x in flat.min(axis=0)]
            accessor["max"] = [float(x) for x in flat.max(axis=0)]
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def track_to_glb(track: BlendshapeTrack, head: Head | None = None) -> bytes:
    """The head, its morph targets and ``track`` as one glTF 2.0 binary."""
    head = head or load_head()
    b = _Builder()
    vertices = (head.vertices * _CM).astype(np.float32)
    position = b.add(vertices, "VEC3", _FLOAT, target=_ARRAY_BUFFER, bounds=True)
    normal = b.add(_normals(vertices, head.triangles).astype(np.float32), "VEC3", _FLOAT, target=_ARRAY_BUFFER)
    uv = b.add(np.stack([head.uv[:, 0], 1.0 - head.uv[:, 1]], axis=1).astype(np.float32), "VEC2", _FLOAT,
               target=_ARRAY_BUFFER)
    indices = b.add(head.triangles.reshape(-1).astype(np.uint16 if len(vertices) < 65536 else np.uint32), "SCALAR",
                    _UINT16 if len(vertices) < 65536 else _UINT32, target=_ELEMENT_ARRAY_BUFFER, bounds=True)
    targets = [{"POSITION": b.add((t * _CM).astype(np.float32), "VEC3", _FLOAT, target=_ARRAY_BUFFER, bounds=True)}
               for t in head.targets]
    n = max(track.n_frames, 1)
    times = b.add((np.arange(n) / track.fps).astype(np.float32), "SCALAR", _FLOAT, bounds=True)
    weights = b.add(np.clip(track.weights, 0, 1).astype(np.float32).reshape(-1), "SCALAR", _FLOAT)
    rotation = b.add(_quaternions(track.head_rotation).astype(np.float32), "VEC4", _FLOAT)
    document = {
        "asset": {"version": "2.0", "generator": "emosynth",
                  "copyright": "mesh: MediaPipe canonical face model (Apache-2.0); morph targets: emosynth"},
        "scene": 0, "scenes": [{"nodes": [0]}],
        "nodes": [{"name": "head", "mesh": 0}],
        "meshes": [{"name": "head", "weights": [0.0] * len(ARKIT_BLENDSHAPES),
                    "extras": {"targetNames": list(ARKIT_BLENDSHAPES)},
                    "primitives": [{"attributes": {"POSITION": position, "NORMAL": normal, "TEXCOORD_0": uv},
                                    "indices": indices, "material": 0, "targets": targets}]}],
        "materials": [{"name": "skin", "pbrMetallicRoughness": {"baseColorFactor": [0.85, 0.66, 0.56, 1.0],
                                                                "metallicFactor": 0.0, "roughnessFactor": 0.6},
                       "doubleSided": True}],
        "animations": [{"name": "speech", "samplers": [
            {"input": times, "output": weights, "interpolation": "LINEAR"},
            {"input": times, "output": rotation, "interpolation": "LINEAR"}],
            "channels": [{"sampler": 0, "target": {"node": 0, "path": "weights"}},
                         {"sampler": 1, "target": {"node": 0, "path": "rotation"}}]}],
        "accessors": b.accessors, "bufferViews": b.views,
        "buffers": [{"byteLength": len(b.blob) + (-len(b.blob) % 4)}],
        "extras": {"fps": track.fps, "info": track.info},
    }
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    blob = bytes(b.blob) + b"\0" * (-len(b.blob) % 4)
    total = 12 + 8 + len(text) + 8 + len(blob)
    return (struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(text), b"JSON") + text
            + struct.pack("<I4s", len(blob), b"BIN\0") + blob)


def save_glb(track: BlendshapeTrack, path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    write_bytes_atomic(p, track_to_glb(track))
    return p
