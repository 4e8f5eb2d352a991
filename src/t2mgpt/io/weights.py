"""safetensors weights of a model folder: shapes checked against the module before allocating.

The module's state dict shapes are first worked out on the meta device (no memory) and
compared with the file's header; only then is the module built (without random init) and
loaded. So a config.json that does not match its weights (or asks for gigabytes) is refused
with one line before anything is allocated.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from t2mgpt.errors import CheckpointError


def header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from a safetensors header (reads no tensor data)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable safetensors file (corrupt or truncated?): {e}") from e


def _mismatch(found: dict[str, tuple], expected: dict[str, tuple], path: Path, what: str) -> None:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = [f"{k} {found[k]} (config.json implies {expected[k]})"
             for k in expected if k in found and found[k] != expected[k]]
    if not (missing or unexpected or wrong):
        return
    parts = []
    if wrong:
        parts.append(f"shape mismatch: {'; '.join(wrong[:4])}" + (f" and {len(wrong) - 4} more" if len(wrong) > 4 else ""))
    if missing:
        parts.append(f"missing: {missing[:5]}" + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
    if unexpected:
        parts.append(f"unexpected: {unexpected[:5]}" + (f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else ""))
    raise CheckpointError(f"{path}: the {what} weights do not match the {what} config in config.json: "
                          + "; ".join(parts))


def load_module(factory: Callable, path: Path, what: str):
    """`factory()`'s module with the weights of the safetensors file `path` (CPU, float as stored
    converted to the module's dtypes). Raises CheckpointError naming what does not fit."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from t2mgpt.utils.init import state_shapes, uninitialised

    _mismatch(header_shapes(path), state_shapes(factory), path, what)
    module = uninitialised(factory)  # every parameter is overwritten below
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable safetensors file (corrupt or truncated?): {e}") from e
    for k, v in state.items():
        # one cheap pass: NaN/inf propagate into the sum (exact check only when it is not finite)
        if v.is_floating_point() and not bool(v.sum().isfinite()) and not bool(v.isfinite().all()):
            raise CheckpointError(f"{path}: weight {k} contains NaN or inf; the file is corrupt")
    dtypes = {k: v.dtype for k, v in module.state_dict().items()}
    module.load_state_dict({k: v.to(dtypes[k]) for k, v in state.items()}, strict=True, assign=True)
    return module
