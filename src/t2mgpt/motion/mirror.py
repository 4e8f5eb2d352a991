"""Left/right mirroring (HumanML3D's data augmentation), on joints and directly on features."""
from __future__ import annotations

import numpy as np

from t2mgpt.motion import _array as A
from t2mgpt.motion.features import feature_layout
from t2mgpt.motion.skeleton import Skeleton, get_skeleton
from t2mgpt.motion.validate import validate_features, validate_joints

# Conjugating a rotation matrix by the x-reflection M = diag(-1, 1, 1) flips the sign of
# entries (0, 1), (0, 2), (1, 0), (2, 0); on the 6D columns (R[:, 0], R[:, 1]) that is:
_ROT6D_SIGN = np.array([1.0, -1.0, -1.0, -1.0, 1.0, 1.0])
_X_SIGN = np.array([-1.0, 1.0, 1.0])


def mirror_joints(joints, skeleton: str | Skeleton | None = None):
    """Joint positions (..., J, 3) -> mirrored: x negated and left/right joints swapped."""
    sk = get_skeleton(skeleton) if skeleton is not None else None
    if not A.is_torch(joints):
        joints = np.asarray(joints)
    if sk is None:
        sk = validate_joints(joints if joints.ndim >= 3 else joints[None], batched=True)
    joints = A.as_float(joints)
    return joints[..., list(sk.mirror), :] * A.like(_X_SIGN, joints)


def mirror_features(features, skeleton: str | Skeleton | None = None):
    """Features (..., T, D) of a motion -> features of its mirror image.

    Equals `joints_to_features(mirror_joints(joints))` up to rounding when the skeleton is
    left/right symmetric; with HumanML3D's slightly asymmetric target skeleton the retargeted
    bone lengths differ by a few millimetres.
    """
    if not A.is_torch(features):
        features = np.asarray(features)
    sk = validate_features(features, skeleton=skeleton, batched=True)
    features = A.as_float(features)
    layout = feature_layout(sk)
    j = sk.num_joints
    perm = np.array(sk.mirror)
    child_perm = list(perm[1:] - 1)  # joints 1..J-1 (the root maps to itself)
    batch = tuple(features.shape[:-1])

    ric = features[..., layout.ric].reshape(batch + (j - 1, 3))[..., child_perm, :]
    rot = features[..., layout.rot].reshape(batch + (j - 1, 6))[..., child_perm, :]
    vel = features[..., layout.local_velocity].reshape(batch + (j, 3))[..., list(perm), :]
    contacts = features[..., layout.foot_contacts]
    x_sign = A.like(_X_SIGN, features)
    return A.cat([
        -features[..., layout.root_rot_velocity],
        -features[..., 1:2],
        features[..., 2:4],
        (ric * x_sign).reshape(batch + (-1,)),
        (rot * A.like(_ROT6D_SIGN, features)).reshape(batch + (-1,)),
        (vel * x_sign).reshape(batch + (-1,)),
        contacts[..., [2, 3, 0, 1]],
    ])
