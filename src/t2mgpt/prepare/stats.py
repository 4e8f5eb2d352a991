"""Mean.npy / Std.npy as HumanML3D's `cal_mean_variance` computes them.

The mean is per dimension. The standard deviation is per dimension, then *averaged within
each feature group* (root rotation velocity, root linear velocity, root height, ric, rot,
local velocity, foot contacts), so every dimension of a group is scaled alike -- the
published HumanML3D Std.npy is constant on these seven groups, and T2M-GPT uses it.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from t2mgpt.errors import DataError
from t2mgpt.motion.features import feature_layout
from t2mgpt.motion.skeleton import Skeleton, skeleton_for_dim


def feature_groups(skeleton: str | Skeleton) -> list[slice]:
    """The seven slices that share one std."""
    lay = feature_layout(skeleton)
    return [lay.root_rot_velocity, lay.root_linear_velocity, lay.root_height, lay.ric, lay.rot,
            lay.local_velocity, lay.foot_contacts]


class RunningMoments:
    """Per-dimension count / mean / sum of squared deviations, merged chunk by chunk (Chan et al.)."""

    def __init__(self, dim: int):
        self.n = 0
        self.mean = np.zeros(dim)
        self.m2 = np.zeros(dim)

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.mean):
            raise DataError(f"features of shape {x.shape} do not have {len(self.mean)} dimensions")
        n = len(x)
        if n == 0:
            return
        mean = x.mean(0)
        m2 = ((x - mean) ** 2).sum(0)
        total = self.n + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta ** 2 * (self.n * n / total)
        self.n = total

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.n, 1))  # population std, as numpy's .std()


def group_std(std: np.ndarray, skeleton: str | Skeleton | None = None) -> np.ndarray:
    """Replace each group's per-dimension std by the group's mean std."""
    std = np.asarray(std, dtype=np.float64).copy()
    sk = skeleton if skeleton is not None else skeleton_for_dim(len(std))
    for g in feature_groups(sk):
        std[g] = std[g].mean()
    return std


def mean_std(motions: Iterable[np.ndarray], skeleton: str | Skeleton | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and grouped Std (D,) over all frames of `motions` ((T, D) arrays), float32."""
    moments = None
    for m in motions:
        if moments is None:
            moments = RunningMoments(m.shape[-1])
        moments.update(m)
    if moments is None or moments.n == 0:
        raise DataError("no motion frames to compute Mean/Std from")
    std = group_std(moments.std, skeleton)
    if (std <= 0).any():
        raise DataError("a feature group has zero variance over the data; Std.npy would divide by zero")
    return moments.mean.astype(np.float32), std.astype(np.float32)
