"""Tensors of a TorchScript archive (e.g. OpenAI's `ViT-B-32.pt`), read as data.

`torch.jit.load` runs the archive's code (a `__setstate__` can do anything) and
`torch.load(weights_only=True)` refuses TorchScript. The archive is a zip holding `data.pkl`
(the module tree: objects of `__torch__.*` classes whose state holds the tensors) and one file
per tensor storage (`data/<key>`). Here `data.pkl` is unpickled by a restricted unpickler
that builds only plain containers, tensors from those storages, and inert stand-ins for the
`__torch__` classes; nothing in the archive is executed. The state dict is then read off the
module tree (`visual.conv1.weight`, ...).
"""
from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path
from typing import Any

from t2mgpt.errors import CheckpointError

_DTYPES = {  # legacy typed storage class -> dtype name
    "FloatStorage": "float32", "HalfStorage": "float16", "DoubleStorage": "float64", "BFloat16Storage": "bfloat16",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
    "ByteStorage": "uint8", "BoolStorage": "bool",
}
_LIST_BUILDERS = ("build_intlist", "build_floatlist", "build_boollist", "build_tensorlist", "build_doublelist")


class ScriptObject:
    """Stand-in for an object of a TorchScript class: keeps its state, runs nothing."""

    state: Any = None

    def __init__(self, *args):
        self.args = args

    def __setstate__(self, state) -> None:
        self.state = state


def _script_class(qualname: str) -> type:
    return type(qualname.rsplit(".", 1)[-1], (ScriptObject,), {"qualname": qualname})


def _storage_type(name: str):
    return ("storage", _DTYPES[name])


def _rebuild_tensor(storage, offset: int, size, stride, *_):
    if not (isinstance(offset, int) and all(isinstance(n, int) and n >= 0 for n in (*size, *stride))):
        raise pickle.UnpicklingError("malformed tensor record")
    extent = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset
    if offset < 0 or (all(size) and extent >= storage.numel()):
        raise pickle.UnpicklingError("a tensor reaches past the end of its storage")
    return storage.as_strided(tuple(size), tuple(stride), offset)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *_):
    return data


def _identity(value, *_):
    return value


class _ArchiveUnpickler(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file)
        self.archive, self.prefix, self.storages = archive, prefix, {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "__torch__" or module.startswith("__torch__."):
            return _script_class(f"{module}.{name}")
        if module == "torch" and name in _DTYPES:
            return _storage_type(name)
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch.jit._pickle" and (name in _LIST_BUILDERS or name == "restore_type_tag"):
            return _identity
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing to load global '{module}.{name}': the archive may only hold tensors")

    def persistent_load(self, pid):
        import torch

        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], tuple) and pid[1][0] == "storage" and isinstance(pid[2], str)):
            raise pickle.UnpicklingError(f"unexpected persistent reference {pid!r:.80}")
        dtype, key, numel = getattr(torch, pid[1][1]), pid[2], pid[4]
        if key not in self.storages:
            try:
                info = self.archive.getinfo(f"{self.prefix}/data/{key}")
            except KeyError:
                raise pickle.UnpicklingError(f"storage {key!r} is missing from the archive") from None
            itemsize = torch.empty(0, dtype=dtype).element_size()
            if not isinstance(numel, int) or info.file_size != numel * itemsize:
                raise pickle.UnpicklingError(f"storage {key!r} has {info.file_size} bytes, not {numel} x {itemsize}")
            data = bytearray(self.archive.read(info))
            self.storages[key] = torch.frombuffer(data, dtype=dtype) if data else torch.empty(0, dtype=dtype)
        return self.storages[key]


def is_torchscript_archive(file: str | Path) -> bool:
    try:
        with zipfile.ZipFile(file) as z:
            return any(n.endswith("constants.pkl") or "/code/" in n for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_torchscript_tensors(file: str | Path) -> dict[str, Any]:
    """name -> tensor (CPU) of every tensor attribute in a TorchScript archive's module tree."""
    file = Path(file)
    try:
        with zipfile.ZipFile(file) as z:
            names = [n for n in z.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
            if len(names) != 1:
                raise CheckpointError(f"{file} is not a TorchScript archive (no single <name>/data.pkl)")
            prefix = names[0].split("/")[0]
            with z.open(names[0]) as f:
                root = _ArchiveUnpickler(f, z, prefix).load()
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, RecursionError, OSError, RuntimeError) as e:
        raise CheckpointError(f"{file} is not loaded: {e}. Only the tensors of a TorchScript archive are read; "
                              "convert it to safetensors or a Hugging Face folder if it holds more") from e
    out: dict[str, Any] = {}
    _collect(root, "", out, depth=0)
    return out


def _collect(obj: Any, prefix: str, out: dict[str, Any], depth: int) -> None:
    import torch

    if depth > 100:
        raise CheckpointError("the TorchScript module tree is nested too deeply")
    if isinstance(obj, torch.Tensor):
        out[prefix.rstrip(".")] = obj
    elif isinstance(obj, ScriptObject) and isinstance(obj.state, dict):
        for k, v in obj.state.items():
            if isinstance(k, str):
                _collect(v, f"{prefix}{k}.", out, depth + 1)
