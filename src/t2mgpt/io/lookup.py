"""Models by name: bundled ones (`t2mgpt/models_bundled/<name>/`) first, then locally saved ones
(`$T2MGPT_HOME/models/<name>`, default `~/.cache/t2mgpt/models/<name>`); `t2mgpt models` lists both."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.io.config import CONFIG_FILE, GPT_FILE, VQVAE_FILE, ModelConfig

DEFAULT_MODEL = "t2mgpt-cmu-demo"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_model_name(name: str) -> str:
    """A model name: letters, digits, '.', '_', '-' (no path separators), at most 100 chars."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name:
        raise InputError(f"invalid model name {name!r}: use letters, digits, '.', '_' and '-' "
                         "(starting with a letter or digit)")
    return name


def models_home() -> Path:
    """Where saved models live: $T2MGPT_HOME/models (default ~/.cache/t2mgpt/models)."""
    return Path(os.environ.get("T2MGPT_HOME") or "~/.cache/t2mgpt").expanduser() / "models"


def bundled_models_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "models_bundled"


def is_model_dir(p: Path) -> bool:
    return (p / CONFIG_FILE).is_file()


def _looks_like_path(s: str) -> bool:
    return os.sep in s or "/" in s or s.startswith((".", "~")) or (os.altsep is not None and os.altsep in s)


@dataclass
class ModelEntry:
    name: str
    path: Path
    source: str  # "bundled" | "local"
    config: ModelConfig | None
    size_bytes: int
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.config
        return {
            "name": self.name, "source": self.source, "path": str(self.path), "size_bytes": self.size_bytes,
            "text_encoder": c.text_encoder if c else None, "dataset": c.dataset if c else None,
            "fps": c.fps if c else None, "error": self.error,
        }


def folder_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def list_models() -> list[ModelEntry]:
    """Bundled models first, then locally saved ones (a local model hidden by a bundled one of the
    same name is still listed). Configs are read without importing torch (types, bounds, dataset
    kind); whether the parts fit together is checked when a model is loaded."""
    from t2mgpt.io.folder import read_config

    entries = []
    for source, p in _model_dirs():
        try:
            cfg, err = read_config(p, check=False), None
        except (CheckpointError, InputError) as e:
            cfg, err = None, str(e)
        entries.append(ModelEntry(p.name, p, source, cfg, folder_size(p), err))
    return entries


def _model_dirs():
    """(source, folder) of the bundled and then the locally saved models, configs unread."""
    for source, root in (("bundled", bundled_models_dir()), ("local", models_home())):
        if root.is_dir():
            for p in sorted(root.iterdir()):
                if p.is_dir() and not p.name.startswith(".") and is_model_dir(p):
                    yield source, p


def resolve_model(path_or_name: str | os.PathLike) -> Path:
    """A model folder path, or a name looked up in the bundled and then the local models."""
    if isinstance(path_or_name, os.PathLike) or _looks_like_path(str(path_or_name)) or Path(path_or_name).is_dir():
        p = Path(path_or_name).expanduser()
        if not p.exists():
            raise CheckpointError(f"model folder {p} does not exist")
        if not p.is_dir():
            raise CheckpointError(f"{p} is a file, not a model folder (a folder with {CONFIG_FILE}, "
                                  f"{VQVAE_FILE}, {GPT_FILE}); to convert original .pth checkpoints use "
                                  "t2mgpt import-official")
        return p
    name = str(path_or_name)
    if _NAME_RE.match(name) and ".." not in name:
        for root in (bundled_models_dir(), models_home()):
            if is_model_dir(root / name):
                return root / name
    names = sorted({p.name for _, p in _model_dirs()})
    available = ", ".join(names) if names else "none installed"
    raise CheckpointError(
        f"unknown model {name!r} (available: {available}). Give a model folder path, save one with "
        f"save_pretrained into {models_home()}, or convert the official weights with t2mgpt import-official"
    )
