"""The text encoder a model folder names: loaded once per process, its path kept inside the folder."""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

from t2mgpt.errors import CheckpointError

_ENCODERS: dict[tuple, Any] = {}  # loaded encoders, shared by the pipelines of this process
_MAX_CACHED_ENCODERS = 4


def encoder_path_in_folder(path: str | None, folder: str | os.PathLike) -> str | None:
    """config.json's `text_encoder.path` as a path to read: a relative one inside the model folder
    (one that leaves it, through '..' or a link, is refused); an absolute one (written by
    import-official / export-model on this machine) as it is. Weights are only ever read as data."""
    if path is None:
        return None
    p = Path(path).expanduser()
    if p.is_absolute():
        return str(p)
    root = Path(folder).resolve()
    inside = (root / p).resolve()
    if not inside.is_relative_to(root):
        raise CheckpointError(f"the model's config.json names the text encoder path {path!r}, which leaves the "
                              f"model folder {folder}; refusing it (give --clip-path to choose the weights)")
    return str(inside)


def load_text_encoder(name: str, dim: int, path: str | None = None, device=None, path_is_hint: bool = False):
    """The text encoder a model folder names, on `device` (loaded once per process).

    `path_is_hint`: `path` comes from a model config (maybe written on another machine): if it
    does not exist here, warn and look in the encoder's usual places instead of failing.
    """
    from t2mgpt.utils.device import resolve_device

    dev = resolve_device(device)
    key = (name, dim, str(path) if path else None, str(dev))
    if key not in _ENCODERS:
        from t2mgpt.text import get_text_encoder

        if path_is_hint and path is not None and not Path(path).expanduser().exists():
            warnings.warn(f"the text encoder path stored in the model ({path}) does not exist here; "
                          "looking in the usual places instead", stacklevel=3)
            path = None
        try:
            enc = get_text_encoder(name, device=dev, path=path, dim=dim)
        except CheckpointError as e:
            # a model is tied to its encoder: the advice to switch encoders does not apply here
            msg = re.sub(r"\s*Or use the\s+offline default text encoder:\s*--text-encoder \w+\.?", "", str(e)).strip()
            raise CheckpointError(f"this model needs the {name} text encoder, which cannot be loaded: {msg}") from e
        if len(_ENCODERS) >= _MAX_CACHED_ENCODERS:
            _ENCODERS.pop(next(iter(_ENCODERS)))
        _ENCODERS[key] = enc
    return _ENCODERS[key]
