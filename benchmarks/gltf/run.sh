#!/usr/bin/env bash
# Open emosynth's glTF export in the tools game and web pipelines use: the Khronos validator,
# three.js's GLTFLoader and Blender (bpy). Needs node/npm and network access to npm and PyPI;
# installs into a scratch folder, never into the project.  Usage: benchmarks/gltf/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
emosynth say --emotion joy:0.8 --no-score --out "$work/hi.wav" --face "$work/face" \
  "The meeting is on the second floor, next to the library." >/dev/null
cp "$here"/*.mjs "$work/"
(cd "$work" && npm install --silent gltf-validator three >/dev/null)
(cd "$work" && node validate.mjs face/hi.glb && node three_load.mjs face/hi.glb)
python -m venv "$work/blender" && "$work/blender/bin/pip" install -q bpy 2>/dev/null  # bpy 5.0 wheels: Python 3.11
"$work/blender/bin/python" "$here/blender_load.py" "$work/face/hi.glb" "$work/face/hi.npy" 30 2>/dev/null | tail -1
