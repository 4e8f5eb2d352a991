"""Restricted unpickling for data files of the original projects (e.g. the GloVe vocabulary).

`pickle.load` runs whatever callables a file names, so a file from the internet could
execute code. `safe_pickle_load` only allows plain containers (dict, list, tuple, set
literals, str, bytes, int, float, bool, None) and numpy arrays / scalars / dtypes;
any other global (os.system, builtins.eval, a class, ...) is refused with an error.
"""
from __future__ import annotations

import codecs
import os
import pickle
from pathlib import Path
from typing import Any, Callable

import numpy as np

from t2mgpt.errors import DataError, T2MGPTError


def _latin1_encode(obj: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """`_codecs.encode` as protocol-2 pickles use it for bytes; latin-1 only."""
    if codecs.lookup(encoding).name != "iso8859-1" or not isinstance(obj, str):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return codecs.encode(obj, "latin1", errors)


_NUMPY_CORE = {"_reconstruct": "multiarray", "scalar": "multiarray", "_frombuffer": "numeric"}


def _numpy_core(submodule: str, name: str) -> Callable:
    # numpy >= 2 renamed numpy.core to numpy._core; pickles may name either
    core = np._core if hasattr(np, "_core") else np.core
    return getattr(getattr(core, submodule), name)


def _allowed(module: str, name: str) -> Any:
    if module in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray") and name in ("ndarray", "dtype"):
        return getattr(np, name)
    for prefix in ("numpy.core.", "numpy._core."):
        if module.startswith(prefix) and _NUMPY_CORE.get(name) == module[len(prefix):]:
            return _numpy_core(_NUMPY_CORE[name], name)
    if module == "numpy.dtypes" and name.endswith("DType"):
        return getattr(np.dtypes, name)  # dtype classes (numpy >= 1.25), plain data types
    if (module, name) == ("_codecs", "encode"):
        return _latin1_encode
    if module in ("builtins", "__builtin__") and name in ("set", "frozenset", "bytearray", "complex"):
        return {"set": set, "frozenset": frozenset, "bytearray": bytearray, "complex": complex}[name]
    return None


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only the globals listed in `_allowed`."""

    def find_class(self, module: str, name: str) -> Any:
        obj = _allowed(module, name)
        if obj is None:
            raise pickle.UnpicklingError(
                f"refusing to load global '{module}.{name}': only plain containers and numpy arrays are allowed"
            )
        return obj

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent references are not allowed")


def safe_pickle_load(path: str | os.PathLike, error: type[T2MGPTError] = DataError) -> Any:
    """Load a pickle file with `RestrictedUnpickler`; problems raise `error` with the reason."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path} not found")
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f).load()
    except pickle.UnpicklingError as e:
        raise error(
            f"{path} is not loaded: it holds objects other than plain containers and numpy arrays "
            f"({e}). Only use files from the original release."
        ) from e
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as e:
        raise error(f"{path} is not a readable pickle file (corrupt or truncated?): {e}") from e
