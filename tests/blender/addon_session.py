"""Run inside Blender (`blender -b --factory-startup --python addon_session.py -- ZIP SERVER OUT.json`):
install and enable the t2mgpt add-on from its zip as a user would, then use its operator:
1. against a server that is not running (the error must be a report, nothing created),
2. generate two samples as new armatures,
3. apply a sample to a selected armature with Mixamo bone names (rolls changed on purpose).
Saves what happened (reports, armatures, frames, fps, bone heads in y-up metres) to OUT.json.
"""
import json
import math
import sys

import bpy

zip_path, server, out = sys.argv[sys.argv.index("--") + 1:][:3]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.preferences.addon_install(filepath=zip_path, overwrite=True)
bpy.ops.preferences.addon_enable(module="t2mgpt_addon")
import t2mgpt_addon  # noqa: E402

reports = []


def run_operator():
    """The operator as the panel's button runs it; its result and the reports it made."""
    try:
        return sorted(bpy.ops.t2mgpt.generate())
    except RuntimeError as e:  # in background mode an ERROR report surfaces as a RuntimeError
        reports.append(str(e))
        return ["CANCELLED"]


def heads(arm, names):
    scene = bpy.context.scene
    frames = []
    for f in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(f)
        z_up = [arm.matrix_world @ arm.pose.bones[n].head for n in names]
        frames.append([[v.x, v.z, -v.y] for v in z_up])
    return frames


result = {}
s = bpy.context.scene.t2mgpt
s.prompt, s.seconds, s.samples, s.seed = "a person walks forward", 2.0, 2, 5

# 1. no server
s.server = "http://127.0.0.1:9"  # discard port: nothing listens
result["offline"] = {"result": run_operator(), "reports": list(reports),
                     "objects": len(bpy.data.objects)}

# 2. new armatures
s.server = server
result["new"] = {"result": run_operator()}
arms = [o for o in bpy.data.objects if o.type == "ARMATURE"]
result["new"]["armatures"] = [{"name": a.name, "info": json.loads(a["t2mgpt"]), "bones": [b.name for b in a.data.bones],
                               "heads": heads(a, t2mgpt_addon.RIGS["smpl"])} for a in arms]
result["new"]["fps"] = bpy.context.scene.render.fps
result["new"]["frame_end"] = bpy.context.scene.frame_end

# 3. a Mixamo-named armature (rest: the T-pose of another motion's mixamo BVH, bones rolled 30 degrees)
for a in arms:
    bpy.data.objects.remove(a, do_unlink=True)
s.seed, s.samples = 9, 1
character = t2mgpt_addon.import_bvh(t2mgpt_addon.download_bvh(
    s, t2mgpt_addon.generate(s)[0], "mixamo", bpy.app.tempdir), "character")
character.animation_data_clear()
bpy.context.view_layer.objects.active = character
bpy.ops.object.mode_set(mode="EDIT")
for b in character.data.edit_bones:
    b.roll += math.radians(30)
bpy.ops.object.mode_set(mode="OBJECT")
for pb in character.pose.bones:
    pb.location, pb.rotation_quaternion, pb.rotation_euler = (0, 0, 0), (1, 0, 0, 0), (0, 0, 0)
character.select_set(True)
s.apply_to_selected, s.seed = True, 3
result["apply"] = {"result": run_operator(), "info": json.loads(character["t2mgpt"]),
                   "armatures": sum(o.type == "ARMATURE" for o in bpy.data.objects),
                   "heads": heads(character, t2mgpt_addon.RIGS["mixamo"])}

# 4. an armature of no supported rig
bpy.ops.object.armature_add()
result["unsupported"] = {"result": run_operator(), "reports": reports[len(result["offline"]["reports"]):]}
with open(out, "w") as f:
    json.dump(result, f)
