"""Registry of the VQ-VAE's vector quantizers, one file per quantizer.

A quantizer joins by adding a module to this package that subclasses
`base.VectorQuantizer` and decorates the class with `@register("name")`; every module here is
imported below, so `VQVAEConfig(quantizer="name")` then finds it. The paper's is "ema_reset".
"""
from __future__ import annotations

import pkgutil
from importlib import import_module
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from t2mgpt.tokenizer.quantizers.base import VectorQuantizer

QUANTIZERS: dict[str, type["VectorQuantizer"]] = {}


def register(name: str) -> Callable[[type], type]:
    """Class decorator: make the quantizer available as `VQVAEConfig.quantizer = name`."""

    def add(cls: type) -> type:
        if name in QUANTIZERS and QUANTIZERS[name] is not cls:
            raise ValueError(f"quantizer {name!r} is registered twice ({QUANTIZERS[name].__name__}, {cls.__name__})")
        QUANTIZERS[name] = cls
        return cls

    return add


def make_quantizer(name: str, nb_code: int, code_dim: int, mu: float = 0.99) -> "VectorQuantizer":
    if name not in QUANTIZERS:
        raise ValueError(f"unknown quantizer {name!r}; choose one of {tuple(QUANTIZERS)}")
    return QUANTIZERS[name].build(nb_code, code_dim, mu)


for _module in pkgutil.iter_modules(__path__):
    import_module(f"{__name__}.{_module.name}")
