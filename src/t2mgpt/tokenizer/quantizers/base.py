"""Shared machinery of the VQ-VAE's vector quantizers: nearest-code lookup, straight-through
estimator, perplexity, DDP-synchronised statistics.

All quantizers map (B, C, T) encoder outputs to (B, C, T) quantized vectors with the
straight-through estimator and return (x_q, indices, commit_loss, perplexity), as
vector-quantize-pytorch does. All of their state is in buffers/parameters, so `state_dict`
captures it and a restored model continues identically.

Under DDP (torch.distributed initialised, world size > 1) the batch statistics are summed
over ranks and the random choices (first-batch init, reset candidates) come from rank 0, so
every rank keeps the same codebook. The original let the ranks' codebooks drift apart.
"""
from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# DDP helpers: no-ops unless a process group with more than one rank is running


def _world_size() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def _all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if _world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def _broadcast_from_rank0(t: torch.Tensor) -> torch.Tensor:
    if _world_size() > 1:
        dist.broadcast(t, src=0)
    return t


# ---------------------------------------------------------------------------------------------


class VectorQuantizer(nn.Module):
    """Shared machinery: nearest-code lookup, straight-through estimator, perplexity."""

    ppl_eps = 1e-7  # the original's epsilon inside log(prob + eps)

    def __init__(self, nb_code: int, code_dim: int):
        super().__init__()
        self.nb_code = nb_code
        self.code_dim = code_dim
        # fraction of codes hit by the last training/eval batch (all ranks under DDP)
        self.register_buffer("usage", torch.zeros(()), persistent=False)

    codebook: torch.Tensor  # (K, C), a buffer or a parameter depending on the subclass

    # --- lookup -------------------------------------------------------------------------------

    @torch.no_grad()
    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C) -> (N,) index of the nearest code (squared Euclidean distance)."""
        k_w = self.codebook.t()  # (C, K)
        distance = (x**2).sum(-1, keepdim=True) - 2 * (x @ k_w) + (k_w**2).sum(0, keepdim=True)  # (N, K)
        return distance.argmin(dim=-1)

    def dequantize(self, code_idx: torch.Tensor) -> torch.Tensor:
        """(...) long -> (..., C)."""
        return F.embedding(code_idx, self.codebook)

    # --- statistics ---------------------------------------------------------------------------

    def _batch_stats(self, x: torch.Tensor, code_idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-code sums (K, C) and counts (K,) of this batch; one-hot matmul is deterministic."""
        onehot = F.one_hot(code_idx, self.nb_code).to(x.dtype)  # (N, K)
        return onehot.t() @ x, onehot.sum(0)

    def _perplexity(self, code_count: torch.Tensor) -> torch.Tensor:
        self.usage.copy_((code_count > 0).float().mean())  # in place: DDP keeps references to buffers
        prob = code_count / code_count.sum()
        return torch.exp(-(prob * torch.log(prob + self.ppl_eps)).sum())

    def _tile(self, x: torch.Tensor) -> torch.Tensor:
        """nb_code candidate vectors from a batch: x itself, or x repeated with small noise if too few."""
        n, code_dim = x.shape
        if n < self.nb_code:
            x = x.repeat((self.nb_code + n - 1) // n, 1)
            x = x + torch.randn_like(x) * (0.01 / math.sqrt(code_dim))
        return x[: self.nb_code].clone()  # (K, C), rank 0's copy wins under DDP

    @torch.no_grad()
    def _candidates(self, x: torch.Tensor) -> torch.Tensor:
        return _broadcast_from_rank0(self._tile(x.detach()).contiguous())

    # --- hooks for subclasses -----------------------------------------------------------------

    @classmethod
    def build(cls, nb_code: int, code_dim: int, mu: float) -> "VectorQuantizer":
        """Construct from the VQ-VAE config's fields (quantizers that keep no EMA ignore mu)."""
        return cls(nb_code, code_dim)

    def _maybe_init(self, x: torch.Tensor) -> None:
        pass

    def _update(self, x: torch.Tensor, code_idx: torch.Tensor) -> torch.Tensor:
        """Training-time codebook update; returns this step's (global) code counts (K,)."""
        return _all_reduce_sum(self._batch_stats(x.detach(), code_idx)[1])

    def _loss(self, x: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(x, x_d.detach())  # commitment: pulls the encoder towards its codes

    # --- forward ------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, C, T) -> (x_q (B, C, T), indices (B, T) long, commit_loss (), perplexity ()).

        In training mode the codebook is updated from this batch (the subclass's rule).
        """
        # distances and EMA statistics in float32 even under autocast
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self._forward(x.float())

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        B, C, T = x.shape
        x = x.permute(0, 2, 1).reshape(B * T, C)  # (N, C), N = B*T
        if self.training:
            self._maybe_init(x)
        code_idx = self.quantize(x)  # (N,)
        x_d = self.dequantize(code_idx)  # (N, C)
        if self.training:
            code_count = self._update(x, code_idx)
        else:
            code_count = torch.bincount(code_idx, minlength=self.nb_code).to(x.dtype)
        perplexity = self._perplexity(code_count)
        commit_loss = self._loss(x, x_d)
        x_d = x + (x_d - x).detach()  # straight-through: gradients skip the lookup
        return x_d.view(B, T, C).permute(0, 2, 1).contiguous(), code_idx.view(B, T), commit_loss, perplexity
