"""Feature normalisation with the dataset's mean and standard deviation."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from t2mgpt.errors import InputError
from t2mgpt.motion import _array as A


class Normalizer:
    """(x - mean) / std and back, for numpy arrays or torch tensors (..., D)."""

    def __init__(self, mean, std):
        mean = np.asarray(mean, dtype=np.float32)
        std = np.asarray(std, dtype=np.float32)
        if mean.ndim != 1 or std.shape != mean.shape:
            raise InputError(f"mean and std must be 1-D of the same length, got {mean.shape} and {std.shape}")
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            raise InputError("mean/std contain NaN or inf")
        if (std <= 0).any():
            raise InputError(f"std has {(std <= 0).sum()} non-positive entries; features cannot be normalised by it")
        self.mean, self.std = mean, std

    @property
    def dim(self) -> int:
        return len(self.mean)

    def _check(self, x):
        if x.shape[-1] != self.dim:
            raise InputError(f"feature dimension {x.shape[-1]} does not match the normaliser's {self.dim}")

    def normalize(self, x):
        x = A.as_float(x)
        self._check(x)
        return (x - A.like(self.mean, x)) / A.like(self.std, x)

    def denormalize(self, x):
        x = A.as_float(x)
        self._check(x)
        return x * A.like(self.std, x) + A.like(self.mean, x)

    @classmethod
    def humanml3d(cls) -> "Normalizer":
        """The published HumanML3D statistics (what the released checkpoints expect)."""
        from importlib.resources import files

        assets = files("t2mgpt.assets")
        with (assets / "humanml3d_Mean.npy").open("rb") as m, (assets / "humanml3d_Std.npy").open("rb") as s:
            return cls(np.load(m), np.load(s))

    @classmethod
    def from_files(cls, mean_path: str | Path, std_path: str | Path, dim: int | None = None) -> "Normalizer":
        """Load Mean.npy / Std.npy; `dim` (e.g. 263) checks their length."""
        return cls(*read_stats(mean_path, std_path, dim=dim))

    def __repr__(self) -> str:
        return f"Normalizer(dim={self.dim})"


def read_stats(mean_path: str | Path, std_path: str | Path, *, dim: int | None = None,
               error: type[Exception] = InputError, hint: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Mean and std .npy files -> checked float32 (D,) arrays: readable, 1-D, of one length
    (`dim` if given), finite, std > 0. Problems raise `error`; `hint` follows a missing file's
    message (where such a file comes from)."""
    arrays = []
    for what, path in (("mean", Path(mean_path)), ("std", Path(std_path))):
        if not path.is_file():
            raise error(f"{path} not found{hint}")
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as e:
            raise error(f"{path}: cannot read the {what} as .npy ({type(e).__name__}: {e})") from None
        if not isinstance(arr, np.ndarray) or arr.ndim != 1:
            shape = getattr(arr, "shape", "an .npz archive")
            raise error(f"{path}: the {what} must be a 1-D array (D,), got {shape}")
        if dim is not None and arr.shape[0] != dim:
            raise error(f"{path}: the {what} has {arr.shape[0]} entries, expected {dim}")
        if not np.isfinite(arr).all():
            raise error(f"{path}: the {what} contains NaN or inf; recompute the statistics")
        arrays.append(arr.astype(np.float32))
    mean, std = arrays
    if mean.shape != std.shape:
        raise error(f"{mean_path} {mean.shape} and {std_path} {std.shape} differ in shape; they must have the same "
                    f"length, one entry per feature dimension")
    if (std <= 0).any():
        bad = np.flatnonzero(std <= 0)[:5].tolist()
        raise error(f"{std_path} has non-positive entries (dimensions {bad}...); normalising would divide by "
                    f"zero: recompute it or floor it at a small positive value")
    return mean, std
