"""The HumanML3D motion features (263 dims for 22 joints, 251 for KIT's 21), both directions.

Per frame, in this order (J joints):
    root rotation velocity about y (1)   -- arcsin of the y part of the frame-to-frame root quaternion
    root linear velocity on xz (2)       -- in the root's facing frame
    root height y (1)
    ric: joints 1..J-1 relative to the root, facing +z (3(J-1))
    rot: local joint rotations 1..J-1 as continuous 6D (6(J-1))
    local velocity of every joint, in the facing frame (3J)
    foot contacts (4)                    -- left ankle, left toe, right ankle, right toe

`joints_to_features` reproduces HumanML3D's `process_file`; `features_to_joints` its
`recover_from_ric` and `features_to_joints_rot` its `recover_from_rot`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from t2mgpt.errors import InputError
from t2mgpt.motion import _array as A
from t2mgpt.motion.kinematics import (
    default_offsets, facing_direction, forward_kinematics, forward_kinematics_cont6d,
    get_offsets_joints, inverse_kinematics,
)
from t2mgpt.motion.quaternion import qbetween, qinv, qmul, qrot, quaternion_to_cont6d
from t2mgpt.motion.skeleton import Skeleton, get_skeleton
from t2mgpt.motion.validate import validate_features, validate_joints


@dataclass(frozen=True)
class FeatureLayout:
    """Where each part of the feature vector lives, for a skeleton with J joints."""
    num_joints: int

    @property
    def root_rot_velocity(self) -> slice:
        return slice(0, 1)

    @property
    def root_linear_velocity(self) -> slice:
        return slice(1, 3)

    @property
    def root_height(self) -> slice:
        return slice(3, 4)

    @property
    def ric(self) -> slice:
        return slice(4, 4 + 3 * (self.num_joints - 1))

    @property
    def rot(self) -> slice:
        start = self.ric.stop
        return slice(start, start + 6 * (self.num_joints - 1))

    @property
    def local_velocity(self) -> slice:
        start = self.rot.stop
        return slice(start, start + 3 * self.num_joints)

    @property
    def foot_contacts(self) -> slice:
        start = self.local_velocity.stop
        return slice(start, start + 4)

    @property
    def dim(self) -> int:
        return self.foot_contacts.stop


def feature_layout(skeleton: str | Skeleton) -> FeatureLayout:
    return FeatureLayout(get_skeleton(skeleton).num_joints)


# ----------------------------------------------------------------------------------------
# joints -> features (data preparation, numpy)
# ----------------------------------------------------------------------------------------

def retarget_joints(joints: np.ndarray, skeleton: str | Skeleton, target_offsets: np.ndarray) -> np.ndarray:
    """HumanML3D `uniform_skeleton`: same motion on the target skeleton's bone lengths.

    The root trajectory is scaled by the ratio of lower-leg lengths (`leg_joints`), the pose
    is carried over by inverse kinematics (source bones) + forward kinematics (target bones).
    """
    sk = get_skeleton(skeleton)
    target_offsets = np.asarray(target_offsets, dtype=joints.dtype)
    if target_offsets.shape != (sk.num_joints, 3):
        raise InputError(f"target_offsets must have shape ({sk.num_joints}, 3), got {target_offsets.shape}")
    src_offsets = get_offsets_joints(joints[0], sk)
    knee, ankle = sk.leg_joints

    def leg(offsets):
        return np.abs(offsets[knee]).max() + np.abs(offsets[ankle]).max()

    scale = leg(target_offsets) / leg(src_offsets)
    quats = inverse_kinematics(joints, sk, smooth_forward=False)
    return forward_kinematics(quats, joints[:, 0] * scale, target_offsets, sk)


def canonicalize_joints(joints: np.ndarray, skeleton: str | Skeleton = "humanml3d") -> np.ndarray:
    """Put the motion on the floor, its first root position at the xz origin, first facing +z."""
    sk = get_skeleton(skeleton)
    joints = joints.copy()
    joints[..., 1] -= joints[..., 1].min()
    joints = joints - joints[0, 0] * np.array([1.0, 0.0, 1.0], dtype=joints.dtype)
    forward = facing_direction(joints[0], sk.face_joints)  # (3,)
    facing = qbetween(forward, np.array([0.0, 0.0, 1.0], dtype=joints.dtype))
    return qrot(facing, joints)


def foot_contacts(joints: np.ndarray, skeleton: str | Skeleton, threshold: float) -> np.ndarray:
    """(T, J, 3) -> (T-1, 4) float32: 1 where a foot joint moved less than sqrt(threshold) m."""
    sk = get_skeleton(skeleton)
    feet = list(sk.foot_left) + list(sk.foot_right)
    step = joints[1:, feet] - joints[:-1, feet]
    return ((step * step).sum(-1) < threshold).astype(np.float32)


def joints_to_features(joints, skeleton: str | Skeleton = "humanml3d", feet_threshold: float = 0.002,
                       target_offsets: np.ndarray | None = None, retarget: bool = True) -> np.ndarray:
    """Joint positions (T, J, 3) in metres, y up -> features (T-1, D) float32 (HumanML3D `process_file`).

    With `retarget` (the dataset's processing), the motion is first moved onto the target
    skeleton: `target_offsets` (J, 3), by default the shipped HumanML3D skeleton. KIT-ML
    ships no target skeleton, so for KIT pass `target_offsets` (e.g. `get_offsets_joints` of
    a reference frame, as the original did with clip 03950) or `retarget=False` to keep the
    clip's own bone lengths. (The original KIT processing also used feet_threshold=0.05.)
    """
    sk = get_skeleton(skeleton)
    validate_joints(joints, sk, min_frames=2)
    if retarget and target_offsets is None:
        target_offsets = default_offsets(sk)
        if target_offsets is None:
            raise InputError(
                f"no target skeleton is shipped for {sk.name!r}: pass target_offsets (J, 3) "
                "or retarget=False to keep the motion's own bone lengths")
    with np.errstate(invalid="ignore", divide="ignore"):  # degenerate input is reported below
        features = _process_file(np.asarray(joints, dtype=np.float64), sk, feet_threshold,
                                 target_offsets if retarget else None)
    if not np.isfinite(features).all():
        raise InputError("the joints give undefined rotations (a bone of zero length, or hips and "
                         "shoulders that give no facing direction); check the joint order and units")
    return features.astype(np.float32)


def _process_file(pos: np.ndarray, sk: Skeleton, feet_threshold: float, target_offsets) -> np.ndarray:
    if target_offsets is not None:
        pos = retarget_joints(pos, sk, target_offsets)
    pos = canonicalize_joints(pos, sk)
    contacts = foot_contacts(pos, sk, feet_threshold)

    quats = inverse_kinematics(pos, sk, smooth_forward=True)  # (T, J, 4)
    cont6d = quaternion_to_cont6d(quats)
    r_rot = quats[:, 0]  # (T, 4): turns each frame to face +z
    r_velocity = qmul(r_rot[1:], qinv(r_rot[:-1]))
    velocity = qrot(r_rot[1:], pos[1:, 0] - pos[:-1, 0])

    ric = pos - pos[:, :1] * np.array([1.0, 0.0, 1.0])
    ric = qrot(r_rot[:, None], ric)
    local_vel = qrot(r_rot[:-1, None], pos[1:] - pos[:-1])

    t = len(pos) - 1
    return np.concatenate([
        np.arcsin(r_velocity[:, 2:3]),
        velocity[:, [0, 2]],
        ric[:-1, 0, 1:2],
        ric[:-1, 1:].reshape(t, -1),
        cont6d[:-1, 1:].reshape(t, -1),
        local_vel.reshape(t, -1),
        contacts,
    ], axis=-1)


# ----------------------------------------------------------------------------------------
# features -> joints (numpy or torch, any leading batch dims)
# ----------------------------------------------------------------------------------------

def _prepare(features, skeleton):
    sk = get_skeleton(skeleton) if skeleton is not None else None
    if not A.is_torch(features):
        features = np.asarray(features)
    if features.ndim < 2:
        raise InputError(f"features must have shape (..., T, D), got {tuple(features.shape)}")
    sk = validate_features(features, skeleton=sk, batched=True)
    return A.as_float(features), sk


def recover_root_rot_pos(features, start=None):
    """Root rotation quaternions (..., T, 4) and positions (..., T, 3) (HumanML3D `recover_root_rot_pos`).

    The rotation is integrated from the per-frame y-velocity, the xz position from the
    facing-frame linear velocity (both start at zero); the height is read directly.
    `start` continues a motion whose earlier frames were recovered already (streaming):
    (the features of the frame before (..., D), its root angle (...,), its root position (..., 3)).
    """
    if start is not None:
        before, angle0, pos0 = start
        features = A.cat([before[..., None, :], features], axis=-2)
    rot_vel = features[..., 0]
    angle = A.cumsum(A.cat([A.zeros_like(rot_vel[..., :1]), rot_vel[..., :-1]], axis=-1), -1)
    if start is not None:
        angle = angle + angle0[..., None]
    sin, cos = A.sincos(angle)
    zero = A.zeros_like(angle)
    r_rot = A.stack([cos, zero, sin, zero])  # (..., T, 4)

    step = A.stack([features[..., 1], A.zeros_like(rot_vel), features[..., 2]])  # (..., T, 3)
    step = A.cat([A.zeros_like(step[..., :1, :]), step[..., :-1, :]], axis=-2)
    r_pos = A.cumsum(qrot(qinv(r_rot), step), -2)
    if start is not None:
        r_pos = r_pos + pos0[..., None, :]
    r_pos = A.stack([r_pos[..., 0], features[..., 3], r_pos[..., 2]])
    if start is not None:  # drop the frame before
        r_rot, r_pos = r_rot[..., 1:, :], r_pos[..., 1:, :]
    return r_rot, r_pos


def features_to_joints(features, skeleton: str | Skeleton | None = None, start=None):
    """Features (..., T, D) -> joint positions (..., T, J, 3), same kind/dtype/device.

    The 'ric' path (HumanML3D `recover_from_ric`), used by the original for every
    visualisation and evaluation. `skeleton` is inferred from D when not given; `start`
    continues an earlier chunk of the motion (see `recover_root_rot_pos`).
    """
    features, sk = _prepare(features, skeleton)
    r_rot, r_pos = recover_root_rot_pos(features, start)
    layout = feature_layout(sk)
    ric = features[..., layout.ric]
    ric = ric.reshape(tuple(ric.shape[:-1]) + (sk.num_joints - 1, 3))
    joints = qrot(qinv(r_rot[..., None, :]), ric)
    joints = joints + r_pos[..., None, :] * A.like([1.0, 0.0, 1.0], joints)
    return A.cat([r_pos[..., None, :], joints], axis=-2)


def features_to_joints_rot(features, skeleton: str | Skeleton | None = None, offsets=None):
    """Features (..., T, D) -> joints (..., T, J, 3) by forward kinematics of the 6D rotations.

    HumanML3D `recover_from_rot`. Bone offsets: `offsets` (J, 3) or (..., J, 3) if given,
    else the shipped HumanML3D target skeleton; for KIT (none shipped) the bone lengths are
    measured from the features' own ric positions (median over time).
    """
    features, sk = _prepare(features, skeleton)
    layout = feature_layout(sk)
    if offsets is None:
        offsets = default_offsets(sk)
    if offsets is None:
        offsets = _offsets_from_ric(features, sk)
    else:
        offsets = A.like(offsets, features) if not A.is_torch(offsets) else A.cast_like(offsets, features)
    r_rot, r_pos = recover_root_rot_pos(features)
    rot = features[..., layout.rot]
    rot = rot.reshape(tuple(rot.shape[:-1]) + (sk.num_joints - 1, 6))
    cont6d = A.cat([quaternion_to_cont6d(r_rot)[..., None, :], rot], axis=-2)  # (..., T, J, 6)
    if offsets.ndim > 2:
        offsets = offsets[..., None, :, :]  # per sequence -> broadcast over time
    return forward_kinematics_cont6d(cont6d, r_pos, offsets, sk)


def _offsets_from_ric(features, sk: Skeleton):
    """Per-sequence bone offsets (..., J, 3) from the ric joint positions (rotation-invariant)."""
    layout = feature_layout(sk)
    ric = features[..., layout.ric]
    ric = ric.reshape(tuple(ric.shape[:-1]) + (sk.num_joints - 1, 3))
    height = features[..., 3:4]
    root = A.cat([A.zeros_like(height), height, A.zeros_like(height)])  # ric keeps absolute y
    joints = A.cat([root[..., None, :], ric], axis=-2)  # (..., T, J, 3)
    offsets = get_offsets_joints(joints, sk)  # (..., T, J, 3)
    if A.is_torch(offsets):
        return offsets.median(dim=-3).values
    return np.median(offsets, axis=-3)
