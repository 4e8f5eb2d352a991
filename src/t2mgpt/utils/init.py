"""Build a module without running its random weight initialisation, for loading weights.

`torch.nn.init` functions dispatch through torch-function modes, so a mode that answers them
with their tensor untouched skips the init (seconds for the released-size GPT) while every
other op runs as usual: non-persistent buffers are still computed. This avoids the meta
device, whose `normal_` goes through Python decompositions that import torch._dynamo (~1 s).
"""
from __future__ import annotations

from typing import Callable, TypeVar

import torch
from torch.overrides import TorchFunctionMode

M = TypeVar("M", bound=torch.nn.Module)

_INIT_FUNCTIONS = frozenset(
    f for name, f in vars(torch.nn.init).items() if name.endswith("_") and not name.startswith("_") and callable(f)
)


class _SkipInit(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _INIT_FUNCTIONS:
            return args[0] if args else kwargs["tensor"]
        return func(*args, **kwargs)


def uninitialised(factory: Callable[[], M]) -> M:
    """`factory()` with parameters left as uninitialised memory (`torch.empty`): only for
    modules whose state dict is loaded right after, which overwrites every parameter."""
    with _SkipInit():
        return factory()



def state_shapes(factory: Callable[[], torch.nn.Module]) -> dict[str, tuple[int, ...]]:
    """Name -> shape of the state dict `factory()` would have, built on the meta device (no
    memory, no init), e.g. to check a file's tensors before allocating."""
    with torch.device("meta"), _SkipInit():
        return {k: tuple(v.shape) for k, v in factory().state_dict().items()}
