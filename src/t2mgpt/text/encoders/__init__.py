"""Registry of the text encoders, one file per encoder.

An encoder joins by adding a module to this package whose class has `name`, `dim`,
`encode(texts) -> (B, dim)`, `to(device)` and a `load(path, device)` classmethod (usually a
`base.TextEncoder` subclass), decorated with `@register("name", dim=..., aliases=(...))`.
Every module here is imported below, so `get_text_encoder("name")`, `train-gpt --text-encoder
name` and model folders naming it then find it. A model folder stores only the encoder's
canonical name and feature size; `get_text_encoder(name, dim=dim)` re-creates the encoder.
"""
from __future__ import annotations

import pkgutil
from dataclasses import dataclass
from importlib import import_module
from typing import Callable

from t2mgpt.errors import InputError

DEFAULT_TEXT_ENCODER = "minilm"


@dataclass(frozen=True)
class _Entry:
    cls: type
    dim: int | None  # None: any size, the model config's (then `load` takes `dim`)


_ENCODERS: dict[str, _Entry] = {}  # canonical name -> entry
_ALIASES: dict[str, str] = {}  # lower-case name or alias -> canonical name
# canonical name -> feature size, for the encoders of a fixed size; the GPT's conditioning
# width depends only on these.
TEXT_ENCODER_DIMS: dict[str, int] = {}


def register(name: str, dim: int | None, aliases: tuple[str, ...] = ()) -> Callable[[type], type]:
    """Class decorator: make the encoder available as `name` (and its aliases), giving
    `dim`-d features (None: any size, set by the model config). Sets `cls.name = name`."""

    def add(cls: type) -> type:
        for key in (name.lower(), *(a.lower() for a in aliases)):
            if _ALIASES.get(key, name) != name:
                raise ValueError(f"text encoder name {key!r} is registered twice ({_ALIASES[key]}, {name})")
            _ALIASES[key] = name
        cls.name = name
        _ENCODERS[name] = _Entry(cls, dim)
        if dim is not None:
            TEXT_ENCODER_DIMS[name] = dim
        return cls

    return add


def canonical_name(name: str) -> str:
    key = str(name).strip().lower()
    if key not in _ALIASES:
        raise InputError(f"unknown text encoder {name!r}; choose one of: {_choices()}")
    return _ALIASES[key]


def _choices() -> str:
    """'minilm, clip-vit-b-32 (or clip), ...': the default first, with each one's shortest alias."""
    out = []
    for n in sorted(_ENCODERS, key=lambda n: n != DEFAULT_TEXT_ENCODER):
        short = min((a for a, c in _ALIASES.items() if c == n), key=len)
        out.append(n if short == n else f"{n} (or {short})")
    return ", ".join(out)


def text_encoder_dim(name: str) -> int:
    """Feature size of a named encoder of a fixed size, without loading it."""
    return TEXT_ENCODER_DIMS[canonical_name(name)]


def get_text_encoder(name: str = DEFAULT_TEXT_ENCODER, device=None, path: str | None = None,
                     dim: int | None = None):
    """Load an encoder by name (e.g. "minilm", or "clip"/"clip-vit-b-32").

    `path`: a local model folder (MiniLM: a sentence-transformers folder; CLIP: see
    `t2mgpt.text.encoders.clip`). `dim`: the feature size a model config expects; a mismatch
    raises InputError. `device`: None/"auto" picks CUDA when available.
    """
    from t2mgpt.utils.device import resolve_device

    key = canonical_name(name)
    entry = _ENCODERS[key]
    if dim is not None and entry.dim is not None and dim != entry.dim:
        raise InputError(
            f"text encoder {key!r} gives {entry.dim}-d features, but {dim}-d were asked "
            f"for (the model was trained with another text encoder?)"
        )
    size = {"dim": dim} if entry.dim is None and dim is not None else {}  # any size: the config's
    enc = entry.cls.load(path, device=resolve_device(device), **size)
    if dim is not None and enc.dim != dim:
        raise InputError(f"the {key} weights loaded from {path} give {enc.dim}-d features, expected {dim}")
    return enc


def _import_all() -> None:
    """Import every module of this package: each registers its encoder."""
    for module in pkgutil.iter_modules(__path__):
        import_module(f"{__name__}.{module.name}")


_import_all()
