"""Device selection shared by every command (`--device`)."""
from __future__ import annotations

import torch

from t2mgpt.errors import InputError


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """'auto'/None -> cuda if available else cpu; otherwise check the device exists."""
    if isinstance(name, torch.device):
        name = str(name)
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as e:
        raise InputError(f"unknown device {name!r}: use cpu, cuda, cuda:N, mps or auto") from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {name!r} requested but CUDA is not available here; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise InputError("device 'mps' requested but MPS is not available here; use --device cpu")
    return dev
