"""Refuse a model that cannot fit before allocating it (e.g. `--nb-code 1000000000`).

The model is built on the meta device (no memory) to count its parameters and buffers;
training needs each parameter four times (weights, gradients, AdamW's two moments).
"""
from __future__ import annotations

import contextlib
import os

import torch

from t2mgpt.errors import InputError


def device_memory(device: torch.device) -> int | None:
    """Total bytes of `device` (RAM for the CPU), or None when unknown."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system
        return None


def training_bytes(model: torch.nn.Module) -> int:
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    return 4 * params + buffers


def check_fits(task, device: torch.device) -> None:
    """InputError when training `task.build(...)` needs more memory than `device` has in total."""
    with torch.device("meta"):
        need = training_bytes(task.build(torch.device("meta")))
    total = device_memory(device)
    if total is not None and need > total:
        raise InputError(f"the model needs {need / 1e9:.1f} GB to train (weights, gradients and optimizer state) "
                         f"but this {device.type} has {total / 1e9:.1f} GB; {task.size_hint}")


@contextlib.contextmanager
def on_allocation_failure(task):
    """Turn an out-of-memory error while building the model into a one-line InputError."""
    try:
        yield
    except (MemoryError, RuntimeError) as e:  # torch.OutOfMemoryError is a RuntimeError
        if not isinstance(e, MemoryError) and "alloc" not in str(e) and "out of memory" not in str(e):
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"not enough memory for the model ({first}); {task.size_hint}") from e
