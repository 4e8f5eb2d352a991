"""Safe file I/O: atomic writes and safe checkpoint loading."""
from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Iterator

from t2mgpt.errors import CheckpointError, InputError, OutputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds.

    A crash or kill during the write leaves the previous file (or none), never a
    half-written one.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot write to {parent}: permission denied")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=parent)
    except OSError as e:
        raise _write_error(path, e) from e
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        # mkstemp makes the file 0600; give it the mode an ordinary open() would
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except OSError as e:
        if e.errno in _STORAGE_ERRORS:
            raise _write_error(path, e) from e
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def check_writable_folder(path: str | os.PathLike, what: str = "output folder") -> None:
    """InputError unless `path` is a folder we can write into, or one we can create: checked
    before a long job so that it does not fail at the end. Probes with a temporary file in the
    nearest existing folder (removed at once); creates nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {path} exists and is not a folder")
    existing = next(p for p in (path, *path.parents) if p.exists() or p == Path(p.anchor or "."))
    if not existing.is_dir():
        raise InputError(f"cannot create the {what} {path}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        reason = e.strerror or str(e)
        raise InputError(f"cannot write to the {what} {path}: {existing}: {reason}") from None


# errors of the storage, not of the program: reported in one line (the CLI exits with 2)
_STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


def storage_error(e: OSError) -> OutputError | None:
    """The one-line OutputError for an OSError of the storage (full, read-only, ...), else None."""
    return _write_error(Path(e.filename or "?"), e) if e.errno in _STORAGE_ERRORS else None


def _write_error(path: Path, e: OSError) -> OutputError:
    hint = {errno.ENOSPC: "free some space or write elsewhere", errno.EDQUOT: "free some space or write elsewhere",
            errno.EROFS: "write elsewhere"}.get(e.errno, "check the folder")
    return OutputError(f"cannot write {path}: {e.strerror or e}; {hint} (nothing was written)")


def umask() -> int:
    """The process's umask (read without changing it for good)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def torch_save_atomic(obj, path: str | os.PathLike) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def safe_torch_load(path: str | os.PathLike, map_location="cpu"):
    """`torch.load(weights_only=True)` with errors that say what is wrong."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    try:
        with warnings.catch_warnings():  # a plain pickle (not torch.save's) is refused below anyway
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: (GLOBAL )?(\S+)", str(e))
        if found:
            raise CheckpointError(
                f"{path} holds Python objects ({found.group(2)}) besides tensors and plain "
                "containers, so it is not loaded (only weights_only=True loads are allowed); "
                "re-save it as a plain state_dict or safetensors"
            ) from e
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint or is corrupt (could not be unpickled); "
            "check the file or download it again"
        ) from e
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint (corrupt or truncated?): {e}") from e
