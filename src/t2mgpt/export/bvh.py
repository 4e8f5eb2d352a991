"""BVH export: joint positions (T, J, 3) -> a BVH animation for Blender, Maya, MotionBuilder,
Unity or Unreal.

File conventions
----------------
* Y up, right-handed, the character faces +z and its left side is +x when the root rotation
  is zero (the HumanML3D convention). Blender's importer (File > Import > Motion Capture) reads
  BVH as Y-up by default (Forward -Z, Up Y) and converts to its Z-up world: the character stands
  upright on Blender's ground plane.
* Units: metres (`scale=1`, right for Blender). `scale=100` writes centimetres, the unit of
  Maya, MotionBuilder and Unreal (import such a file into Blender with Scale 0.01).
* Rest pose (OFFSETs): the T-pose of the motion's rigid skeleton (`t2mgpt.motion.rigid`):
  legs down, arms straight out sideways, head up; siblings that hang off one joint (hips and
  spine off the pelvis, neck and collars off spine3) keep the angles between them that the
  motion has. The root OFFSET is 0, so readers that add the root OFFSET to its position
  channels and readers that replace it agree. `rig="mixamo"|"ue5"` renames the joints and
  changes the rest pose for those tools (`_rigs.py`); the joint positions stay the same.
* Channels: the root has `Xposition Yposition Zposition` then three rotations; every other
  joint three rotations. As always in BVH, rotation channels listed as `Zrotation Xrotation
  Yrotation` mean the local rotation Rz @ Rx @ Ry (intrinsic z, then x, then y; column vectors),
  and a joint's world position is parent world position + parent world rotation @ OFFSET.
* Euler order: with `rotation_order="auto"` each joint gets the order (preferring ZXY, the
  classic Biovision one) whose middle angle stays furthest from +-90 degrees over the clip, so
  no joint is near gimbal lock (no single order can do that for a Y-up body: the root turns
  freely about y, knees bend past 90 degrees about x). Each joint's CHANNELS line states its
  order; Blender, MotionBuilder and BVH libraries read orders per joint. Pass e.g.
  `rotation_order="ZXY"` to use one order everywhere. Angles are unwrapped over time (no
  jumps of 360 degrees or Euler flips), so keys interpolate smoothly.

Rotations are the local joint rotations of the motion's `RigidMotion` (generated motions carry
theirs; other joints are fitted with `postprocess(..., cleanup=False)`), so the BVH reproduces
the motion's joint positions (the .npy, videos and web viewer) to rounding error. Leaf joints
get no rotation and an End Site half their bone's length further along it.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from t2mgpt.errors import InputError
from t2mgpt.export import Format, MotionData, Option, register, rigid_of
from t2mgpt.export._rigs import RIG_OPTION, apply_rig
from t2mgpt.motion.rigid import RigidMotion
from t2mgpt.motion.skeleton import Skeleton

EULER_ORDERS = ("ZXY", "ZYX", "YXZ", "XZY", "YZX", "XYZ")  # preference order for "auto"
_AUTO_SLACK = np.radians(5.0)  # "auto" keeps the earliest order within 5 degrees of the best


@dataclass
class BVHAnimation:
    """A skeletal animation in BVH terms (metres, Y up)."""

    skeleton: Skeleton
    offsets: np.ndarray  # (J, 3) rest offset of each joint from its parent; root: 0
    end_sites: np.ndarray  # (J, 3) End Site offset of each leaf joint; 0 elsewhere
    root_positions: np.ndarray  # (T, 3)
    rotations: np.ndarray  # (T, J, 4) local unit quaternions (w, x, y, z)
    fps: float = 20.0
    names: tuple[str, ...] | None = None  # joint names in the file (default: the skeleton's)

    @property
    def num_frames(self) -> int:
        return len(self.root_positions)

    def to_string(self, scale: float = 1.0, rotation_order: str = "auto") -> str:
        return _format(self, scale, rotation_order)


# ---------------------------------------------------------------------------- public API


def bvh_string(joints, skeleton: str | Skeleton | None = None, fps: float = 20.0,
               scale: float = 1.0, rotation_order: str = "auto") -> str:
    """The BVH text of joint positions (T, J, 3) in metres, Y up (fitted to a rigid skeleton).

    `skeleton` defaults to the one with J joints (22: HumanML3D, 21: KIT-ML); `scale` multiplies
    all lengths (100 for centimetres).
    """
    return joints_to_animation(joints, skeleton, fps).to_string(scale, rotation_order)


def write_bvh(path: str | os.PathLike, joints, skeleton: str | Skeleton | None = None,
              fps: float = 20.0, scale: float = 1.0, rotation_order: str = "auto") -> Path:
    """Write joint positions (T, J, 3) as a BVH file (atomically) and return its path."""
    motion = MotionData(text="", joints=joints, fps=fps, skeleton=skeleton)
    return FORMAT.save(motion, path, scale=scale, rotation_order=rotation_order)


def _encode(motion, scale: float = 1.0, rotation_order: str = "auto", rig: str = "smpl") -> bytes:
    return animation(*apply_rig(rigid_of(motion), rig)).to_string(scale, rotation_order).encode("ascii")


def _length_unit(text: str) -> float:
    """'m' -> 1, 'cm' -> 100 (the command line's --scale)."""
    return {"m": 1.0, "cm": 100.0}[text.lower()]


FORMAT = register(Format(
    name="bvh", suffixes=(".bvh",), media_type="text/plain; charset=utf-8",  # no registered media type
    description="skeletal animation for Blender, Maya, Unity, Unreal (BVH)", encode=_encode,
    options=(Option("scale", "bvh: length unit, m (Blender; default) or cm (Maya, MotionBuilder, Unreal); "
                             "Python: a factor (100 for cm)", parse=_length_unit, choices=("m", "cm")),
             Option("rotation_order", "bvh: Euler order of the rotation channels: auto (per joint, away from "
                                      "gimbal lock; default) or one order for every joint",
                    choices=("auto",) + EULER_ORDERS),
             RIG_OPTION),
))


def joints_to_animation(joints, skeleton: str | Skeleton | None = None,
                        fps: float = 20.0) -> BVHAnimation:
    """Fit a rigid skeleton to joint positions (T, J, 3) and solve the joint rotations."""
    from t2mgpt.motion.postprocess import postprocess

    return animation(postprocess(joints, skeleton, fps, cleanup=False))


def animation(rigid: RigidMotion, names: tuple[str, ...] | None = None) -> BVHAnimation:
    """The BVH animation of a rigid motion: same offsets, root positions and rotations."""
    sk = rigid.skeleton
    leaves = np.array([not kids for kids in sk.children])
    return BVHAnimation(skeleton=sk, offsets=rigid.offsets, end_sites=np.where(leaves[:, None], 0.5 * rigid.offsets, 0.0),
                        root_positions=rigid.root, rotations=rigid.rotations, fps=rigid.fps, names=names)


def euler_angles(quats: np.ndarray, order: str) -> np.ndarray:
    """Unit quaternions (T, ..., 4) -> intrinsic Euler angles (T, ..., 3) in radians.

    Angle k is about axis order[k]: R = R_order[0] @ R_order[1] @ R_order[2]. The angles are
    continuous over the time axis 0 (unwrapped, and on the Euler branch closest to the previous
    frame), so they may leave [-pi, pi].
    """
    return _continuous(_raw_euler(quats, order))


# ---------------------------------------------------------------------------- BVH text


def _format(anim: BVHAnimation, scale: float, rotation_order: str) -> str:
    sk = anim.skeleton
    if not (np.isfinite(scale) and scale > 0):
        raise InputError(f"scale must be a positive number, got {scale}")
    orders = _choose_orders(anim.rotations, rotation_order)
    order = sk.preorder
    names = [n.replace(" ", "_") for n in (anim.names or sk.joint_names)]
    children = sk.children

    lines = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        tab = "\t" * depth
        rot = " ".join(f"{axis}rotation" for axis in orders[j])
        channels = f"CHANNELS 6 Xposition Yposition Zposition {rot}" if depth == 0 else f"CHANNELS 3 {rot}"
        lines.append(f"{tab}{'ROOT' if depth == 0 else 'JOINT'} {names[j]}")
        lines.append(f"{tab}{{")
        lines.append(f"{tab}\tOFFSET {_vec(anim.offsets[j] * scale if depth else np.zeros(3))}")
        lines.append(f"{tab}\t{channels}")
        for c in children[j]:
            emit(c, depth + 1)
        if not children[j]:
            lines.extend([f"{tab}\tEnd Site", f"{tab}\t{{",
                          f"{tab}\t\tOFFSET {_vec(anim.end_sites[j] * scale)}", f"{tab}\t}}"])
        lines.append(f"{tab}}}")

    emit(order[0], 0)
    lines += ["MOTION", f"Frames: {anim.num_frames}", f"Frame Time: {1.0 / anim.fps:.8f}"]

    columns = [anim.root_positions * scale]
    for j in order:
        columns.append(np.degrees(euler_angles(anim.rotations[:, j], orders[j])))
    values = np.round(np.concatenate(columns, axis=1), 6) + 0.0  # (T, 3 + 3J); + 0.0: no "-0.000000"
    buf = io.StringIO()
    np.savetxt(buf, values, fmt="%.6f", delimiter=" ")
    return "\n".join(lines) + "\n" + buf.getvalue()


def _vec(v) -> str:
    return " ".join(f"{x:.6f}" for x in np.round(v, 6) + 0.0)


def _choose_orders(rotations: np.ndarray, rotation_order: str) -> list[str]:
    """One Euler order per joint: fixed, or the "auto" choice (see the module docstring)."""
    num_joints = rotations.shape[1]
    if rotation_order.upper() != "AUTO":
        if rotation_order.upper() not in EULER_ORDERS:
            raise InputError(f"rotation order must be 'auto' or one of {', '.join(EULER_ORDERS)}, "
                             f"got {rotation_order!r}")
        return [rotation_order.upper()] * num_joints
    # worst |middle angle| per joint for every order: (orders, J)
    worst = np.stack([np.abs(_raw_euler(rotations, o)[..., 1]).max(0) for o in EULER_ORDERS])
    good = worst <= worst.min(0) + _AUTO_SLACK
    return [EULER_ORDERS[int(np.argmax(good[:, j]))] for j in range(num_joints)]


def _raw_euler(quats: np.ndarray, order: str) -> np.ndarray:
    """scipy's Euler angles (..., 3), middle angle in [-pi/2, pi/2]."""
    from scipy.spatial.transform import Rotation

    with warnings.catch_warnings():  # gimbal lock: scipy still returns a valid triple
        warnings.simplefilter("ignore", UserWarning)
        rot = Rotation.from_quat(quats.reshape(-1, 4)[:, [1, 2, 3, 0]])
        return rot.as_euler(order.upper()).reshape(quats.shape[:-1] + (3,))


def _continuous(angles: np.ndarray) -> np.ndarray:
    """Euler angles (T, ..., 3) made continuous over time.

    A Tait-Bryan triple (a, b, c) equals its twin (a + pi, pi - b, c + pi), and each angle may
    move by whole turns. Twinning preserves distances, so whether frame t should switch branch
    relative to frame t-1 does not depend on the branch t-1 is on: the branches are a running
    parity of per-frame switches, then every angle is unwrapped.
    """
    twin = angles + np.array([np.pi, 0.0, np.pi])
    twin[..., 1] = np.pi - angles[..., 1]

    def dist(a, b):
        return np.abs((a - b + np.pi) % (2 * np.pi) - np.pi).sum(-1)

    switch = dist(twin[1:], angles[:-1]) < dist(angles[1:], angles[:-1]) - 1e-9  # (T-1, ...)
    on_twin = np.concatenate([np.zeros((1,) + switch.shape[1:], bool), np.cumsum(switch, axis=0) % 2 == 1])
    return np.unwrap(np.where(on_twin[..., None], twin, angles), axis=0)
