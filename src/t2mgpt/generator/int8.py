"""int8 linear layers for low-latency CPU decoding (opt-in: the output changes slightly).

Batch-1 decoding reads every weight once per token, so it is bound by memory bandwidth; int8
weights are 4x fewer bytes than fp32. Weights are quantised symmetrically per output channel
once; activations per row at every call (dynamic quantisation), and the int8 x int8 product
is accumulated in int32 by `torch._int_mm` (the kernel torchao and inductor use). This
replaces `torch.ao.quantization.quantize_dynamic`, which is deprecated, with the same recipe.
"""
from __future__ import annotations

import torch
import torch.nn as nn

_QMAX = 127  # symmetric: -127..127, so that negating a weight is exact


def quantize_per_row(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, K) float -> (M, K) int8 and the (M, 1) row maxima m, with x ~ q * m / 127."""
    m = torch.linalg.vector_norm(x, float("inf"), dim=1, keepdim=True).clamp_(min=1e-12)  # max |x| per row
    return (x * (_QMAX / m)).round_().to(torch.int8), m


class Int8Linear(nn.Module):
    """`nn.Linear` with int8 weights (per-output-channel scales) and int8 activations."""

    def __init__(self, weight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.register_buffer("weight", weight)  # (N, K) int8
        self.register_buffer("scale", scale)  # (N,) float32: weight ~ weight_int8 * scale
        self.register_buffer("bias", bias)  # (N,) float32 or None
        self.register_buffer("_out_scale", scale / _QMAX, persistent=False)  # folds in the activations' 1/127

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "Int8Linear":
        q, m = quantize_per_row(linear.weight.detach().float())
        bias = None if linear.bias is None else linear.bias.detach().float().clone()
        return cls(q, (m / _QMAX).squeeze(1).contiguous(), bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # as few ops as possible: at batch 1 the dispatch of each one weighs against the GEMV
        shape = x.shape
        q, m = quantize_per_row(x.reshape(-1, self.in_features).float())  # (M, K) int8, (M, 1)
        y = torch._int_mm(q, self.weight.t())  # (M, N) int32; (N, K) row-major is the fast layout
        s = m * self._out_scale  # (M, N): activation step x weight step
        y = torch.mul(y, s) if self.bias is None else torch.addcmul(self.bias, y, s)
        return y.view(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def quantize_linears_int8(module: nn.Module) -> nn.Module:
    """Replace every `nn.Linear` inside `module` by an `Int8Linear`, in place; returns `module`."""
    for name, child in module.named_children():
        if type(child) is nn.Linear:
            setattr(module, name, Int8Linear.from_linear(child))
        else:
            quantize_linears_int8(child)
    return module
