"""t2mgpt for Blender: type a sentence, get an animated armature.

Install: zip this folder (`cd blender && zip -r t2mgpt_addon.zip t2mgpt_addon`), then Edit >
Preferences > Add-ons > Install... and enable "Animation: t2mgpt". Start the server first, in a
terminal: `t2mgpt serve` (http://127.0.0.1:8000 by default). The panel is in the 3D viewport's
sidebar (N), tab "t2mgpt".

Blender never runs the model: the add-on asks the server (POST /api/generate), downloads each
sample's BVH (GET /api/motions/{id}.bvh?rig=...) and imports it with Blender's BVH importer.
With "Apply to selected armature" the motion goes onto the selected armature instead, when its
bones use a supported rig's names (t2mgpt/SMPL, Mixamo or the Unreal mannequin): each bone
gets the motion's rotation relative to its rest pose, frame by frame (the armature's rest pose
should match the preset's: T-pose for smpl and mixamo, A-pose for ue5).
"""
import json
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

bl_info = {
    "name": "t2mgpt: text to motion",
    "author": "t2mgpt",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "View3D > Sidebar > t2mgpt",
    "description": "Generate an animated armature from a sentence with a running `t2mgpt serve`",
    "category": "Animation",
}

FPS = 20
TIMEOUT = 120  # seconds for one request (generation runs on the server)
# bone names of the supported rigs, in t2mgpt's joint order (SMPL / HumanML3D)
RIGS = {
    "smpl": ("pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
             "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
             "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist"),
    "mixamo": tuple("mixamorig:" + n for n in (
        "Hips", "LeftUpLeg", "RightUpLeg", "Spine", "LeftLeg", "RightLeg", "Spine1", "LeftFoot", "RightFoot",
        "Spine2", "LeftToeBase", "RightToeBase", "Neck", "LeftShoulder", "RightShoulder", "Head", "LeftArm",
        "RightArm", "LeftForeArm", "RightForeArm", "LeftHand", "RightHand")),
    "ue5": ("pelvis", "thigh_l", "thigh_r", "spine_01", "calf_l", "calf_r", "spine_02", "foot_l", "foot_r",
            "spine_03", "ball_l", "ball_r", "neck_01", "clavicle_l", "clavicle_r", "head", "upperarm_l",
            "upperarm_r", "lowerarm_l", "lowerarm_r", "hand_l", "hand_r"),
}


class ServerError(Exception):
    """A one-line message for the user (shown as a report in Blender's UI)."""


# ---------------------------------------------------------------------------- server


def call(url, body=None):
    """GET (or POST `body` as JSON) and return the response body; ServerError on any failure."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as res:
            return res.read()
    except urllib.error.HTTPError as e:
        raise ServerError(f"the server refused the request ({e.code}): {_detail(e.read())}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ServerError(f"cannot reach t2mgpt at {url.split('/api')[0]} ({reason}); start it with `t2mgpt serve` "
                          f"or fix the server address") from None


def _detail(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    return str(doc.get("message") or doc.get("detail"))[:300]


def generate(settings) -> list[dict]:
    """POST /api/generate with the panel's settings; the samples of the response."""
    if not settings.prompt.strip():
        raise ServerError("type a prompt first, e.g. 'a person walks forward'")
    body = {"text": settings.prompt, "num_samples": settings.samples, "seconds": round(settings.seconds, 1),
            "seed": None if settings.seed < 0 else settings.seed}
    answer = json.loads(call(settings.server.rstrip("/") + "/api/generate", body))
    return answer["samples"]


def download_bvh(settings, sample: dict, rig: str, folder: str) -> str:
    url = settings.server.rstrip("/") + sample["downloads"]["bvh"] + "?" + urllib.parse.urlencode({"rig": rig})
    path = os.path.join(folder, f"t2mgpt_{sample['id']}_{rig}.bvh")
    with open(path, "wb") as f:
        f.write(call(url))
    return path


# ---------------------------------------------------------------------------- Blender side


def import_bvh(path: str, name: str):
    """Blender's BVH importer (metres, Y up); returns the new armature object."""
    from io_anim_bvh import import_bvh as importer

    if sys.version_info >= (3, 11) and getattr(importer, "open", open) is open:
        # Blender builds on Python 3.11 (e.g. Debian's 3.4) ship an importer that opens files with
        # mode 'rU', which 3.11 rejects: give it an `open` that drops the 'U'.
        importer.open = lambda file, mode="r", *a, **k: open(file, mode.replace("U", ""), *a, **k)
    before = set(bpy.data.objects)
    bpy.ops.import_anim.bvh(filepath=path, axis_forward="-Z", axis_up="Y", global_scale=1.0,
                            update_scene_fps=True, update_scene_duration=True, use_fps_scale=False)
    arm = next(o for o in bpy.data.objects if o not in before and o.type == "ARMATURE")
    arm.name = name
    return arm


def rig_of(armature):
    """The supported rig whose bone names the armature has (Mixamo names with or without prefix)."""
    names = {b.name for b in armature.data.bones}
    for rig, bones in RIGS.items():
        if all(_bone_name(names, b) for b in bones):
            return rig
    return None


def _bone_name(names, wanted):
    if wanted in names:
        return wanted
    bare = wanted.split(":")[-1]
    return next((n for n in names if n.split(":")[-1] == bare), None)


def apply_motion(source, target, rig: str) -> int:
    """Key `target`'s bones with `source`'s motion (same rig) relative to their rest; frames keyed.

    World-space change of each source bone from its rest, applied to the target bone's rest; the
    root also follows the source's position. Works whatever the bones' roll.
    """
    scene = bpy.context.scene
    names = {b.name for b in target.data.bones}
    pairs = [(src, _bone_name(names, src)) for src in RIGS[rig]]
    pairs.sort(key=lambda p: len(target.data.bones[p[1]].parent_recursive))  # parents before children
    action = source.animation_data.action
    first, last = (int(round(v)) for v in action.frame_range)
    target.animation_data_create()
    target.animation_data.action = bpy.data.actions.new(f"{target.name}_t2mgpt")
    for pb in target.pose.bones:
        pb.rotation_mode = "QUATERNION"
    for frame in range(first, last + 1):
        scene.frame_set(frame)
        for k, (src_name, tgt_name) in enumerate(pairs):
            src_pb, tgt_pb = source.pose.bones[src_name], target.pose.bones[tgt_name]
            src_rest = source.matrix_world @ source.data.bones[src_name].matrix_local
            src_pose = source.matrix_world @ src_pb.matrix
            change = (src_pose.to_3x3() @ src_rest.to_3x3().inverted()).to_4x4()
            tgt_rest = target.matrix_world @ target.data.bones[tgt_name].matrix_local
            world = change @ tgt_rest.to_3x3().to_4x4()
            world.translation = src_pose.translation if k == 0 else (target.matrix_world @ tgt_pb.matrix).translation
            tgt_pb.matrix = target.matrix_world.inverted() @ world
            bpy.context.view_layer.update()  # children read this bone's new matrix
            tgt_pb.keyframe_insert("rotation_quaternion", frame=frame)
            if k == 0:
                tgt_pb.keyframe_insert("location", frame=frame)
    return last - first + 1


# ---------------------------------------------------------------------------- UI


class T2MGPTSettings(bpy.types.PropertyGroup):
    server: StringProperty(name="Server", default="http://127.0.0.1:8000",
                           description="Address of a running `t2mgpt serve`")
    prompt: StringProperty(name="Prompt", default="a person walks forward", description="What the person does")
    seconds: FloatProperty(name="Duration", default=4.0, min=0.2, max=10.0, step=20, precision=1, unit="TIME_ABSOLUTE",
                           description="Length of each motion in seconds (rounded to 0.2 s)")
    samples: IntProperty(name="Samples", default=1, min=1, max=8, description="Motions to make")
    seed: IntProperty(name="Seed", default=0, min=-1, description="Random seed; -1 draws one")
    rig: EnumProperty(name="Rig", default="smpl", description="Bone names and rest pose of the new armature",
                      items=[("smpl", "SMPL (t2mgpt)", "SMPL joint names, T-pose"),
                             ("mixamo", "Mixamo", "mixamorig:* names, T-pose"),
                             ("ue5", "Unreal (UE5)", "UE mannequin names, A-pose")])
    apply_to_selected: BoolProperty(name="Apply to selected armature", default=False,
                                    description="Animate the selected armature (SMPL, Mixamo or Unreal bone names) "
                                                "instead of adding new armatures")


class T2MGPT_OT_generate(bpy.types.Operator):
    """Generate motion from the prompt with the t2mgpt server"""
    bl_idname = "t2mgpt.generate"
    bl_label = "Generate motion"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.scene.t2mgpt
        target = context.active_object if settings.apply_to_selected else None
        try:
            rig = settings.rig
            if settings.apply_to_selected:
                if target is None or target.type != "ARMATURE":
                    raise ServerError("select an armature to apply the motion to (or untick 'Apply to selected')")
                rig = rig_of(target)
                if rig is None:
                    raise ServerError(f"armature '{target.name}' has neither SMPL, Mixamo nor Unreal mannequin bone "
                                      "names; untick 'Apply to selected' to import a new armature")
            samples = generate(settings)
            context.scene.render.fps, context.scene.render.fps_base = FPS, 1.0
            with tempfile.TemporaryDirectory(prefix="t2mgpt-") as folder:
                made = []
                for s in samples if target is None else samples[:1]:
                    arm = import_bvh(download_bvh(settings, s, rig, folder), f"t2mgpt {s['index'] + 1}: {settings.prompt[:40]}")
                    info = {"id": s["id"], "seed": s["seed"], "text": settings.prompt, "frames": s["num_frames"]}
                    (arm if target is None else target)["t2mgpt"] = json.dumps(info)  # for scripts: what made it
                    if target is not None:
                        frames = apply_motion(arm, target, rig)
                        bpy.data.objects.remove(arm, do_unlink=True)
                        made.append(target)
                    else:
                        arm.location.x = 1.2 * s["index"]  # side by side
                        made.append(arm)
        except ServerError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        context.scene.frame_start, context.scene.frame_end = 1, max(s["num_frames"] for s in samples)
        if target is not None:
            self.report({"INFO"}, f"t2mgpt: animated '{target.name}' ({frames} frames at {FPS} fps)")
        else:
            self.report({"INFO"}, f"t2mgpt: {len(made)} armature(s), {samples[0]['num_frames']} frames at {FPS} fps")
        return {"FINISHED"}


class T2MGPT_PT_panel(bpy.types.Panel):
    bl_label = "t2mgpt"
    bl_idname = "T2MGPT_PT_panel"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "t2mgpt"

    def draw(self, context):
        s = context.scene.t2mgpt
        col = self.layout.column()
        col.prop(s, "prompt", text="")
        col.prop(s, "seconds")
        col.prop(s, "samples")
        col.prop(s, "seed")
        col.prop(s, "rig")
        col.prop(s, "apply_to_selected")
        col.operator(T2MGPT_OT_generate.bl_idname, icon="ARMATURE_DATA")
        col.prop(s, "server")


CLASSES = (T2MGPTSettings, T2MGPT_OT_generate, T2MGPT_PT_panel)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.t2mgpt = PointerProperty(type=T2MGPTSettings)


def unregister():
    del bpy.types.Scene.t2mgpt
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
