"""Precomputed text features for training: caption -> feature of one text encoder.

Saved as safetensors: one (N, dim) float32 tensor plus the captions and the encoder's name and
dim in the metadata, so a cache made by another encoder is refused instead of silently used.
A cache can be used without its encoder (read-only), e.g. CLIP features computed elsewhere.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

import torch

from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.text.encoders.base import TextEncoder, check_texts

FORMAT = "t2mgpt-text-features"
VERSION = "1"


class TextFeatureCache(TextEncoder):
    """A `TextEncoder` that answers from a table and asks `encoder` (if any) for new texts.

    `TextFeatureCache(encoder, path)` loads `path` when it exists (checking it was made by the
    same encoder); `TextFeatureCache(None, path)` is a read-only cache; `name`/`dim` given
    without an encoder are checked against the file (e.g. from a model config).
    """

    def __init__(self, encoder: TextEncoder | None, path: str | os.PathLike | None = None,
                 *, name: str | None = None, dim: int | None = None):
        self.encoder = encoder
        self.path = Path(path) if path is not None else None
        self.name = encoder.name if encoder is not None else name
        self.dim = encoder.dim if encoder is not None else dim
        self.max_tokens = encoder.max_tokens if encoder is not None else 0
        self.device = encoder.device if encoder is not None else torch.device("cpu")
        self._index: dict[str, int] = {}  # caption -> row
        self._chunks: list[torch.Tensor] = []  # (n_i, dim) float32 on CPU, joined lazily
        if self.path is not None and self.path.exists():
            self._load(self.path)
        elif encoder is None:
            raise InputError(
                f"text feature cache {self.path} not found; create it with an encoder "
                "(TextFeatureCache(encoder, path).precompute(captions))"
            )

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, text: str) -> bool:
        return text in self._index

    def __getitem__(self, text: str) -> torch.Tensor:
        return self.encode([text])[0]

    @property
    def texts(self) -> list[str]:
        return list(self._index)

    def precompute(self, texts: Iterable[str], batch_size: int = 256, progress: bool = True,
                   save: bool = True) -> int:
        """Encode the texts not yet cached, in batches; save to `path` if set. Returns how many
        were added."""
        from tqdm.auto import tqdm

        todo = [t for t in dict.fromkeys(check_texts(list(texts))) if t not in self._index]
        if todo and self.encoder is None:
            raise InputError(f"{len(todo)} caption(s) are not in the read-only text feature cache {self.path}")
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        todo.sort(key=len)  # similar lengths per batch: less padding
        bar = tqdm(total=len(todo), desc=f"text features ({self.name})", unit="text", disable=not progress)
        for i in range(0, len(todo), batch_size):
            chunk = todo[i : i + batch_size]
            self._add(chunk, self.encoder.encode(chunk))
            bar.update(len(chunk))
        bar.close()
        if save and todo and self.path is not None:
            self.save()
        return len(todo)

    def _encode(self, texts: list[str]) -> torch.Tensor:
        missing = [t for t in dict.fromkeys(texts) if t not in self._index]
        if missing:
            if self.encoder is None:
                raise InputError(
                    f"caption {missing[0]!r} is not in the read-only text feature cache {self.path}; "
                    "precompute the features of every caption first"
                )
            self._add(missing, self.encoder.encode(missing))
        rows = torch.tensor([self._index[t] for t in texts])
        return self._table()[rows].to(self.device)

    def _add(self, texts: list[str], feats: torch.Tensor) -> None:
        start = len(self._index)
        self._chunks.append(feats.detach().float().cpu())
        self._index.update((t, start + i) for i, t in enumerate(texts))

    def _table(self) -> torch.Tensor:
        if len(self._chunks) != 1:
            self._chunks = [torch.cat(self._chunks) if self._chunks else torch.zeros(0, self.dim)]
        return self._chunks[0]

    def to(self, device) -> "TextFeatureCache":
        self.device = torch.device(device)
        if self.encoder is not None:
            self.encoder.to(device)
        return self

    def save(self, path: str | os.PathLike | None = None) -> Path:
        from safetensors.torch import save_file

        from t2mgpt.utils.io import atomic_path

        path = Path(path) if path is not None else self.path
        if path is None:
            raise InputError("no path given to save the text feature cache to")
        meta = {
            "format": FORMAT, "version": VERSION, "encoder": self.name, "dim": str(self.dim),
            "max_tokens": str(self.max_tokens), "texts": json.dumps(self.texts, ensure_ascii=False),
        }
        with atomic_path(path) as tmp:
            save_file({"features": self._table().contiguous()}, str(tmp), metadata=meta)
        return path

    def _load(self, path: Path) -> None:
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                feats = f.get_tensor("features") if "features" in f.keys() else None
        except Exception as e:  # safetensors raises its own error types
            raise CheckpointError(f"{path} is not a readable text feature cache (safetensors): {e}") from e
        if meta.get("format") != FORMAT or feats is None:
            raise CheckpointError(f"{path} is a safetensors file but not a t2mgpt text feature cache")
        name, dim = meta["encoder"], int(meta["dim"])
        if (self.name is not None and name != self.name) or (self.dim is not None and dim != self.dim):
            raise CheckpointError(
                f"text feature cache {path} holds features of the {name!r} encoder ({dim}-d), but the "
                f"{self.name!r} encoder ({self.dim}-d) is in use; delete the file or give another cache path"
            )
        texts = json.loads(meta["texts"])
        if feats.shape != (len(texts), dim):
            raise CheckpointError(
                f"{path} is corrupt: {len(texts)} captions but features of shape {tuple(feats.shape)}"
            )
        self.name, self.dim = name, dim
        self.max_tokens = self.max_tokens or int(meta.get("max_tokens", 0))
        self._index = {t: i for i, t in enumerate(texts)}
        self._chunks = [feats.float()]


class RecentTextFeatures(TextEncoder):
    """A `TextEncoder` that remembers the features of the last `max_texts` distinct texts (in
    memory, least recently used dropped first), so that a prompt repeated in `t2mgpt serve` or
    across the batches of a run is encoded once. Texts not seen recently go to `encoder` in one
    batch. Thread-safe."""

    def __init__(self, encoder: TextEncoder, max_texts: int = 4096):
        import threading
        from collections import OrderedDict

        if max_texts < 1:
            raise InputError(f"max_texts must be >= 1, got {max_texts}")
        self.encoder, self.max_texts = encoder, int(max_texts)
        self.name, self.dim, self.max_tokens = encoder.name, encoder.dim, getattr(encoder, "max_tokens", 0)
        self._features: OrderedDict[str, torch.Tensor] = OrderedDict()  # text -> (dim,) float32 on CPU
        self._lock = threading.Lock()

    @property
    def device(self) -> torch.device:
        return self.encoder.device

    def __len__(self) -> int:
        return len(self._features)

    def _encode(self, texts: list[str]) -> torch.Tensor:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._features]
            if missing:
                for t, f in zip(missing, self.encoder.encode(missing).float().cpu()):
                    self._features[t] = f
            rows = []
            for t in texts:
                self._features.move_to_end(t)
                rows.append(self._features[t])
            out = torch.stack(rows)
            while len(self._features) > self.max_texts:
                self._features.popitem(last=False)
        return out.to(self.device)

    def to(self, device) -> "RecentTextFeatures":
        self.encoder.to(device)
        return self
