"""A weight-free text encoder for tests and smoke runs (model folders may name it "hashing")."""
from __future__ import annotations

import hashlib
import re
import warnings

from t2mgpt.errors import InputError
from t2mgpt.text.encoders import register


@register("hashing", dim=None)  # any size: the model config's
class HashingTextEncoder:
    """Weight-free bag-of-words text features: every lower-cased word and word pair adds +-1 at a
    hashed position; the sum is L2-normalised. Instant, deterministic and offline, for tests and
    smoke runs -- real models use "minilm" or "clip"."""

    def __init__(self, dim: int = 64, max_tokens: int = 77, device=None):
        import torch

        if int(dim) < 1:
            raise InputError(f"hashing text encoder dim must be >= 1, got {dim}")
        self.dim, self.max_tokens = int(dim), int(max_tokens)
        self.device = torch.device(device or "cpu")

    @classmethod
    def load(cls, path=None, device=None, dim: int = 64) -> "HashingTextEncoder":
        """`path` is ignored: there are no weights."""
        return cls(dim, device=device)

    def encode(self, texts):
        import torch

        from t2mgpt.text.encoders.base import TruncationWarning, check_texts

        texts = check_texts(texts)
        rows = torch.zeros(len(texts), self.dim)
        for i, text in enumerate(texts):
            words = re.findall(r"[a-z0-9]+", text.lower())
            if len(words) > self.max_tokens:
                warnings.warn(f"text #{i} has {len(words)} words, over the {self.max_tokens}-word limit of "
                              "the hashing text encoder; only the beginning is used", TruncationWarning, stacklevel=2)
                words = words[:self.max_tokens]
            for term in words + [a + " " + b for a, b in zip(words, words[1:])]:
                h = int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "little")
                rows[i, h % self.dim] += 1.0 if (h >> 40) & 1 else -1.0
        rows = rows / rows.norm(dim=1, keepdim=True).clamp(min=1e-9)
        return rows.to(self.device)

    __call__ = encode

    def to(self, device) -> "HashingTextEncoder":
        import torch

        self.device = torch.device(device)
        return self

    def __repr__(self) -> str:
        return f"HashingTextEncoder(dim={self.dim})"
