"""Checks shared by the typed configs (`GPTConfig`, `VQVAEConfig`, `TrainConfig`, ...)."""
from __future__ import annotations

import numbers
from typing import Iterable

from t2mgpt.errors import InputError


def check_positive_ints(config, names: Iterable[str], prefix: str = "") -> None:
    """Each named field of `config` must be an integer >= 1 (a bool is refused); numpy integers
    become int, so the config stays JSON-serialisable. The error names `prefix + name`."""
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise InputError(f"{prefix}{name} must be a positive integer, got {value!r}")
        setattr(config, name, int(value))


MAX_GUIDANCE_SCALE = 20.0


def check_guidance_scale(scale) -> None:
    """Classifier-free guidance scale: a number in [0, 20] (1 = no guidance)."""
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not 0.0 <= scale <= MAX_GUIDANCE_SCALE:
        raise InputError(f"guidance_scale must be a number in [0, {MAX_GUIDANCE_SCALE:g}] (1 = no guidance), "
                         f"got {scale!r}")
