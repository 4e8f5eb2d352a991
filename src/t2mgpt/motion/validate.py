"""Checks for user-supplied motion arrays, with messages that say what is wrong and what to do."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from t2mgpt.errors import InputError
from t2mgpt.motion import _array as A
from t2mgpt.motion.skeleton import HUMANML3D, KIT, Skeleton, get_skeleton, skeleton_for_dim

_FEATURE_DIMS = {sk.feature_dim: sk for sk in (HUMANML3D, KIT)}
_JOINT_COUNTS = {sk.num_joints: sk for sk in (HUMANML3D, KIT)}


def _shape_of(x) -> tuple[int, ...]:
    if A.is_torch(x) or isinstance(x, np.ndarray):
        return tuple(x.shape)
    raise InputError(f"expected a numpy array or torch tensor, got {type(x).__name__}")


def _check_finite(x, what: str) -> None:
    if A.is_torch(x):
        if not x.is_floating_point():
            return
        bad = ~x.isfinite()
        count = int(bad.sum())
    else:
        if not np.issubdtype(x.dtype, np.floating):
            if not np.issubdtype(x.dtype, np.number):
                raise InputError(f"{what} must be numeric, got dtype {x.dtype}")
            return
        count = int((~np.isfinite(x)).sum())
    if count:
        raise InputError(f"{what} contain {count} NaN/inf value(s); clean or re-generate the motion")


def _check_frames(n: int, min_frames: int, what: str) -> None:
    if n < min_frames:
        raise InputError(f"{what} have {n} frame(s) but at least {min_frames} are needed")


def validate_features(features, dim: int | None = None, *, skeleton: str | Skeleton | None = None,
                      min_frames: int = 1, batched: bool = False) -> Skeleton:
    """Check motion features (T, D) (or (..., T, D) if `batched`); return the matching skeleton.

    D must be 263 (HumanML3D) or 251 (KIT-ML), and equal `dim` / the skeleton's if given.
    """
    shape = _shape_of(features)
    expected = "(..., T, D)" if batched else "(T, D)"
    if len(shape) == 3 and shape[-1] == 3 and shape[-2] in _JOINT_COUNTS:
        raise InputError(f"expected motion features {expected}, got {shape}: "
                         "this looks like joint positions (T, J, 3)")
    if len(shape) < 2 or (not batched and len(shape) != 2):
        raise InputError(f"expected motion features of shape {expected}, got {shape}")
    d = shape[-1]
    if skeleton is not None:
        sk = get_skeleton(skeleton)
        if d != sk.feature_dim:
            raise InputError(f"feature dimension {d} does not match the {sk.name} skeleton "
                             f"({sk.feature_dim} dims)")
    else:
        sk = skeleton_for_dim(d)
    if dim is not None and d != dim:
        raise InputError(f"feature dimension {d} does not match the expected {dim}")
    _check_frames(shape[-2], min_frames, "motion features")
    _check_finite(features, "motion features")
    return sk


def validate_joints(joints, skeleton: str | Skeleton | None = None, *, min_frames: int = 1,
                    batched: bool = False) -> Skeleton:
    """Check joint positions (T, J, 3) (or (..., T, J, 3) if `batched`); return the skeleton.

    J must be 22 (HumanML3D) or 21 (KIT-ML), or the given skeleton's joint count.
    """
    shape = _shape_of(joints)
    expected = "(..., T, J, 3)" if batched else "(T, J, 3)"
    if len(shape) == 2 and shape[-1] in _FEATURE_DIMS:
        raise InputError(f"expected joint positions {expected}, got {shape}: "
                         "this looks like motion features (T, D); convert them with features_to_joints")
    if len(shape) < 3 or (not batched and len(shape) != 3) or shape[-1] != 3:
        raise InputError(f"expected joint positions of shape {expected} (x, y, z per joint), got {shape}")
    j = shape[-2]
    if skeleton is not None:
        sk = get_skeleton(skeleton)
        if j != sk.num_joints:
            raise InputError(f"got {j} joints but the {sk.name} skeleton has {sk.num_joints}")
    elif j in _JOINT_COUNTS:
        sk = _JOINT_COUNTS[j]
    else:
        raise InputError(f"got {j} joints per frame; expected 22 (HumanML3D/SMPL) or 21 (KIT-ML)")
    _check_frames(shape[-3], min_frames, "joint positions")
    _check_finite(joints, "joint positions")
    return sk


@dataclass(frozen=True)
class Motion:
    """A motion read from disk: `kind` is 'features' (T, D) or 'joints' (T, J, 3)."""
    kind: str
    data: np.ndarray
    skeleton: Skeleton


_NPZ_KEYS = ("features", "joints", "motion", "positions")


def _read_array(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise InputError(f"{path}: expected a .npy or .npz file, got {suffix or 'no extension'}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as e:
        if "allow_pickle" in str(e):  # object arrays need pickle: refuse them
            raise InputError(f"{path}: not a plain numeric array (it holds Python objects)") from None
        raise InputError(f"{path}: cannot be read as {suffix} ({type(e).__name__}: {e})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        if suffix == ".npz":
            raise InputError(f"{path}: named .npz but holds a single .npy array; rename it to .npy")
        return loaded
    with loaded:
        keys = list(loaded.files)
        key = next((k for k in _NPZ_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
        if key is None:
            raise InputError(f"{path}: .npz holds arrays {keys}; expected one array or one named "
                             f"{' / '.join(_NPZ_KEYS)}")
        try:
            return loaded[key]
        except Exception as e:
            if "allow_pickle" in str(e):
                raise InputError(f"{path}: array {key!r} is not a plain numeric array") from None
            raise InputError(f"{path}: array {key!r} cannot be read ({type(e).__name__}: {e})") from None


def load_motion(path: str | Path) -> Motion:
    """Read a .npy/.npz motion and tell features (T, 263|251) from joints (T, 22|21, 3).

    Also accepted: a leading batch axis of size 1, and flattened joints (T, 66|63).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"motion file not found: {path}")
    arr = _read_array(path)
    if arr.dtype.kind not in "fiu":
        raise InputError(f"{path}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim in (3, 4) and arr.shape[0] == 1 and (arr.ndim == 4 or arr.shape[-1] in _FEATURE_DIMS):
        arr = arr[0]
    if arr.ndim == 2 and arr.shape[-1] % 3 == 0 and arr.shape[-1] // 3 in _JOINT_COUNTS:
        arr = arr.reshape(len(arr), -1, 3)
    arr = arr.astype(np.float32, copy=False)
    if arr.ndim == 2 and arr.shape[-1] in _FEATURE_DIMS:
        sk = validate_features(arr)
        return Motion("features", arr, sk)
    if arr.ndim == 3 and arr.shape[-1] == 3 and arr.shape[-2] in _JOINT_COUNTS:
        sk = validate_joints(arr)
        return Motion("joints", arr, sk)
    raise InputError(f"{path}: array of shape {arr.shape} is neither motion features (T, 263) / (T, 251) "
                     "nor joint positions (T, 22, 3) / (T, 21, 3)")
