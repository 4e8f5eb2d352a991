"""Frame-rate conversion of joint trajectories (e.g. CMU's 12 fps -> HumanML3D's 20 fps).

A cubic spline through every coordinate over time: positions and velocities stay smooth
(no repeated or stair-stepped frames as with nearest-frame resampling), and the new
frames cover the same time span as the old ones.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from t2mgpt.errors import DataError

TARGET_FPS = 20.0


def resampled_length(frames: int, src_fps: float, dst_fps: float = TARGET_FPS) -> int:
    """Frames at `dst_fps` that fit in the span of `frames` frames at `src_fps` (both ends included)."""
    duration = (frames - 1) / src_fps
    return int(np.floor(duration * dst_fps + 1e-6)) + 1


def resample(joints: np.ndarray, src_fps: float, dst_fps: float = TARGET_FPS) -> np.ndarray:
    """(T, ...) positions sampled at `src_fps` -> (T', ...) at `dst_fps`, frame 0 at the same time.

    T' = floor((T - 1) / src_fps * dst_fps) + 1: the last new frame is at most one new frame
    period before the old last frame.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if not (np.isfinite(src_fps) and src_fps > 0 and np.isfinite(dst_fps) and dst_fps > 0):
        raise DataError(f"frame rates must be positive, got {src_fps} -> {dst_fps}")
    t = len(joints)
    if t < 2:
        raise DataError(f"a motion of {t} frame(s) cannot be resampled")
    if src_fps == dst_fps:
        return joints.copy()
    src_time = np.arange(t) / src_fps
    dst_time = np.arange(resampled_length(t, src_fps, dst_fps)) / dst_fps
    flat = joints.reshape(t, -1)
    if t < 4:  # too few knots for a not-a-knot cubic: piecewise linear
        out = np.stack([np.interp(dst_time, src_time, flat[:, k]) for k in range(flat.shape[1])], axis=1)
    else:
        out = CubicSpline(src_time, flat, axis=0, bc_type="not-a-knot")(dst_time)
    return out.reshape((len(dst_time),) + joints.shape[1:])
