"""NPY: joint positions (T, J, 3) float32 in metres, y up (or the features (T, D) with what="features")."""
from __future__ import annotations

import io

import numpy as np

from t2mgpt.errors import InputError
from t2mgpt.export import Format, Option, register


def encode(motion, what: str = "joints") -> bytes:
    if what not in ("joints", "features"):
        raise InputError(f"npy holds 'joints' or 'features', not {what!r}")
    array = motion.joints if what == "joints" else getattr(motion, "features", None)
    if array is None:
        raise InputError("this motion has no features (it was read as joint positions); save its joints")
    buf = io.BytesIO()
    np.save(buf, np.asarray(array, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


FORMAT = register(Format(
    name="npy", suffixes=(".npy",), media_type="application/octet-stream",
    description="joint positions (T, J, 3) float32, metres, y up (NumPy)", encode=encode,
    options=(Option("what", "npy: what to store, joints (default) or features", choices=("joints", "features")),),
))
