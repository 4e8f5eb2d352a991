"""Putting given frames and generated ones together without a jump.

Features are root-relative (velocities, pelvis-relative positions), so appending generated
feature frames to given ones continues the given motion's trajectory. What is left at a
junction is the VQ-VAE's reconstruction error: the decoder's version of the last given frame
differs a little from the given frame. That difference is added to the first generated frames
and faded out over `BLEND_FRAMES` (a raised cosine), so the motion keeps its own per-frame
steps at the junction. Given joints are copied as they are; generated joints are put into the
given motion's world by a rotation about y and a translation fitted on the last given frames.
"""
from __future__ import annotations

import numpy as np

BLEND_FRAMES = 8


def fade(n: int) -> np.ndarray:
    """(n,) weights from 1 down to nearly 0 (raised cosine)."""
    return 0.5 * (1.0 + np.cos(np.pi * np.arange(n) / n))


def blend_forward(frames: np.ndarray, delta: np.ndarray, n: int = BLEND_FRAMES) -> np.ndarray:
    """frames (T, ...) + delta faded out over the first n frames."""
    out = frames.copy()
    n = min(n, len(out))
    out[:n] += fade(n).reshape((n,) + (1,) * (out.ndim - 1)).astype(out.dtype) * delta
    return out


def blend_backward(frames: np.ndarray, delta: np.ndarray, n: int = BLEND_FRAMES) -> np.ndarray:
    """frames (T, ...) + delta faded in over the last n frames (full at the last frame)."""
    return blend_forward(frames[::-1], delta, n)[::-1].copy()


def yaw_fit(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (N, 3) -> (R (3, 3) about y, t (3,)) minimising |src @ R.T + t - dst|."""
    cs, cd = src.mean(0), dst.mean(0)
    a, b = src - cs, dst - cd
    angle = np.arctan2((a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]).sum(), (a[:, 0] * b[:, 0] + a[:, 2] * b[:, 2]).sum())
    c, s = np.cos(angle), np.sin(angle)
    R = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return R, cd - cs @ R.T


def pelvis_relative_error(joints: np.ndarray, ref: np.ndarray) -> float:
    """Mean joint distance (m) of poses (T, J, 3) relative to the pelvis, each frame turned about
    y onto ref's: how far apart two motions' poses are, wherever and however turned they stand."""
    errors = []
    for a, b in zip(joints, ref):
        a, b = a - a[0], b - b[0]
        R, t = yaw_fit(a.astype(np.float64), b.astype(np.float64))
        errors.append(np.linalg.norm(a @ R.T + t - b, axis=-1).mean())
    return float(np.mean(errors))


def place(joints: np.ndarray, given: np.ndarray, upto: int, frames: int = 8) -> np.ndarray:
    """Move `joints` (T, J, 3) rigidly so that its frames [upto - frames, upto) match `given`'s."""
    lo = max(0, upto - frames)
    R, t = yaw_fit(joints[lo:upto].reshape(-1, 3).astype(np.float64), given[lo:upto].reshape(-1, 3).astype(np.float64))
    return (joints @ R.T + t).astype(joints.dtype)


def splice_joints(given: np.ndarray, generated: np.ndarray) -> np.ndarray:
    """Given joints (T, J, 3) followed by generated[T:] (same world), the junction offset faded out."""
    T = len(given)
    tail = blend_forward(generated[T:], given[-1] - generated[T - 1])
    return np.concatenate([given, tail.astype(given.dtype)], axis=0)
