"""Tiny numpy/torch dispatch so each motion formula is written once for both backends.

Everything else (indexing, arithmetic, broadcasting) is shared syntax. torch is only
touched when the caller passes a tensor, so numpy-only users never import it.
"""
from __future__ import annotations

import sys

import numpy as np


def is_torch(x) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def stack(xs, axis: int = -1):
    if is_torch(xs[0]):
        import torch

        return torch.stack(list(xs), dim=axis)
    return np.stack(xs, axis=axis)


def cat(xs, axis: int = -1):
    if is_torch(xs[0]):
        import torch

        return torch.cat(list(xs), dim=axis)
    return np.concatenate(xs, axis=axis)


def where(cond, a, b):
    if is_torch(cond):
        import torch

        return torch.where(cond, a, b)
    return np.where(cond, a, b)


def cumsum(x, axis: int):
    return x.cumsum(axis)  # same signature for ndarray and Tensor


def sqrt(x):
    return x.sqrt() if is_torch(x) else np.sqrt(x)


def arcsin(x):
    return x.asin() if is_torch(x) else np.arcsin(x)


def sincos(x):
    if is_torch(x):
        return x.sin(), x.cos()
    return np.sin(x), np.cos(x)


def clip(x, lo, hi):
    return x.clamp(lo, hi) if is_torch(x) else np.clip(x, lo, hi)


def zeros_like(x, shape=None):
    """Zeros with `x`'s kind, dtype and device (and `shape` if given)."""
    if is_torch(x):
        import torch

        return torch.zeros(x.shape if shape is None else shape, dtype=x.dtype, device=x.device)
    return np.zeros(x.shape if shape is None else shape, dtype=x.dtype)


def like(arr: np.ndarray, x):
    """Constant numpy array `arr` as the kind/dtype/device of `x`."""
    if is_torch(x):
        import torch

        return torch.as_tensor(np.asarray(arr), dtype=x.dtype, device=x.device)
    return np.asarray(arr, dtype=x.dtype)


def as_float(x):
    """Integer/bool input -> float32; float input unchanged (numpy arrays stay numpy)."""
    if is_torch(x):
        return x if x.is_floating_point() else x.float()
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)


def cast_like(x, ref):
    """x converted to ref's dtype (and device)."""
    if is_torch(ref):
        return x.to(dtype=ref.dtype, device=ref.device)
    return np.asarray(x).astype(ref.dtype, copy=False)


def broadcast_to(x, shape):
    if is_torch(x):
        return x.broadcast_to(shape)
    return np.broadcast_to(x, shape)
