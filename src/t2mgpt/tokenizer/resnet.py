"""Dilated 1D residual stack used by the VQ-VAE encoder and decoder (as in T2M-GPT / Jukebox).

Module and attribute names (`model`, `conv1`, `conv2`, `norm1`, `norm2`) follow the original
code so that its checkpoints load without renaming.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from t2mgpt.tokenizer.config import ACTIVATIONS, NORMS


def make_activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "silu":
        return nn.SiLU()  # the original's hand-written swish x * sigmoid(x)
    if name == "gelu":
        return nn.GELU()
    raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATIONS}")


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channel axis of a (B, C, T) tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


def make_norm(name: str | None, channels: int) -> nn.Module:
    if name is None:
        return nn.Identity()
    if name == "LN":
        return ChannelLayerNorm(channels)
    if name == "GN":
        return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)
    if name == "BN":
        return nn.BatchNorm1d(channels, eps=1e-6, affine=True)
    raise ValueError(f"unknown norm {name!r}; choose one of {NORMS}")


class PaddedConv1d(nn.Conv1d):
    """A stride-1 Conv1d zero-padded by `pad` = (past, future) positions, which may differ.

    Padding more on the past side bounds what an output reads ahead (`decoder_lookahead`); the
    parameters are those of `nn.Conv1d`, so its weights load into this one unchanged.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1,
                 pad: tuple[int, int] | None = None):
        super().__init__(in_channels, out_channels, kernel_size, 1, 0, dilation)
        total = (kernel_size - 1) * dilation
        self.pad = pad if pad is not None else (total - total // 2, total // 2)
        if min(self.pad) < 0 or sum(self.pad) != total:
            raise ValueError(f"pad {self.pad} must be >= 0 and sum to (kernel_size - 1) * dilation = {total}")

    @classmethod
    def like(cls, conv: nn.Conv1d, pad: tuple[int, int]) -> "PaddedConv1d":
        """A copy of `conv` (same weights, stride 1) with the padding `pad`."""
        new = cls(conv.in_channels, conv.out_channels, conv.kernel_size[0], conv.dilation[0], pad)
        new.load_state_dict(conv.state_dict())
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C', T)
        return super().forward(F.pad(x, self.pad))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", pad={self.pad}"


class ResConv1DBlock(nn.Module):
    """x + conv1x1(act(norm(conv3_dilated(act(norm(x))))))  (pre-activation residual block)."""

    def __init__(self, channels: int, dilation: int = 1, activation: str = "relu", norm: str | None = None):
        super().__init__()
        self.norm1 = make_norm(norm, channels)
        self.activation1 = make_activation(activation)
        self.conv1 = nn.Conv1d(channels, channels, 3, 1, padding=dilation, dilation=dilation)
        self.norm2 = make_norm(norm, channels)
        self.activation2 = make_activation(activation)
        self.conv2 = nn.Conv1d(channels, channels, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C, T)
        h = self.conv1(self.activation1(self.norm1(x)))
        h = self.conv2(self.activation2(self.norm2(h)))
        return x + h


class Resnet1D(nn.Module):
    """`depth` residual blocks with dilations growth_rate**i.

    The original reverses the dilation order by default (largest dilation first), in the
    encoder as well as the decoder; published checkpoints depend on it.
    """

    def __init__(self, channels: int, depth: int, dilation_growth_rate: int = 3, reverse_dilation: bool = True,
                 activation: str = "relu", norm: str | None = None):
        super().__init__()
        blocks = [ResConv1DBlock(channels, dilation_growth_rate**i, activation, norm) for i in range(depth)]
        if reverse_dilation:
            blocks = blocks[::-1]
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
