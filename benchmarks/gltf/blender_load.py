"""Import a .glb into Blender (the bpy wheel) and compare its shape-key animation with the .npy
track, frame by frame: python blender_load.py TRACK.glb TRACK.npy FPS"""

import sys

import bpy
import numpy as np

glb, npy, fps = sys.argv[1], sys.argv[2], int(sys.argv[3])
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.context.scene.render.fps = fps  # so that Blender frame i is the track's frame i
bpy.ops.import_scene.gltf(filepath=glb)
mesh = next(o for o in bpy.data.objects if o.type == "MESH")
keys = mesh.data.shape_keys.key_blocks
names = sorted(k.name for k in keys[1:])  # the .npy holds EmoTalk's (alphabetical) order
weights = np.load(npy)
worst = 0.0
for i, row in enumerate(weights):
    bpy.context.scene.frame_set(i)
    worst = max(worst, float(np.abs(np.array([keys[n].value for n in names]) - row).max()))
print({"blender": bpy.app.version_string, "vertices": len(mesh.data.vertices), "shape_keys": len(names),
       "frames": len(weights), "max_abs_difference": worst})
sys.exit(0 if len(names) == 52 and worst < 1e-4 else 1)
