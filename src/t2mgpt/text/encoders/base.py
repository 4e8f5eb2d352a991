"""The `TextEncoder` interface and what the encoders share: text checks, tokenizing with a
truncation warning, quiet `transformers` loading."""
from __future__ import annotations

import abc
import contextlib
import warnings
from typing import Sequence

import torch

from t2mgpt.errors import InputError


class TruncationWarning(UserWarning):
    """A text was longer than the encoder's token limit and was cut."""


class TextEncoder(abc.ABC):
    """Frozen text encoder: `encode(texts) -> (B, dim)` float32 features on `self.device`."""

    name: str
    dim: int
    max_tokens: int
    device: torch.device

    def encode(self, texts: Sequence[str] | str) -> torch.Tensor:
        texts = check_texts(texts)
        if not texts:
            return torch.zeros(0, self.dim, device=self.device)
        with torch.no_grad():  # not inference_mode: its tensors cannot enter a trained model's graph
            return self._encode(texts).float()

    __call__ = encode

    @abc.abstractmethod
    def _encode(self, texts: list[str]) -> torch.Tensor:
        """(B,) checked texts -> (B, dim) features."""

    @abc.abstractmethod
    def to(self, device: str | torch.device) -> "TextEncoder":
        """Move the weights; returns self."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, device={self.device})"


def check_texts(texts: Sequence[str] | str) -> list[str]:
    """A str or a list of non-empty str -> list[str]; anything else -> InputError."""
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, (list, tuple)):
        raise InputError(f"texts must be a string or a list of strings, got {type(texts).__name__}")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InputError(f"text #{i} is a {type(t).__name__}, not a string")
        if not t.strip():
            raise InputError(f"text #{i} is empty; describe the motion, e.g. 'a person walks forward'")
    return list(texts)


def tokenize(tokenizer, texts: list[str], max_tokens: int, encoder_name: str, device) -> dict:
    """With a `transformers` tokenizer: pad to the longest text and cut texts over `max_tokens`
    (special tokens included), keeping the closing special token as the original encoders do,
    with a warning."""
    lengths = [len(ids) for ids in tokenizer(texts, verbose=False)["input_ids"]]
    warn_truncated(texts, lengths, max_tokens, encoder_name)
    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
    return {k: v.to(device) for k, v in batch.items()}


def warn_truncated(texts: list[str], lengths: list[int], max_tokens: int, encoder_name: str,
                   stacklevel: int = 5) -> None:
    """A `TruncationWarning` when some of the token counts `lengths` are over `max_tokens`."""
    too_long = [i for i, n in enumerate(lengths) if n > max_tokens]
    if too_long:
        first = texts[too_long[0]]
        warnings.warn(
            f"{len(too_long)} of {len(texts)} text(s) exceed the {max_tokens}-token limit of the "
            f"{encoder_name} text encoder and were truncated (first: {first[:60]!r}, "
            f"{lengths[too_long[0]]} tokens); only the beginning is used",
            TruncationWarning,
            stacklevel=stacklevel,
        )


@contextlib.contextmanager
def quiet_transformers():
    """Hide transformers' progress bars and load reports while loading a model; callers check
    the loading info themselves."""
    from transformers.utils import logging as hf_logging

    bar, level = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bar:
            hf_logging.enable_progress_bar()
