"""Foot contact cleanup: feet that the model puts on the ground stay planted and above the floor.

Per foot joint (left ankle, left toe, right ankle, right toe: the order of the 4 contact
channels at the end of the HumanML3D features) a contact starts when the model's channel says
so (> `channel_threshold`; joints without channels rely on the rest), the joint is near the
floor (`heights`) and moves slowly (`max_speed`); it lasts while the channel stays on and the
joint stays near the floor, and is let go when the generated foot has run further than
`release_distance` from where it was planted. During a contact the joint is pinned on the
floor plane where the contact began (creeping after a generated foot that runs away, at most at
`creep_speed`); the pin takes hold over the first `blend_frames` frames of a contact and its
correction fades out over the frames after it (smoothstep weights). A toe pinned alone carries its ankle along
and vice versa, so the foot keeps its shape. Foot joints never go below the floor.

The legs then reach the targets by two-bone IK (hip fixed, knee in the plane of the generated
knee) and the foot bone aims at its toe target, so bone lengths are kept exactly.

Online without look-ahead: each frame depends on it and the frames before it only
(`FootCleanup.push`); `clean_feet` runs the same code on a whole motion, so streamed and
one-shot results agree.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from t2mgpt.motion.rigid import unit
from t2mgpt.motion.skeleton import Skeleton, get_skeleton


@dataclass(frozen=True)
class CleanupConfig:
    channel_threshold: float = 0.5  # contact channel value above which the model says "contact"
    heights: tuple[float, float] = (0.10, 0.06)  # m above the floor: (ankle, toe) contact limits
    max_speed: float = 1.0  # m/s on the floor plane for a contact to start
    creep_speed: float = 0.3  # m/s: a pin follows a generated foot that runs away, at most this fast
    release_distance: float = 0.12  # m: a pin further than this from the generated foot is let go
    blend_frames: int = 3  # frames over which a pin takes hold / lets go
    floor: float = 0.0  # floor height (HumanML3D puts the floor at y = 0)


def foot_joints(skeleton: Skeleton) -> tuple[int, int, int, int]:
    """(left ankle, left toe, right ankle, right toe): the joints of the 4 contact channels."""
    return (*skeleton.foot_left, *skeleton.foot_right)


class FootCleanup:
    """Streaming foot cleanup of joint positions (n, J, 3) + contact channels (n, 4) or None."""

    def __init__(self, skeleton: str | Skeleton, fps: float = 20.0, config: CleanupConfig = CleanupConfig()):
        self.skeleton = get_skeleton(skeleton)
        self.fps = float(fps)
        self.cfg = config
        self.joints = list(foot_joints(self.skeleton))
        self._prev: np.ndarray | None = None  # last frame's foot joints (4, 3)
        # per foot joint (plain floats: a frame is a few scalar steps, cheaper than numpy calls)
        self._active = [False] * 4
        self._pin = [[0.0, 0.0] for _ in range(4)]  # (x, z) on the floor plane
        self._age = [1 << 30] * 4  # frames since the contact began / ended
        self._last = [[0.0, 0.0] for _ in range(4)]  # the correction on the last frame of the last contact
        self.contacts: list[list[bool]] = []  # per frame: which of the 4 joints were pinned

    def push(self, positions: np.ndarray, channels: np.ndarray | None = None) -> np.ndarray:
        """Add frames (n, J, 3) (+ channels (n, 4)); return them cleaned (n, J, 3)."""
        cfg = self.cfg
        positions = np.asarray(positions, dtype=np.float64)
        n = len(positions)
        if not n:
            return positions.reshape(0, self.skeleton.num_joints, 3)
        feet = positions[:, self.joints]  # (n, 4, 3)
        prev = np.concatenate([feet[:1] if self._prev is None else self._prev[None], feet[:-1]])
        self._prev = feet[-1]
        speed = np.linalg.norm((feet - prev)[..., [0, 2]], axis=-1) * self.fps  # (n, 4)
        says = np.ones((n, 4), bool) if channels is None else np.asarray(channels) > cfg.channel_threshold
        low = feet[..., 1] < cfg.floor + np.array(cfg.heights * 2)  # ankle, toe, ankle, toe
        may_start = (says & low & (speed < cfg.max_speed)).tolist()
        may_keep = (says & low).tolist()
        xs, zs = feet[..., 0].tolist(), feet[..., 2].tolist()
        shift, weight = np.zeros((n, 4, 3)), np.zeros((n, 4))
        for t in range(n):
            for k in range(4):
                shift[t, k, [0, 2]], weight[t, k] = self._step(k, xs[t][k], zs[t][k], may_keep[t][k], may_start[t][k])
            self.contacts.append(list(self._active))
        return self._apply(positions, shift, weight)

    def _step(self, k: int, x: float, z: float, may_keep: bool, may_start: bool) -> tuple[tuple[float, float], float]:
        """Contact state of joint k after one frame; its correction (dx, dz) and weight."""
        cfg, b = self.cfg, self.cfg.blend_frames
        pin, active = self._pin[k], self._active[k]
        ax, az = x - pin[0], z - pin[1]
        dist = math.hypot(ax, az)
        keep = active and may_keep and dist <= cfg.release_distance
        # after a contact ends the foot fades back for `blend_frames` frames before it may plant again
        start = not active and may_start and self._age[k] > b
        if start:
            pin[0], pin[1] = x, z
        elif keep:  # a kept pin creeps after a foot that runs away, no faster than `creep_speed`
            c = min(1.0, cfg.creep_speed / self.fps / max(dist, 1e-12))
            pin[0], pin[1] = pin[0] + ax * c, pin[1] + az * c
        self._age[k] = 0 if start or (active and not keep) else self._age[k] + 1
        self._active[k] = active = keep or start
        if active:  # pins take hold over the first frames of a contact
            w = _ease((self._age[k] + 1) / (b + 1))
            self._last[k] = [w * (pin[0] - x), w * (pin[1] - z)]
            return tuple(self._last[k]), w
        w = _ease(1.0 - self._age[k] / (b + 1))  # and let go over the frames after one
        return (w * self._last[k][0], w * self._last[k][1]), w

    def _apply(self, pos: np.ndarray, shift: np.ndarray, weight: np.ndarray) -> np.ndarray:
        out = pos.copy()
        parents = self.skeleton.parents
        for side in (0, 2):  # left foot: channels 0, 1; right foot: 2, 3
            ankle, toe = self.joints[side], self.joints[side + 1]
            knee, hip = parents[ankle], parents[parents[ankle]]
            # one shift moves the whole foot: the toe's pin first (it holds last in a step), else the ankle's
            foot_shift = shift[:, side + 1] + (1 - weight[:, side + 1, None]) * shift[:, side]
            ankle_target = pos[:, ankle] + foot_shift
            toe_target = pos[:, toe] + foot_shift
            ankle_target[:, 1] = np.maximum(ankle_target[:, 1], self.cfg.floor)
            toe_target[:, 1] = np.maximum(toe_target[:, 1], self.cfg.floor)
            forward = pos[:, toe] - pos[:, ankle]  # knees bend the way the feet point, if the leg is straight
            moved = np.abs(ankle_target - pos[:, ankle]).max(-1) + np.abs(toe_target - pos[:, toe]).max(-1) > 0
            knee_, ankle_ = two_bone_ik(pos[:, hip], pos[:, knee], pos[:, ankle], ankle_target, forward)
            toe_ = _aim_above_floor(ankle_, toe_target, np.linalg.norm(forward, axis=-1), unit(forward), self.cfg.floor)
            for j, new in ((knee, knee_), (ankle, ankle_), (toe, toe_)):  # feet that need nothing keep their pose
                out[:, j] = np.where(moved[:, None], new, pos[:, j])
        return out


def _aim_above_floor(ankle: np.ndarray, target: np.ndarray, length: np.ndarray, fallback: np.ndarray,
                     floor: float) -> np.ndarray:
    """The toe (n, 3) at `length` from the ankle towards `target`, lifted to the floor if below it."""
    aim = unit(target - ankle)
    aim = np.where(np.linalg.norm(aim, axis=-1, keepdims=True) > 0.5, aim, fallback)
    toe = ankle + length[:, None] * aim
    below = toe[:, 1] < floor
    if below.any():  # keep the heading, tilt the foot up until the toe touches the floor
        dy = np.clip((floor - ankle[:, 1]) / np.maximum(length, 1e-9), -1.0, 1.0)
        flat = unit(aim * [1.0, 0.0, 1.0])
        tilted = flat * np.sqrt(1 - dy ** 2)[:, None] + np.array([0.0, 1.0, 0.0]) * dy[:, None]
        toe = np.where(below[:, None], ankle + length[:, None] * tilted, toe)
    return toe


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, target: np.ndarray,
                hint: np.ndarray | None = None):
    """New (knee, ankle) positions (n, 3) reaching `target` with the bone lengths of hip-knee-ankle.

    The knee stays in the plane through hip, target and the old knee (nudged along `hint` (n, 3)
    when the leg is nearly straight, so that it bends the way the foot points); out of reach, the leg stretches towards the target (or folds,
    when it is too near).
    """
    upper = np.linalg.norm(knee - hip, axis=-1, keepdims=True)
    lower = np.linalg.norm(ankle - knee, axis=-1, keepdims=True)
    reach = target - hip
    dist = np.linalg.norm(reach, axis=-1, keepdims=True)
    d = np.clip(dist, np.abs(upper - lower) + 1e-6, upper + lower - 1e-6)
    u = unit(reach)
    u = np.where(dist > 1e-9, u, unit(ankle - hip))
    bend = knee - hip
    if hint is not None:  # a bias the way the foot points keeps the knee steady when the leg is ~straight
        off_line = np.linalg.norm(bend - (bend * u).sum(-1, keepdims=True) * u, axis=-1, keepdims=True)
        bend = bend + 0.02 * np.clip(1 - off_line / 0.02, 0.0, 1.0) * unit(hint)
    pole = unit(bend - (bend * u).sum(-1, keepdims=True) * u)  # knee direction, perpendicular to u
    cos_a = np.clip((upper ** 2 + d ** 2 - lower ** 2) / (2 * upper * d), -1.0, 1.0)
    new_knee = hip + upper * (cos_a * u + np.sqrt(1 - cos_a ** 2) * pole)
    return new_knee, hip + d * u


def clean_feet(positions: np.ndarray, skeleton: str | Skeleton, fps: float = 20.0,
               channels: np.ndarray | None = None, config: CleanupConfig = CleanupConfig()) -> np.ndarray:
    """Cleaned joint positions (T, J, 3) of a whole motion (see the module docstring)."""
    return FootCleanup(skeleton, fps, config).push(positions, channels)


def _ease(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)



