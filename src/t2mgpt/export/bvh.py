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
* Rest pose (OFFSETs): a T-pose. Bone directions are the skeleton's raw directions, except that
  the arms point straight out sideways and the head points up; siblings that hang off one
  joint (hips and spine off the pelvis, neck and collars off spine3) keep the angles between
  them that the motion has, so that one joint rotation places all of them exactly. Bone
  lengths are medians over the clip. The root OFFSET is 0, so readers that add the root OFFSET
  to its position channels and readers that replace it agree.
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

Rotations come from inverse kinematics along the kinematic tree in the spirit of HumanML3D's
`inverse_kinematics_np`: a joint with one child gets the shortest rotation, relative to its
parent's frame, that turns its rest-pose bone onto the observed bone; a joint with several
children (the root: hips + spine, which fixes the body's facing) gets the rotation that best
aligns all its rest bones with the observed ones (Kabsch). Leaf joints get no rotation and an
End Site half their bone's length further along it. For joints whose bone lengths are constant
(every HumanML3D/KIT clip) the BVH reproduces the joint positions to rounding error; for
generated motions the error is the deviation of their bone lengths from the median.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from t2mgpt.errors import InputError
from t2mgpt.export import Format, MotionData, Option, register
from t2mgpt.motion.quaternion import matrix_to_quaternion, qbetween, qinv, qmul, qrot
from t2mgpt.motion.skeleton import Skeleton
from t2mgpt.motion.validate import validate_joints

EULER_ORDERS = ("ZXY", "ZYX", "YXZ", "XZY", "YZX", "XYZ")  # preference order for "auto"
_AUTO_SLACK = np.radians(5.0)  # "auto" keeps the earliest order within 5 degrees of the best
_EPS = 1e-9
_IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])

# Rest-pose bone directions that differ from the skeleton's raw (dataset) ones, where the arms
# hang down and the HumanML3D head points forward: a T-pose is what retargeting tools expect.
_TPOSE = {
    "humanml3d": {16: (1, 0, 0), 18: (1, 0, 0), 20: (1, 0, 0),
                  17: (-1, 0, 0), 19: (-1, 0, 0), 21: (-1, 0, 0), 15: (0, 1, 0)},
    "kit": {6: (1, 0, 0), 7: (1, 0, 0), 9: (-1, 0, 0), 10: (-1, 0, 0)},
}


@dataclass
class BVHAnimation:
    """A skeletal animation in BVH terms (metres, Y up)."""

    skeleton: Skeleton
    offsets: np.ndarray  # (J, 3) rest offset of each joint from its parent; root: 0
    end_sites: np.ndarray  # (J, 3) End Site offset of each leaf joint; 0 elsewhere
    root_positions: np.ndarray  # (T, 3)
    rotations: np.ndarray  # (T, J, 4) local unit quaternions (w, x, y, z)
    fps: float = 20.0

    @property
    def num_frames(self) -> int:
        return len(self.root_positions)

    def to_string(self, scale: float = 1.0, rotation_order: str = "auto") -> str:
        return _format(self, scale, rotation_order)


# ---------------------------------------------------------------------------- public API


def bvh_string(joints, skeleton: str | Skeleton | None = None, fps: float = 20.0,
               scale: float = 1.0, rotation_order: str = "auto") -> str:
    """The BVH text of joint positions (T, J, 3) in metres, Y up.

    `skeleton` defaults to the one with J joints (22: HumanML3D, 21: KIT-ML); `scale` multiplies
    all lengths (100 for centimetres).
    """
    return joints_to_animation(joints, skeleton, fps).to_string(scale, rotation_order)


def write_bvh(path: str | os.PathLike, joints, skeleton: str | Skeleton | None = None,
              fps: float = 20.0, scale: float = 1.0, rotation_order: str = "auto") -> Path:
    """Write joint positions (T, J, 3) as a BVH file (atomically) and return its path."""
    motion = MotionData(text="", joints=joints, fps=fps, skeleton=skeleton)
    return FORMAT.save(motion, path, scale=scale, rotation_order=rotation_order)


def _encode(motion, scale: float = 1.0, rotation_order: str = "auto") -> bytes:
    return bvh_string(motion.joints, motion.skeleton, motion.fps, scale, rotation_order).encode("ascii")


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
                    choices=("auto",) + EULER_ORDERS)),
))


def joints_to_animation(joints, skeleton: str | Skeleton | None = None,
                        fps: float = 20.0) -> BVHAnimation:
    """Fit a BVH skeleton to joint positions (T, J, 3) and solve the joint rotations."""
    joints, sk = _check_joints(joints, skeleton)
    if not (np.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be a positive number, got {fps}")
    offsets = rest_offsets(joints, sk)
    leaves = np.array([not _children(sk)[j] for j in range(sk.num_joints)])
    end_sites = np.where(leaves[:, None], 0.5 * offsets, 0.0)
    return BVHAnimation(
        skeleton=sk,
        offsets=offsets,
        end_sites=end_sites,
        root_positions=joints[:, 0].copy(),
        rotations=inverse_kinematics(joints, sk, offsets),
        fps=float(fps),
    )


def rest_offsets(joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """T-pose rest offsets (J, 3): rest bone directions times median bone lengths."""
    parents = np.array(skeleton.parents)
    bones = joints[:, 1:] - joints[:, parents[1:]]  # (T, J-1, 3)
    lengths = np.zeros(skeleton.num_joints)
    lengths[1:] = np.median(np.linalg.norm(bones, axis=-1), axis=0)
    return rest_directions(joints, skeleton) * lengths[:, None]


def rest_directions(joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Unit rest-pose bone directions (J, 3) (root: 0); see the module docstring."""
    dirs = np.array(skeleton.raw_offsets, dtype=np.float64)
    for j, d in _TPOSE.get(skeleton.name, {}).items():
        dirs[j] = d
    norms = np.linalg.norm(dirs, axis=-1, keepdims=True)
    dirs = np.divide(dirs, norms, out=np.zeros_like(dirs), where=norms > 0)
    for j, kids in enumerate(_children(skeleton)):
        if len(kids) > 1:
            observed = _unit(joints[:, kids] - joints[:, None, j])  # (T, k, 3)
            config = _mean_configuration(observed)
            if config is not None:  # turn the observed configuration as close to the T-pose as it goes
                best = _best_rotation(config, dirs[kids])
                dirs[kids] = config @ best.T
    return dirs


def inverse_kinematics(joints: np.ndarray, skeleton: Skeleton, offsets: np.ndarray) -> np.ndarray:
    """Local joint rotations (T, J, 4) that pose rest `offsets` (J, 3) like `joints` (T, J, 3)."""
    num_frames = len(joints)
    local = np.tile(_IDENTITY, (num_frames, skeleton.num_joints, 1))
    world = local.copy()
    parents = skeleton.parents
    rest = _unit(offsets)
    identity = local[:, 0].copy()  # (T, 4)
    for j in _preorder(skeleton):
        parent_rot = world[:, parents[j]] if parents[j] >= 0 else identity
        kids = _children(skeleton)[j]
        if kids:
            bones = joints[:, kids] - joints[:, None, j]  # (T, k, 3)
            bones = qrot(qinv(parent_rot)[:, None], bones)  # in the parent's frame
            if len(kids) == 1:
                local[:, j] = _swing(rest[kids[0]], bones[:, 0])
            else:
                local[:, j] = matrix_to_quaternion(_best_rotation(rest[kids], _unit(bones)))
        world[:, j] = qmul(parent_rot, local[:, j])
    return local


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
    order = _preorder(sk)
    names = [n.replace(" ", "_") for n in sk.joint_names]
    children = _children(sk)

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


# ---------------------------------------------------------------------------- geometry


def _unit(v: np.ndarray) -> np.ndarray:
    """Unit vectors over the last axis; (near) zero vectors stay zero."""
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > _EPS)


def _swing(rest: np.ndarray, bone: np.ndarray) -> np.ndarray:
    """Shortest-arc quaternions (T, 4) turning `rest` (3,) onto `bone` (T, 3); identity for empty bones."""
    if np.linalg.norm(rest) <= _EPS:  # a bone of zero length at rest: nothing to turn
        return np.tile(_IDENTITY, (len(bone), 1))
    bone = np.where(np.linalg.norm(bone, axis=-1, keepdims=True) > _EPS, bone, rest)
    return qbetween(np.broadcast_to(rest, bone.shape), bone)


def _best_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation matrices R (..., 3, 3) minimising sum_k |R a_k - b_k|^2 (Kabsch); a, b (..., k, 3)."""
    h = np.einsum("...ki,...kj->...ij", a, b)  # sum_k a_k b_k^T
    u, _, vt = np.linalg.svd(h)
    v, ut = np.swapaxes(vt, -1, -2), np.swapaxes(u, -1, -2)
    det = np.linalg.det(v @ ut)
    fix = np.ones(h.shape[:-1])
    fix[..., 2] = np.where(det < 0, -1.0, 1.0)  # a reflection is not a rotation
    rot = (v * fix[..., None, :]) @ ut
    empty = np.abs(h).sum((-1, -2)) < _EPS
    return np.where(empty[..., None, None], np.eye(3), rot)


def _mean_configuration(dirs: np.ndarray) -> np.ndarray | None:
    """Rigid mean (k, 3) of per-frame unit-vector sets (T, k, 3) (generalised Procrustes)."""
    dirs = dirs[(np.linalg.norm(dirs, axis=-1) > 0.5).all(-1)]
    if not len(dirs):
        return None
    mean = dirs[0]
    for _ in range(3):
        aligned = np.einsum("tij,tkj->tki", _best_rotation(dirs, mean), dirs)
        mean = _unit(aligned.mean(0))
    return mean


# ---------------------------------------------------------------------------- skeleton helpers


def _children(skeleton: Skeleton) -> list[list[int]]:
    kids = [[] for _ in range(skeleton.num_joints)]
    for j, p in enumerate(skeleton.parents):
        if p >= 0:
            kids[p].append(j)
    return kids


def _preorder(skeleton: Skeleton) -> list[int]:
    """Joints depth-first from the root, children in index order: the BVH channel order."""
    kids = _children(skeleton)
    roots = [j for j, p in enumerate(skeleton.parents) if p < 0]
    out, stack = [], roots[:1]
    while stack:
        j = stack.pop()
        out.append(j)
        stack.extend(reversed(kids[j]))
    return out


def _check_joints(joints, skeleton) -> tuple[np.ndarray, Skeleton]:
    if hasattr(joints, "detach"):  # torch tensor
        joints = joints.detach().cpu().numpy()
    joints = np.asarray(joints)
    sk = validate_joints(joints, skeleton)
    if sum(p < 0 for p in sk.parents) != 1:
        raise InputError(f"skeleton {sk.name} must have exactly one root joint")
    joints = joints.astype(np.float64)
    parents = np.array(sk.parents)
    if np.abs(joints[:, 1:] - joints[:, parents[1:]]).max(initial=0.0) <= 1e-6:
        raise InputError("all joints sit at one point in every frame (every bone has zero length), so there is "
                         "no pose to export; check that this is the right motion file")
    return joints, sk
