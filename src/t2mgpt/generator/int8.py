"""int8 linear layers for low-latency CPU decoding (opt-in: the output changes slightly).

Batch-1 decoding reads every weight once per token, so it is bound by memory bandwidth; int8
weights are 4x fewer bytes than fp32. Weights are quantised symmetrically per output channel
once; activations per row at every call (dynamic quantisation), and the int8 x int8 products
are summed in int32 by core aten kernels that torchao and inductor also use: `torch._int_mm` for
one row (decoding one prompt), oneDNN's prepacked `onednn::qlinear_pointwise` for several rows
(about 1.4x faster there). Weight-only `torch._weight_int8pack_mm` was slower on the CPU here
(docs/benchmarks.md). This replaces `torch.ao.quantization.quantize_dynamic`, which is deprecated.
"""
from __future__ import annotations

import functools

import torch
import torch.nn as nn

_QMAX = 127  # activations: symmetric -127..127, so that negating a value is exact


def quantize_per_row(x: torch.Tensor, qmax: int = _QMAX) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, K) float -> (M, K) int8 and the (M, 1) row maxima m, with x ~ q * m / qmax."""
    r, m = _round_per_row(x, qmax)
    return r.to(torch.int8), m


def _round_per_row(x: torch.Tensor, qmax: int = _QMAX) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, K) float -> x * qmax / m rounded (still float) and the (M, 1) row maxima m."""
    m = torch.linalg.vector_norm(x, float("inf"), dim=1, keepdim=True).clamp_(min=1e-12)  # max |x| per row
    return torch.mul(x, qmax / m).round_(), m


def _onednn_mm(u8: torch.Tensor, packed: torch.Tensor, scale: torch.Tensor, zeros: torch.Tensor) -> torch.Tensor:
    """(M, K) uint8 activations (int8 + 128) x oneDNN-packed (N, K) int8 weights -> (M, N) float32 sums
    times `scale` (N,); `zeros` is the weights' (N,) int64 zero points."""
    return torch.ops.onednn.qlinear_pointwise(u8, 1.0, 128, packed, scale, zeros, None, 1.0, 0, torch.float32,
                                              "none", [], "")


def _exact(qmax: int, onednn: bool) -> bool:
    """Whether a worst-case product (every |x| = 127, every |w| = qmax) comes out exact."""
    w = torch.full((16, 64), qmax, dtype=torch.int8)
    w[1::2] *= -1
    x = torch.full((3, 64), _QMAX, dtype=torch.int8)
    want = x.double() @ w.double().T
    if onednn:
        u8 = (x.to(torch.int16) + 128).to(torch.uint8)
        packed = torch.ops.onednn.qlinear_prepack(w, None)
        return torch.equal(_onednn_mm(u8, packed, torch.ones(16), torch.zeros(16, dtype=torch.long)).double(), want)
    return all(torch.equal(torch._int_mm(x[:n], w.t()).double(), want[:n]) for n in (1, 3))  # GEMV and GEMM paths


@functools.cache
def kernel_setup() -> tuple[int, bool]:
    """(largest weight magnitude, whether oneDNN's prepacked kernel is usable) on this CPU.

    x86 CPUs without VNNI add pairs of u8 x s8 products in int16 (vpmaddubsw), which saturates
    with 8-bit weights (up to 25% off, measured with ONEDNN_MAX_CPU_ISA=AVX2); 7-bit weights
    (|w| <= 63) cannot overflow there. A worst-case product tells which case this CPU is.
    """
    try:
        onednn = torch.backends.mkldnn.is_available() and _exact(63, onednn=True)
    except (RuntimeError, AttributeError, NotImplementedError):  # no oneDNN int8 linear in this build
        onednn = False
    full_range = _exact(_QMAX, onednn=False) and (not onednn or _exact(_QMAX, onednn=True))
    return (_QMAX if full_range else 63), onednn


class Int8Linear(nn.Module):
    """`nn.Linear` with int8 weights (per-output-channel scales) and int8 activations (per row)."""

    def __init__(self, weight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.register_buffer("weight", weight)  # (N, K) int8
        self.register_buffer("scale", scale)  # (N,) float32: weight ~ weight_int8 * scale
        self.register_buffer("bias", bias)  # (N,) float32 or None
        self.register_buffer("_out_scale", scale / _QMAX, persistent=False)  # folds in the activations' 1/127
        self.register_buffer("_zeros", torch.zeros_like(scale, dtype=torch.long), persistent=False)  # zero points
        self._packed: torch.Tensor | None = None  # oneDNN's blocked copy of `weight`, made at the first batch

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "Int8Linear":
        qmax, _ = kernel_setup()
        q, m = quantize_per_row(linear.weight.detach().float(), qmax)
        bias = None if linear.bias is None else linear.bias.detach().float().clone()
        return cls(q, (m / qmax).squeeze(1).contiguous(), bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # as few ops as possible: at batch 1 the dispatch of each one weighs against the GEMV
        shape = x.shape
        r, m = _round_per_row(x.reshape(-1, self.in_features).float())  # (M, K) in -127..127, (M, 1)
        if r.size(0) > 1 and kernel_setup()[1]:
            if self._packed is None:  # +1 byte per weight, only once batches are decoded
                self._packed = torch.ops.onednn.qlinear_prepack(self.weight, None)
            u8 = r.add_(128).to(torch.uint8)
            y = _onednn_mm(u8, self._packed, self._out_scale, self._zeros)  # (M, N) float32, x weight step / 127
        else:  # one row: _int_mm's GEMV path, on the (N, K) row-major weight, is the fastest here
            y = torch._int_mm(r.to(torch.int8), self.weight.t())  # (M, N) int32
            m = m * self._out_scale  # (M, N): activation step x weight step
        y = torch.mul(y, m) if self.bias is None else torch.addcmul(self.bias, y, m)
        return y.view(*shape[:-1], self.out_features).to(x.dtype)

    def __getstate__(self) -> dict:  # copy.deepcopy / pickle: oneDNN's opaque tensor has no storage to copy
        return {**self.__dict__, "_packed": None}  # re-made at the next batch

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
