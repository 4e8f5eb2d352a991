"""Rig presets for skeletal exports (BVH, glTF): bone names and rest pose that tools expect.

| preset   | bone names                                   | rest pose                              |
|----------|----------------------------------------------|----------------------------------------|
| `smpl`   | the SMPL / HumanML3D names (pelvis, left_hip) | T-pose                                 |
| `mixamo` | Mixamo's (mixamorig:Hips, mixamorig:LeftUpLeg, ...), as Blender's and Unity's Mixamo retargeting and Unity Humanoid auto-mapping know them | T-pose (Mixamo's) |
| `ue5`    | the Unreal mannequin's (pelvis, thigh_l, calf_l, upperarm_l, ...), as Unreal's IK Retargeter auto-maps them | A-pose: upper arms and forearms 45 degrees down (the UE5 mannequin's) |

Only names and the rest pose change: the joint positions of every frame stay the same (the
rotations are solved again against the new rest pose). The SMPL spine joints spine1, spine2,
spine3 become Spine, Spine1, Spine2 (Mixamo) and spine_01..03 (Unreal); the HumanML3D
"foot" joint (toe base) is ToeBase / ball. Presets other than smpl need the 22-joint skeleton.
"""
from __future__ import annotations

import numpy as np

from t2mgpt.errors import InputError
from t2mgpt.export import Option
from t2mgpt.motion.rigid import RigidMotion, continuous, forward_kinematics, solve_rotations, unit

RIG_NAMES = ("smpl", "mixamo", "ue5")
# checked by the writers (one-line error), so no argparse choices
RIG_OPTION = Option("rig", f"bvh/glb: bone names and rest pose for {', '.join(RIG_NAMES[1:])} or smpl (default)")

_MIXAMO = ("Hips", "LeftUpLeg", "RightUpLeg", "Spine", "LeftLeg", "RightLeg", "Spine1", "LeftFoot", "RightFoot",
           "Spine2", "LeftToeBase", "RightToeBase", "Neck", "LeftShoulder", "RightShoulder", "Head", "LeftArm",
           "RightArm", "LeftForeArm", "RightForeArm", "LeftHand", "RightHand")
_UE5 = ("pelvis", "thigh_l", "thigh_r", "spine_01", "calf_l", "calf_r", "spine_02", "foot_l", "foot_r", "spine_03",
        "ball_l", "ball_r", "neck_01", "clavicle_l", "clavicle_r", "head", "upperarm_l", "upperarm_r", "lowerarm_l",
        "lowerarm_r", "hand_l", "hand_r")
_NAMES = {"mixamo": tuple("mixamorig:" + n for n in _MIXAMO), "ue5": _UE5}
_A_POSE = {18: (1, -1, 0), 20: (1, -1, 0), 19: (-1, -1, 0), 21: (-1, -1, 0)}  # elbows and wrists: 45 degrees down


def check_rig(rig: str) -> str:
    key = str(rig).strip().lower()
    if key not in RIG_NAMES:
        raise InputError(f"unknown rig {rig!r}; choose from {', '.join(RIG_NAMES)}")
    return key


def apply_rig(rigid: RigidMotion, rig: str = "smpl") -> tuple[RigidMotion, tuple[str, ...]]:
    """The motion on the preset's rest pose, and the bone names (see the module docstring)."""
    rig = check_rig(rig)
    sk = rigid.skeleton
    if rig == "smpl":
        return rigid, tuple(n.replace(" ", "_") for n in sk.joint_names)
    if sk.name != "humanml3d":
        raise InputError(f"--rig {rig} needs the 22-joint HumanML3D (SMPL) skeleton; this motion has the "
                         f"{sk.name} skeleton: use --rig smpl")
    if rig == "mixamo":
        return rigid, _NAMES[rig]
    offsets = rigid.offsets.copy()
    lengths = np.linalg.norm(offsets, axis=-1)
    for j, d in _A_POSE.items():
        offsets[j] = unit(np.asarray(d, dtype=np.float64)) * lengths[j]
    joints = forward_kinematics(rigid.rotations, rigid.root, rigid.offsets, sk)
    rotations = continuous(solve_rotations(joints, sk, offsets))
    return RigidMotion(sk, offsets, rigid.root, rotations, rigid.fps, rigid.contacts), _NAMES[rig]
