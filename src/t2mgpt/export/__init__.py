"""Output formats of a motion: one module per format in this package, one registry.

    from t2mgpt.export import write_motion, get_format
    write_motion(motion, "walk.bvh", scale=100.0)        # format from the suffix, written atomically
    data = get_format("npy").to_bytes(motion)            # the same file as bytes (web downloads)

A format module calls `register(Format(...))` at import (importing heavy libraries inside its
functions, as the CLI lists formats for --help): its name, suffix(es), media type, the
options its writer accepts, and either `encode(motion, **options) -> bytes` or
`write(motion, path, **options)` (the other one is derived). Every module of this package
whose name does not start with "_" is imported on first use of the registry, so a new format
is one new file here: `t2mgpt generate --format`, `t2mgpt export`, `GeneratedMotion.save` and
the web downloads all list formats from the registry.

A motion is any object with `text`, `joints` (T, J, 3) in metres (y up), `fps`, `skeleton`,
and optionally `features`, `tokens`, `seed`, `model`, `sample` and `rigid` (its
`RigidMotion`: rotations for BVH, glTF, .npz; `rigid_of`) (`MotionData` for files read from
disk; `t2mgpt.pipeline.GeneratedMotion` for generated ones).
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from t2mgpt.errors import InputError


@dataclass(frozen=True)
class Option:
    """A keyword a format's writer accepts; `t2mgpt export` offers it as `--name` when `cli`."""

    name: str
    help: str
    parse: Callable[[str], Any] = str  # command-line text -> value
    choices: tuple[str, ...] | None = None
    cli: bool = True

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Format:
    """One output format. Give `encode` (bytes) or `write` (streams to a file), or both."""

    name: str  # also the URL suffix of web downloads: /api/motions/{id}.{name}
    suffixes: tuple[str, ...]  # file name suffixes, e.g. (".bvh",); the first names new files
    media_type: str
    description: str
    encode: Callable[..., bytes] | None = None  # (motion, **options) -> bytes
    write: Callable[..., None] | None = None  # (motion, path, **options): writes exactly `path`
    options: tuple[Option, ...] = ()
    web: bool = True  # offered as a download by `t2mgpt serve`
    renders: bool = False  # draws frames (slow): the web app runs it on its render queue

    def __post_init__(self):
        if self.encode is None and self.write is None:
            raise ValueError(f"format {self.name!r} needs an encode or a write function")
        if not self.suffixes or not all(s.startswith(".") and s == s.lower() for s in self.suffixes):
            raise ValueError(f"format {self.name!r}: suffixes must be lowercase and start with '.'")

    @property
    def suffix(self) -> str:
        return self.suffixes[0]

    def check_options(self, options: dict) -> None:
        known = {o.name for o in self.options}
        unknown = sorted(set(options) - known)
        if unknown:
            takes = f"takes {', '.join(sorted(known))}" if known else "takes no options"
            raise InputError(f"{self.name} {takes}; got {', '.join(unknown)}")

    def save(self, motion, path: str | os.PathLike, **options) -> Path:
        """Write `motion` to `path`, atomically (the file appears only when complete)."""
        from t2mgpt.utils.io import atomic_path

        self.check_options(options)
        path = Path(path)
        if path.is_dir():
            raise InputError(f"{path} is a folder; give a file name ending in {self.suffix}")
        data = self.encode(motion, **options) if self.write is None else None
        with atomic_path(path) as tmp:
            if data is None:
                self.write(motion, tmp, **options)
            else:
                tmp.write_bytes(data)
        return path

    def to_bytes(self, motion, **options) -> bytes:
        """The file's content, without leaving a file behind."""
        self.check_options(options)
        if self.encode is not None:
            return self.encode(motion, **options)
        with tempfile.TemporaryDirectory(prefix="t2mgpt-export-") as tmp:
            path = Path(tmp) / f"motion{self.suffix}"
            self.write(motion, path, **options)
            return path.read_bytes()


@dataclass
class MotionData:
    """A motion that was not generated (e.g. read from a file by `t2mgpt export`)."""

    text: str
    joints: np.ndarray  # (T, J, 3) metres, y up
    fps: float
    skeleton: str
    features: np.ndarray | None = None  # (T, D) de-normalised, when the motion came as features
    tokens: Sequence[int] = field(default_factory=tuple)
    seed: int | None = None
    model: str | None = None
    sample: int = 0
    rigid: Any = None  # its RigidMotion (t2mgpt.motion.rigid), when known; else fitted on demand


def rigid_of(motion):
    """The motion's `RigidMotion` (root + local rotations of one rigid skeleton), which BVH, glTF
    and .npz write: the one it carries, else a rigid fit of its joints (no foot cleanup)."""
    rigid = getattr(motion, "rigid", None)
    if rigid is not None:
        return rigid
    from t2mgpt.motion.postprocess import postprocess

    return postprocess(motion.joints, motion.skeleton, motion.fps, cleanup=False)


# ------------------------------------------------------------------------------ registry

_FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    """Add a format (called by each format module at import). Names and suffixes are unique."""
    old = _FORMATS.get(fmt.name)
    if old is not None and old.description != fmt.description:
        raise ValueError(f"output format {fmt.name!r} is registered twice")
    taken = {s: f.name for f in _FORMATS.values() if f.name != fmt.name for s in f.suffixes}
    clash = [s for s in fmt.suffixes if s in taken]
    if clash:
        raise ValueError(f"suffix {clash[0]} of format {fmt.name!r} already belongs to {taken[clash[0]]!r}")
    _FORMATS[fmt.name] = fmt
    return fmt


_BROKEN: dict[str, str] = {}  # module -> why it could not be imported


def _discover() -> None:
    """Import every format module of this package not imported yet (cheap once they are).

    A module whose import fails (e.g. a missing optional library) is left out and named in the
    "unknown output format" message, so one broken format never breaks the others."""
    for info in pkgutil.iter_modules(__path__):
        name = f"{__name__}.{info.name}"
        if not info.name.startswith("_") and name not in sys.modules and name not in _BROKEN:
            try:
                importlib.import_module(name)
            except ImportError as e:
                _BROKEN[name] = str(e)


def formats() -> list[Format]:
    """All registered formats, sorted by name."""
    _discover()
    return [_FORMATS[k] for k in sorted(_FORMATS)]


def names() -> list[str]:
    return [f.name for f in formats()]


def get_format(name: str) -> Format:
    """The format called `name` ('bvh', '.bvh' and 'BVH' alike)."""
    key = str(name).strip().lower().lstrip(".")
    for fmt in formats():
        if key == fmt.name or "." + key in fmt.suffixes:
            return fmt
    raise InputError(f"unknown output format {name!r}; choose from {', '.join(names())}{_broken_note()}")


def _broken_note() -> str:
    return "".join(f" ({m} could not be loaded: {e})" for m, e in _BROKEN.items())


def parse_formats(spec: str | Sequence[str]) -> list[str]:
    """'mp4,bvh' or ['mp4', 'bvh'] -> checked, de-duplicated list of format names."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for item in items:
        if str(item).strip():
            fmt = get_format(item).name
            if fmt not in out:
                out.append(fmt)
    if not out:
        raise InputError(f"no output format given; choose from {', '.join(names())}")
    return out


def format_of(path: str | os.PathLike) -> Format:
    """The format a file name asks for, by its suffix."""
    suffix = Path(path).suffix.lower()
    for fmt in formats():
        if suffix in fmt.suffixes:
            return fmt
    known = ", ".join(s for f in formats() for s in f.suffixes)
    raise InputError(f"cannot tell the output format of {path}: use a name ending in {known}{_broken_note()}")


def write_motion(motion, path: str | os.PathLike, fmt: str | None = None, **options) -> Path:
    """Write `motion` to `path` in `fmt` (default: from the suffix), atomically. `options` go to
    the format's writer (see `get_format(name).options`)."""
    return (format_of(path) if fmt is None else get_format(fmt)).save(motion, path, **options)
