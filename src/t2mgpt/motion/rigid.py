"""A rigid skeleton for every motion: bone offsets fixed per motion, local joint rotations per frame.

The networks output joint positions whose bone lengths drift (a generated forearm varies by
several centimetres within one clip). Everything we write (the .npy joints, videos, the web
viewer, BVH, glTF) comes from one `RigidMotion` instead: forward kinematics of fixed rest
offsets and per-frame local rotations, so every output agrees exactly and every bone keeps
its length (to float rounding).

The skeleton (see `rest_offsets`):
* bone lengths: for generated motion, the dataset's target skeleton (`reference_lengths`:
  every HumanML3D training motion was retargeted onto it, so it is what a model learned to
  draw, and every motion of a model gets the same bones), known before the first frame. Joints
  from elsewhere (files, mocap, skeletons that ship none such as KIT-ML) keep their own: the
  median lengths of their first `CONFIG_FRAMES` frames (exact for a rigid input).
* rest pose: a T-pose (legs down, arms out sideways, feet forward, head up, y up, facing +z).
  The children of a joint with several of them (pelvis: hips + spine; spine3: neck + collars)
  keep the angles between them that the motion shows in its first `CONFIG_FRAMES` frames
  (a rigid average, turned as close to the T-pose as it goes), so one rotation places them all.
Both choices need at most `CONFIG_FRAMES` frames of look-ahead at the start of a motion and
none after it: streamed motion is fitted frame by frame (`RigidFitter`).

Rotations (`solve_rotations`), per frame, parents before children: a joint with one child gets
the shortest rotation (relative to its parent) that points its bone from the joint's *fitted*
position at the child's target, so errors do not pile up along a chain; a joint with several
children gets the rotation that best aligns all its child offsets with the targets (Kabsch /
Wahba); leaves get the identity. A rigid input (e.g. a file we wrote) is reproduced exactly.

Conventions: quaternions are (w, x, y, z); a joint's world position is its parent's world
position plus the parent's world rotation applied to its rest offset (as in BVH and glTF).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from t2mgpt.motion.quaternion import matrix_to_quaternion, qbetween, qinv, qmul, qrot
from t2mgpt.motion.skeleton import Skeleton, get_skeleton

CONFIG_FRAMES = 4  # frames that fix the multi-child rest configuration (= one code of T2M-GPT)
_EPS = 1e-9
_IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])

# Rest bone directions that differ from the skeleton's raw (dataset) ones, where the arms hang
# down and the HumanML3D head points forward: a T-pose is what retargeting tools expect.
TPOSE = {
    "humanml3d": {16: (1, 0, 0), 18: (1, 0, 0), 20: (1, 0, 0),
                  17: (-1, 0, 0), 19: (-1, 0, 0), 21: (-1, 0, 0), 15: (0, 1, 0)},
    "kit": {6: (1, 0, 0), 7: (1, 0, 0), 9: (-1, 0, 0), 10: (-1, 0, 0)},
}


@dataclass
class RigidMotion:
    """Root positions + local joint rotations of one rigid skeleton (metres, y up)."""

    skeleton: Skeleton
    offsets: np.ndarray  # (J, 3) rest offset of each joint from its parent; root: 0
    root: np.ndarray  # (T, 3) root (pelvis) positions
    rotations: np.ndarray  # (T, J, 4) local unit quaternions (w, x, y, z), parent-relative
    fps: float = 20.0
    contacts: np.ndarray | None = None  # (T, 4) foot contacts in [0, 1], as in the features
    _joints: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def num_frames(self) -> int:
        return len(self.root)

    @property
    def joints(self) -> np.ndarray:
        """Joint positions (T, J, 3) by forward kinematics (computed once)."""
        if self._joints is None:
            self._joints = forward_kinematics(self.rotations, self.root, self.offsets, self.skeleton)
        return self._joints

    def world_rotations(self) -> np.ndarray:
        """Global joint rotations (T, J, 4)."""
        world = np.empty_like(self.rotations)
        for j in self.skeleton.preorder:
            p = self.skeleton.parents[j]
            world[:, j] = self.rotations[:, j] if p < 0 else qmul(world[:, p], self.rotations[:, j])
        return world

    def bone_lengths(self) -> np.ndarray:
        return np.linalg.norm(self.offsets, axis=-1)


def forward_kinematics(rotations: np.ndarray, root: np.ndarray, offsets: np.ndarray,
                       skeleton: Skeleton) -> np.ndarray:
    """Local rotations (T, J, 4) + root positions (T, 3) + rest offsets (J, 3) -> joints (T, J, 3)."""
    num_frames, num_joints = rotations.shape[:2]
    world = np.empty_like(rotations)
    pos = np.empty((num_frames, num_joints, 3))
    for j in skeleton.preorder:
        p = skeleton.parents[j]
        if p < 0:
            world[:, j], pos[:, j] = rotations[:, j], root
        else:
            world[:, j] = qmul(world[:, p], rotations[:, j])
            pos[:, j] = pos[:, p] + qrot(world[:, p], np.broadcast_to(offsets[j], (num_frames, 3)))
    return pos


def reference_lengths(skeleton: Skeleton) -> np.ndarray | None:
    """Bone lengths (J,) of the dataset's target skeleton (root: 0), or None if none is shipped."""
    from t2mgpt.motion.kinematics import default_offsets

    offsets = default_offsets(skeleton)
    return None if offsets is None else np.linalg.norm(offsets, axis=-1)


def measured_lengths(joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Median bone lengths (J,) of joint positions (T, J, 3) (root: 0)."""
    parents = np.array(skeleton.parents)
    lengths = np.zeros(skeleton.num_joints)
    lengths[1:] = np.median(np.linalg.norm(joints[:, 1:] - joints[:, parents[1:]], axis=-1), axis=0)
    return lengths


def rest_offsets(joints: np.ndarray, skeleton: Skeleton, lengths: np.ndarray | None = None) -> np.ndarray:
    """T-pose rest offsets (J, 3) of a motion: `lengths` (J,) (default: measured on its first
    `CONFIG_FRAMES` frames) along T-pose directions with the multi-child configurations of those
    frames."""
    head = joints[:CONFIG_FRAMES]
    lengths = measured_lengths(head, skeleton) if lengths is None else np.asarray(lengths, dtype=np.float64)
    return rest_directions(head, skeleton) * lengths[:, None]


def rest_directions(joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Unit T-pose bone directions (J, 3) (root: 0), multi-child configurations from `joints`."""
    dirs = np.array(skeleton.raw_offsets, dtype=np.float64)
    for j, d in TPOSE.get(skeleton.name, {}).items():
        dirs[j] = d
    dirs = unit(dirs)
    for j, kids in enumerate(skeleton.children):
        if len(kids) > 1:
            observed = unit(joints[:, kids] - joints[:, None, j])  # (T, k, 3)
            config = mean_configuration(observed)
            if config is not None:  # turn the observed configuration as close to the T-pose as it goes
                dirs[list(kids)] = config @ best_rotation(config, dirs[list(kids)]).T
    return dirs


def solve_rotations(joints: np.ndarray, skeleton: Skeleton, offsets: np.ndarray) -> np.ndarray:
    """Local rotations (T, J, 4) whose forward kinematics from `joints[:, 0]` best reproduce `joints`."""
    num_frames = len(joints)
    local = np.tile(_IDENTITY, (num_frames, skeleton.num_joints, 1))
    world = local.copy()
    pos = np.empty_like(joints)
    pos[:, 0] = joints[:, 0]
    identity = local[:, 0].copy()
    for j in skeleton.preorder:
        p = skeleton.parents[j]
        parent_rot = world[:, p] if p >= 0 else identity
        kids = list(skeleton.children[j])
        if kids:
            targets = qrot(qinv(parent_rot)[:, None], joints[:, kids] - pos[:, None, j])  # parent frame
            if len(kids) == 1:
                local[:, j] = swing(offsets[kids[0]], targets[:, 0])
            else:
                rest = np.broadcast_to(offsets[kids], targets.shape)
                local[:, j] = matrix_to_quaternion(best_rotation(rest, targets))
        world[:, j] = qmul(parent_rot, local[:, j])
        for c in kids:
            pos[:, c] = pos[:, j] + qrot(world[:, j], np.broadcast_to(offsets[c], (num_frames, 3)))
    return local


def continuous(quats: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """Flip quaternion signs (T, J, 4) so consecutive frames (and `previous` (J, 4)) agree in sign."""
    seq = quats if previous is None else np.concatenate([previous[None], quats])
    dots = (seq[1:] * seq[:-1]).sum(-1)  # (T', J)
    sign = np.cumprod(np.where(dots < 0, -1.0, 1.0), axis=0)
    seq = np.concatenate([seq[:1], seq[1:] * sign[..., None]])
    return seq if previous is None else seq[1:]


class RigidFitter:
    """Fits chunks of joint positions as they arrive (`postprocess` runs it on whole motions).

    The skeleton is fixed once `CONFIG_FRAMES` frames (or the whole motion) have been seen;
    after that every chunk is fitted on arrival. Concatenated chunks equal the one-shot fit.
    """

    def __init__(self, skeleton: str | Skeleton, fps: float = 20.0, lengths: np.ndarray | None = None):
        self.skeleton = get_skeleton(skeleton)
        self.fps = float(fps)
        self.lengths = lengths
        self.offsets: np.ndarray | None = None
        self._pending: list[np.ndarray] = []
        self._last: np.ndarray | None = None  # last emitted rotations (J, 4), for sign continuity

    def push(self, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add frames (t, J, 3); return (root (n, 3), rotations (n, J, 4)) of the frames now fitted."""
        self._pending.append(np.asarray(joints, dtype=np.float64))
        if self.offsets is None and sum(len(c) for c in self._pending) < CONFIG_FRAMES:
            return np.zeros((0, 3)), np.zeros((0, self.skeleton.num_joints, 4))
        return self._fit_pending()

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """Fit whatever is still waiting (a motion shorter than `CONFIG_FRAMES`)."""
        if not self._pending:
            return np.zeros((0, 3)), np.zeros((0, self.skeleton.num_joints, 4))
        return self._fit_pending()

    def _fit_pending(self) -> tuple[np.ndarray, np.ndarray]:
        joints = np.concatenate(self._pending)
        self._pending = []
        if self.offsets is None:
            self.offsets = rest_offsets(joints, self.skeleton, self.lengths)
        rotations = continuous(solve_rotations(joints, self.skeleton, self.offsets), self._last)
        if len(rotations):
            self._last = rotations[-1]
        return joints[:, 0].copy(), rotations


# ---------------------------------------------------------------------------- geometry


def unit(v: np.ndarray) -> np.ndarray:
    """Unit vectors over the last axis; (near) zero vectors stay zero."""
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v, dtype=np.float64), where=norm > _EPS)


def swing(rest: np.ndarray, bone: np.ndarray) -> np.ndarray:
    """Shortest-arc quaternions (T, 4) turning `rest` (3,) onto `bone` (T, 3); identity for empty bones."""
    if np.linalg.norm(rest) <= _EPS:  # a bone of length 0 has no direction to turn
        return np.tile(_IDENTITY, (len(bone), 1))
    bone = np.where(np.linalg.norm(bone, axis=-1, keepdims=True) > _EPS, bone, rest)
    return qbetween(np.broadcast_to(rest, bone.shape), bone)


def best_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
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


def mean_configuration(dirs: np.ndarray) -> np.ndarray | None:
    """Rigid mean (k, 3) of per-frame unit-vector sets (T, k, 3) (generalised Procrustes)."""
    dirs = dirs[(np.linalg.norm(dirs, axis=-1) > 0.5).all(-1)]
    if not len(dirs):
        return None
    mean = dirs[0]
    for _ in range(3):
        aligned = np.einsum("tij,tkj->tki", best_rotation(dirs, mean), dirs)
        mean = unit(aligned.mean(0))
    return mean
