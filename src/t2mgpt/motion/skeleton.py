"""Skeleton definitions of the HumanML3D (SMPL, 22 joints) and KIT-ML (21 joints) datasets.

Values follow the original HumanML3D processing code (`paramUtil.py`,
`motion_representation.ipynb`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from t2mgpt.errors import InputError


@dataclass(frozen=True)
class Skeleton:
    name: str
    joint_names: tuple[str, ...]
    kinematic_chains: tuple[tuple[int, ...], ...]
    raw_offsets: np.ndarray  # (J, 3) unit bone directions in the rest pose
    foot_left: tuple[int, int]  # (ankle, toe) joints used for foot contacts
    foot_right: tuple[int, int]
    face_joints: tuple[int, int, int, int]  # r_hip, l_hip, r_shoulder, l_shoulder
    leg_joints: tuple[int, int]  # (knee, ankle) of one leg: their bone sets the scale
    mirror: tuple[int, ...]  # left/right joint permutation

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @cached_property
    def parents(self) -> tuple[int, ...]:
        parents = [-1] * self.num_joints
        for chain in self.kinematic_chains:
            for parent, child in zip(chain[:-1], chain[1:]):
                parents[child] = parent
        return tuple(parents)

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        """The child joints of every joint, in index order."""
        kids: list[list[int]] = [[] for _ in range(self.num_joints)]
        for j, p in enumerate(self.parents):
            if p >= 0:
                kids[p].append(j)
        return tuple(tuple(k) for k in kids)

    @cached_property
    def preorder(self) -> tuple[int, ...]:
        """Joints depth-first from the root, children in index order (parents before children;
        BVH's channel order)."""
        out, stack = [], [0]
        while stack:
            j = stack.pop()
            out.append(j)
            stack.extend(reversed(self.children[j]))
        return tuple(out)

    @property
    def feature_dim(self) -> int:
        """Root (4) + ric (3(J-1)) + rot 6D (6(J-1)) + local velocity (3J) + foot contacts (4)."""
        j = self.num_joints
        return 4 + 3 * (j - 1) + 6 * (j - 1) + 3 * j + 4


HUMANML3D = Skeleton(
    name="humanml3d",
    joint_names=(
        "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
        "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
        "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    ),
    kinematic_chains=(
        (0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15),
        (9, 14, 17, 19, 21), (9, 13, 16, 18, 20),
    ),
    raw_offsets=np.array(
        [[0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0],
         [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0],
         [-1, 0, 0], [0, 0, 1], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0],
         [0, -1, 0]],
        dtype=np.float64,
    ),
    foot_left=(7, 10),
    foot_right=(8, 11),
    face_joints=(2, 1, 17, 16),
    leg_joints=(5, 8),
    mirror=(0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20),
)

KIT = Skeleton(
    name="kit",
    joint_names=(
        "root", "BP", "BT", "BLN", "BUN", "LS", "LE", "LW", "RS", "RE", "RW",
        "LH", "LK", "LA", "LMrot", "LF", "RH", "RK", "RA", "RMrot", "RF",
    ),
    kinematic_chains=(
        (0, 11, 12, 13, 14, 15), (0, 16, 17, 18, 19, 20), (0, 1, 2, 3, 4),
        (3, 5, 6, 7), (3, 8, 9, 10),
    ),
    raw_offsets=np.array(
        [[0, 0, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0], [0, -1, 0],
         [0, -1, 0], [-1, 0, 0], [0, -1, 0], [0, -1, 0], [1, 0, 0], [0, -1, 0], [0, -1, 0],
         [0, 0, 1], [0, 0, 1], [-1, 0, 0], [0, -1, 0], [0, -1, 0], [0, 0, 1], [0, 0, 1]],
        dtype=np.float64,
    ),
    foot_left=(19, 20),
    foot_right=(14, 15),
    face_joints=(11, 16, 5, 8),
    leg_joints=(17, 18),
    mirror=(0, 1, 2, 3, 4, 8, 9, 10, 5, 6, 7, 16, 17, 18, 19, 20, 11, 12, 13, 14, 15),
)

SKELETONS = {"humanml3d": HUMANML3D, "t2m": HUMANML3D, "kit": KIT}


def get_skeleton(skeleton: str | Skeleton) -> Skeleton:
    """Look a skeleton up by name ('humanml3d'/'t2m' or 'kit')."""
    if isinstance(skeleton, Skeleton):
        return skeleton
    try:
        return SKELETONS[str(skeleton).lower()]
    except KeyError:
        raise InputError(f"unknown skeleton {skeleton!r}; choose one of: humanml3d, kit") from None


def skeleton_for_dim(dim: int) -> Skeleton:
    """The skeleton whose feature vector has `dim` entries (263 -> humanml3d, 251 -> kit)."""
    for sk in (HUMANML3D, KIT):
        if sk.feature_dim == dim:
            return sk
    raise InputError(f"feature dimension {dim} matches no skeleton (263 = HumanML3D, 251 = KIT-ML)")
