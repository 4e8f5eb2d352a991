"""1D-convolutional motion encoder and decoder of the T2M-GPT VQ-VAE.

Each of the `down_t` encoder stages halves time (for stride_t 2); the decoder mirrors it with
nearest-neighbour upsampling. Layer indices inside `model` match the original checkpoints.
The paper pads every convolution symmetrically, so a decoded frame reads 22 codes ahead; a
decoder built with `lookahead=K` reads at most K (for streaming, see `bound_lookahead`).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from t2mgpt.tokenizer.receptive_field import bound_lookahead
from t2mgpt.tokenizer.resnet import Resnet1D


class Encoder(nn.Module):
    """(B, input_dim, T) -> (B, output_emb_width, T / stride_t**down_t)."""

    def __init__(self, input_dim: int, output_emb_width: int = 512, down_t: int = 2, stride_t: int = 2,
                 width: int = 512, depth: int = 3, dilation_growth_rate: int = 3, activation: str = "relu",
                 norm: str | None = None):
        super().__init__()
        filter_t, pad_t = stride_t * 2, stride_t // 2
        blocks: list[nn.Module] = [nn.Conv1d(input_dim, width, 3, 1, 1), nn.ReLU()]
        for _ in range(down_t):
            blocks.append(nn.Sequential(
                nn.Conv1d(width, width, filter_t, stride_t, pad_t),  # downsample time
                Resnet1D(width, depth, dilation_growth_rate, reverse_dilation=True, activation=activation, norm=norm),
            ))
        blocks.append(nn.Conv1d(width, output_emb_width, 3, 1, 1))
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class Decoder(nn.Module):
    """(B, output_emb_width, N) -> (B, input_dim, N * 2**down_t).

    `lookahead`: None pads as the paper (symmetric); K re-pads the convolutions (same weights)
    so that no frame reads more than K codes ahead.
    """

    def __init__(self, input_dim: int, output_emb_width: int = 512, down_t: int = 2, stride_t: int = 2,
                 width: int = 512, depth: int = 3, dilation_growth_rate: int = 3, activation: str = "relu",
                 norm: str | None = None, lookahead: int | None = None):
        super().__init__()
        # the original always upsamples by 2 per stage, whatever stride_t is
        blocks: list[nn.Module] = [nn.Conv1d(output_emb_width, width, 3, 1, 1), nn.ReLU()]
        for _ in range(down_t):
            blocks.append(nn.Sequential(
                Resnet1D(width, depth, dilation_growth_rate, reverse_dilation=True, activation=activation, norm=norm),
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv1d(width, width, 3, 1, 1),
            ))
        blocks += [nn.Conv1d(width, width, 3, 1, 1), nn.ReLU(), nn.Conv1d(width, input_dim, 3, 1, 1)]
        self.model = nn.Sequential(*blocks)
        if lookahead is not None:
            bound_lookahead(self, 2**down_t, lookahead)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
