"""Training checkpoints that load with `torch.load(weights_only=True)`.

Everything in them is a tensor or a plain container of str/int/float/bool/None, so
RNG states are converted to tensors. Files are written atomically: a crash during a
save leaves the previous checkpoint intact.
"""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from t2mgpt.errors import CheckpointError
from t2mgpt.utils.io import atomic_path, safe_torch_load


def capture_rng_state() -> dict:
    """Python, NumPy (global), torch CPU and CUDA generator states as tensors."""
    version, py_state, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": {"version": version, "state": torch.tensor(py_state, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    npst = state["numpy"]
    np.random.set_state(
        (npst["name"], npst["keys"].numpy().astype(np.uint32), npst["pos"], npst["has_gauss"], npst["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


def save_checkpoint(obj: dict, path: str | Path) -> None:
    """Atomic `torch.save` (see `t2mgpt.utils.io.atomic_path`).

    Written through a Python file object, so a full disk raises OSError(ENOSPC) (torch's own
    writer turns it into an opaque RuntimeError).
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)


def load_checkpoint(path: str | Path, kind: str | None = None, map_location="cpu") -> dict:
    """Load a checkpoint safely; with `kind`, check it is a t2mgpt checkpoint of that kind."""
    ckpt = safe_torch_load(path, map_location=map_location)
    if kind is not None:
        if not isinstance(ckpt, dict) or "kind" not in ckpt:
            raise CheckpointError(f"{path} is not a t2mgpt {kind} checkpoint (no 'kind' entry)")
        if ckpt["kind"] != kind:
            raise CheckpointError(f"{path} is a {ckpt['kind']!r} checkpoint, expected {kind!r}")
    return ckpt
