"""Which codes each decoded frame depends on, read off the VQ-VAE decoder's layers.

The decoder is walked backwards from an output frame interval to the code interval it reads:

- `Conv1d` (kernel k, stride s, dilation d, padding p): output t reads inputs
  [t*s - p, t*s - p + (k - 1)*d];
- nearest `Upsample` by an integer factor f: output t reads input t // f;
- a residual block reads the union of its skip (t) and its branch;
- per-frame layers (activations, channel LayerNorm, BatchNorm in eval mode) read t;
- `GroupNorm` normalises over time, so it reads the whole sequence (no finite field).

An unknown layer type raises, so a new decoder layer cannot silently break streaming. For the
paper's decoder (down_t 2, depth 3, dilation growth 3, kernel 3) every frame reads the codes
from 22 to its left to 22 to its right (see `receptive_field`). `bound_lookahead` re-pads a
decoder so that it reads at most K codes ahead (`VQVAEConfig.decoder_lookahead`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from t2mgpt.tokenizer.resnet import ChannelLayerNorm, PaddedConv1d, ResConv1DBlock

_PER_FRAME = (nn.ReLU, nn.SiLU, nn.GELU, nn.Identity, ChannelLayerNorm, nn.BatchNorm1d, nn.Dropout)

_INF = float("inf")
Span = tuple[float, float]  # inclusive (first, last) input positions; +-inf: the whole sequence


def input_span(module: nn.Module, first: float, last: float) -> Span:
    """The input positions that outputs first..last of `module` read (inclusive)."""
    if isinstance(module, nn.Sequential):
        for layer in reversed(module):
            first, last = input_span(layer, first, last)
            if first == -_INF:  # the whole sequence: nothing further back narrows it
                return -_INF, _INF
        return first, last
    if isinstance(module, ResConv1DBlock):
        branch = nn.Sequential(module.norm1, module.activation1, module.conv1, module.norm2, module.activation2,
                               module.conv2)
        lo, hi = input_span(branch, first, last)
        return min(first, lo), max(last, hi)
    if isinstance(module, PaddedConv1d):  # stride 1, `pad[0]` zeros on the past side
        (k,), (d,) = module.kernel_size, module.dilation
        return first - module.pad[0], last - module.pad[0] + (k - 1) * d
    if isinstance(module, nn.Conv1d):
        if module.padding_mode != "zeros" or isinstance(module.padding, str):
            raise NotImplementedError(f"receptive field of {module}: only explicit zero padding is supported")
        (k,), (s,), (d,), (p,) = module.kernel_size, module.stride, module.dilation, module.padding
        return first * s - p, last * s - p + (k - 1) * d
    if isinstance(module, nn.Upsample):
        f = module.scale_factor
        if module.mode != "nearest" or f != int(f):
            raise NotImplementedError(f"receptive field of {module}: only nearest upsampling by an integer factor")
        return first // int(f), last // int(f)
    if isinstance(module, nn.GroupNorm):
        return -_INF, _INF
    if isinstance(module, _PER_FRAME):
        return first, last
    if hasattr(module, "model") and isinstance(module.model, nn.Module):  # Encoder/Decoder/Resnet1D wrappers
        return input_span(module.model, first, last)
    raise NotImplementedError(f"receptive field of {type(module).__name__} is unknown; add it to input_span")


@dataclass(frozen=True)
class ReceptiveField:
    """Frame p of code n (frame n * frames_per_code + p) reads codes n + first[p] .. n + last[p].

    The decoder is shift-equivariant by one code (stride-1 convolutions, integer upsampling),
    so these offsets hold for every code; at the sequence ends the zero padding stands in for
    the codes that do not exist. `first`/`last` are None when a layer reads the whole sequence.
    """

    first: tuple[int, ...] | None
    last: tuple[int, ...] | None
    frames_per_code: int

    @property
    def left(self) -> int | None:
        """Codes to the left that some frame of a code reads."""
        return None if self.first is None else -min(self.first)

    @property
    def right(self) -> int | None:
        """Codes to the right (the look-ahead) that some frame of a code reads."""
        return None if self.last is None else max(self.last)

    def codes_read(self, first_frame: int, last_frame: int) -> tuple[int, int]:
        """The (first, last) codes that frames first_frame..last_frame read, unclipped."""
        if self.first is None:
            return 0, 2**62  # every code
        f = self.frames_per_code
        return first_frame // f + self.first[first_frame % f], last_frame // f + self.last[last_frame % f]

    def frames_ready(self, n_codes: int) -> int:
        """How many leading frames read only codes 0..n_codes - 1 (more codes still to come)."""
        if self.last is None:
            return 0
        f = self.frames_per_code
        ready = 0  # input_span is monotone in the frame, so the ready frames are a prefix
        for p, off in enumerate(self.last):  # frame n*f + p is ready when n + off <= n_codes - 1
            n = n_codes - 1 - off
            if n >= 0:
                ready = max(ready, n * f + p + 1)
        return ready


def receptive_field(decoder: nn.Module, frames_per_code: int) -> ReceptiveField:
    """The decoder's receptive field in codes, read far from the sequence ends."""
    n = 10_000  # an interior code
    first, last = [], []
    for t in range(n * frames_per_code, (n + 1) * frames_per_code):
        lo, hi = input_span(decoder, t, t)
        if lo == -_INF:
            return ReceptiveField(None, None, frames_per_code)
        first.append(int(lo) - n)
        last.append(int(hi) - n)
    return ReceptiveField(tuple(first), tuple(last), frames_per_code)


def _conv_periods(module: nn.Module, period: float, out: list) -> float:
    """Append (conv, codes per input position) for the convolutions of `module` in forward order;
    return the codes per position after it."""
    if isinstance(module, nn.Conv1d):
        out.append((module, period))
        return period * module.stride[0]
    if isinstance(module, nn.Upsample):
        return period / module.scale_factor
    for child in module.children():  # Sequential, residual blocks, wrappers: forward order
        period = _conv_periods(child, period, out)
    return period


def bound_lookahead(decoder: nn.Module, frames_per_code: int, lookahead: int) -> ReceptiveField:
    """Re-pad `decoder` in place so that no frame reads more than `lookahead` codes ahead.

    Every convolution wider than one tap becomes a `PaddedConv1d`, causal (all padding on the past
    side). Then, shortest reach first (half its taps times the codes per position: a frame-rate
    convolution reaches a quarter of a code per tap, a code-rate one with dilation 9 nine codes),
    each gets the paper's symmetric padding back as long as the decoder's look-ahead, computed
    from the layers, stays within `lookahead`. The weights are unchanged.
    """
    if lookahead < 0:
        raise ValueError(f"lookahead must be >= 0, got {lookahead}")
    convs: list[tuple[nn.Conv1d, float]] = []
    _conv_periods(decoder, 1.0, convs)
    if any(c.stride[0] != 1 for c, _ in convs):
        raise NotImplementedError("bound_lookahead: only stride-1 convolutions are supported")
    parents = {id(child): (parent, name) for parent in decoder.modules() for name, child in parent.named_children()}
    wide = []
    for conv, period in convs:
        total = (conv.kernel_size[0] - 1) * conv.dilation[0]
        if total == 0:
            continue  # a 1-tap convolution reads only its own position
        parent, name = parents[id(conv)]
        padded = PaddedConv1d.like(conv, (total, 0))
        setattr(parent, name, padded)
        wide.append((total // 2 * period, padded))
    for _, conv in sorted(wide, key=lambda w: w[0]):  # stable: ties keep the forward order
        total = sum(conv.pad)
        conv.pad = (total - total // 2, total // 2)
        if receptive_field(decoder, frames_per_code).right > lookahead:
            conv.pad = (total, 0)
    return receptive_field(decoder, frames_per_code)
