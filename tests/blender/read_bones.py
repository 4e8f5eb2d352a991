"""Run inside Blender (`blender -b --factory-startup --python read_bones.py -- JOBS.json`): for each
job {"path": BVH or GLB file, "out": OUT.npy, "names": bone names}, import the file with
Blender's own importer into an empty scene, step through every frame and save the world-space
heads of the named bones (frames, bones, 3) in y-up coordinates, plus a JSON summary (frame
count, fps, object types, bone names) as OUT.npy.json. The scene is set to 20 fps first: Blender's glTF
importer keys the animation at the scene's frame rate (the BVH importer sets it from the file).

Debian's Blender 3.4 runs on Python 3.11, which its importers predate: the BVH importer opens
files with mode 'rU' and the glTF importer uses numpy.bool / numpy.int. Both are patched here,
in this test helper only.
"""
import builtins
import json
import sys

import numpy

for alias, real in (("bool", bool), ("int", int), ("float", float), ("object", object)):
    if alias not in numpy.__dict__:
        setattr(numpy, alias, real)

import bpy  # noqa: E402


def open_without_u(file, mode="r", *args, **kwargs):
    return builtins.open(file, mode.replace("U", ""), *args, **kwargs)


def main(path, out, names):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = 20, 1.0
    if path.lower().endswith(".bvh"):
        from io_anim_bvh import import_bvh

        import_bvh.open = open_without_u
        bpy.ops.import_anim.bvh(filepath=path, axis_forward="-Z", axis_up="Y", update_scene_fps=True,
                                update_scene_duration=True, use_fps_scale=False)
    else:
        bpy.ops.import_scene.gltf(filepath=path)
    scene = bpy.context.scene
    arm = next(o for o in scene.objects if o.type == "ARMATURE")
    action = arm.animation_data.action
    first, last = (int(round(v)) for v in action.frame_range)
    heads = []
    for frame in range(first, last + 1):
        scene.frame_set(frame)
        world = arm.matrix_world
        heads.append([tuple(world @ arm.pose.bones[n].head) for n in names])
    z_up = numpy.array(heads)  # Blender is z up: our y-up (x, y, z) is its (x, -z, y)
    numpy.save(out, numpy.stack([z_up[..., 0], z_up[..., 2], -z_up[..., 1]], axis=-1))  # y up
    summary = {"frames": last - first + 1, "fps": scene.render.fps / scene.render.fps_base,
               "objects": sorted(o.type for o in scene.objects), "bones": [b.name for b in arm.data.bones]}
    with open(out + ".json", "w") as f:
        json.dump(summary, f)


if __name__ == "__main__":
    with open(sys.argv[sys.argv.index("--") + 1]) as f:
        for job in json.load(f):
            main(job["path"], job["out"], job["names"])
