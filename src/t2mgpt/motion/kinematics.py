"""Forward and inverse kinematics on the HumanML3D/KIT skeletons (numpy or torch).

Semantics follow HumanML3D's `common/skeleton.py` exactly, including two quirks that the
published features depend on:

* Rotations accumulate *per kinematic chain starting from the root rotation*: the local
  rotation of a chain's first joint is relative to the root even when the chain hangs off
  another joint (the arm chains start at spine3 = joint 9, yet the collar rotations are
  relative to the pelvis). Use `rotation_parents(skeleton)` when converting to a standard
  parent-relative hierarchy (e.g. for BVH).
* `inverse_kinematics` reads the face joints as (l_hip, r_hip, r_shoulder, l_shoulder) although
  they are given as (r_hip, l_hip, r_shoulder, l_shoulder), so its facing direction uses
  (left hip - right hip) + (right shoulder - left shoulder). The root rotations in the
  published features come from that formula, so it is kept.
* `inverse_kinematics` sets the root rotation of the first frame to the identity (the
  published `new_joint_vecs` and the reference fixtures were made that way: frame 0's
  rotations of the chains' first joints are global, and its root velocities/ric/local
  velocity are taken relative to an unrotated root).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from t2mgpt.errors import InputError
from t2mgpt.motion import _array as A
from t2mgpt.motion.quaternion import (
    cont6d_to_matrix, cross, normalize, qbetween, qinv, qmul, qrot,
)
from t2mgpt.motion.skeleton import Skeleton, get_skeleton

_UP = np.array([0.0, 1.0, 0.0])
_FORWARD = np.array([0.0, 0.0, 1.0])


def rotation_parents(skeleton: str | Skeleton) -> tuple[int, ...]:
    """For each joint, the joint whose global rotation its local rotation is relative to.

    Like `parents`, except that the first joint of every chain refers to the root (0).
    """
    sk = get_skeleton(skeleton)
    rparents = [-1] * sk.num_joints
    for chain in sk.kinematic_chains:
        for i in range(1, len(chain)):
            rparents[chain[i]] = 0 if i == 1 else chain[i - 1]
    return tuple(rparents)


@lru_cache(maxsize=None)
def _shipped_offsets(name: str) -> np.ndarray:
    from importlib.resources import files

    with (files("t2mgpt.assets") / f"{name}_offsets.npy").open("rb") as f:
        return np.load(f)


def default_offsets(skeleton: str | Skeleton) -> np.ndarray | None:
    """The dataset's target-skeleton bone offsets (J, 3), or None when none is shipped (KIT)."""
    sk = get_skeleton(skeleton)
    if sk.name != "humanml3d":
        return None
    return _shipped_offsets("humanml3d").copy()


def get_offsets_joints(joints, skeleton: str | Skeleton = "humanml3d"):
    """Bone offsets measured from joint positions (..., J, 3): raw direction * bone length."""
    sk = get_skeleton(skeleton)
    parents = list(sk.parents)
    parents[0] = 0  # the root's raw offset is zero anyway
    bones = joints - joints[..., parents, :]
    length = A.sqrt((bones * bones).sum(-1))[..., None]
    return length * A.like(sk.raw_offsets, joints)


def facing_direction(joints, face_joints, smooth_sigma: float = 0.0):
    """Unit horizontal forward direction (..., T, 3) from the 'across' vector of 4 joints.

    across = (j[a] - j[b]) + (j[c] - j[d]) for face_joints (a, b, c, d); forward = y x across.
    `smooth_sigma` > 0 applies HumanML3D's Gaussian smoothing over time (before normalising).
    """
    a, b, c, d = face_joints
    across = (joints[..., a, :] - joints[..., b, :]) + (joints[..., c, :] - joints[..., d, :])
    across = normalize(across)
    forward = cross(A.like(_UP, across), across)
    if smooth_sigma > 0:
        forward = gaussian_filter_time(forward, smooth_sigma)
    return normalize(forward)


def gaussian_filter_time(x, sigma: float, truncate: float = 4.0):
    """Gaussian smoothing over axis -2 with edge padding, = scipy `gaussian_filter1d(mode='nearest')`."""
    radius = int(truncate * float(sigma) + 0.5)
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    weights /= weights.sum()
    t = x.shape[-2]
    idx = np.clip(np.arange(t)[:, None] + offsets[None, :], 0, t - 1)  # (T, K)
    windows = x[..., idx, :]  # (..., T, K, C)
    return (windows * A.like(weights[:, None], x)).sum(-2)


def inverse_kinematics(joints, skeleton: str | Skeleton = "humanml3d", smooth_forward: bool = False,
                       identity_first_root: bool = True):
    """Joint positions (..., T, J, 3) -> local quaternions (..., T, J, 4), HumanML3D convention.

    The root quaternion turns the body's (optionally time-smoothed) facing direction to +z;
    every other joint's quaternion rotates its raw offset direction onto its bone, relative
    to the global rotation of its `rotation_parents` joint. With `identity_first_root` (as
    in the original) the root quaternion of frame 0 is the identity.
    """
    sk = get_skeleton(skeleton)
    r_hip, l_hip, r_shoulder, l_shoulder = sk.face_joints
    # the original unpacks face joints as (l_hip, r_hip, ...): see the module docstring
    forward = facing_direction(joints, (l_hip, r_hip, r_shoulder, l_shoulder),
                               smooth_sigma=20.0 if smooth_forward else 0.0)
    root_quat = qbetween(forward, A.like(_FORWARD, forward))  # (..., T, 4)
    if identity_first_root:
        identity = A.broadcast_to(A.like([1.0, 0.0, 0.0, 0.0], root_quat), root_quat[..., :1, :].shape)
        root_quat = A.cat([identity, root_quat[..., 1:, :]], axis=-2)

    parents = np.array(sk.parents[1:])
    children = np.arange(1, sk.num_joints)
    bones = normalize(joints[..., children, :] - joints[..., parents, :])  # (..., T, J-1, 3)
    raw = A.like(sk.raw_offsets[children], bones)
    global_rot = A.cat([root_quat[..., None, :], qbetween(raw, bones)], axis=-2)  # (..., T, J, 4)
    rparents = np.array(rotation_parents(sk)[1:])
    local = qmul(qinv(global_rot[..., rparents, :]), global_rot[..., 1:, :])
    return A.cat([root_quat[..., None, :], local], axis=-2)


def _check_offsets(offsets, like, num_joints):
    if offsets is None:
        raise InputError("forward kinematics needs bone offsets (J, 3)")
    offsets = offsets if A.is_torch(offsets) else np.asarray(offsets)
    if offsets.shape[-2:] != (num_joints, 3):
        raise InputError(f"offsets must have shape (..., {num_joints}, 3), got {tuple(offsets.shape)}")
    return A.cast_like(offsets, like)


def forward_kinematics(quats, root_pos, offsets, skeleton: str | Skeleton = "humanml3d",
                       do_root_rotation: bool = True):
    """Local quaternions (..., J, 4) + root positions (..., 3) + offsets (J, 3) -> joints (..., J, 3)."""
    sk = get_skeleton(skeleton)
    offsets = _check_offsets(offsets, quats, sk.num_joints)
    positions = [None] * sk.num_joints
    positions[0] = A.cast_like(root_pos, quats)
    for chain in sk.kinematic_chains:
        rot = quats[..., 0, :] if do_root_rotation else A.like([1.0, 0, 0, 0], quats)
        for parent, joint in zip(chain[:-1], chain[1:]):
            rot = qmul(rot, quats[..., joint, :])
            positions[joint] = qrot(rot, offsets[..., joint, :]) + positions[parent]
    return _stack_joints(positions)


def forward_kinematics_cont6d(cont6d, root_pos, offsets, skeleton: str | Skeleton = "humanml3d",
                              do_root_rotation: bool = True):
    """Local 6D rotations (..., J, 6) + root positions (..., 3) + offsets (J, 3) -> joints (..., J, 3)."""
    sk = get_skeleton(skeleton)
    offsets = _check_offsets(offsets, cont6d, sk.num_joints)
    mats = cont6d_to_matrix(cont6d)  # (..., J, 3, 3)
    positions = [None] * sk.num_joints
    positions[0] = A.cast_like(root_pos, cont6d)
    for chain in sk.kinematic_chains:
        rot = mats[..., 0, :, :] if do_root_rotation else A.like(np.eye(3), mats)
        for parent, joint in zip(chain[:-1], chain[1:]):
            rot = rot @ mats[..., joint, :, :]
            positions[joint] = (rot @ offsets[..., joint, :, None])[..., 0] + positions[parent]
    return _stack_joints(positions)


def _stack_joints(positions):
    """Stack per-joint positions (broadcasting the root against the rest) on axis -2."""
    shape = np.broadcast_shapes(*(tuple(p.shape) for p in positions))
    return A.stack([A.broadcast_to(p, shape) for p in positions], axis=-2)
