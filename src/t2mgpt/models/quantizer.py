"""Vector quantizers of the T2M-GPT VQ-VAE.

- `QuantizeEMAReset` ("ema_reset", the paper's): codebook initialised from the first batch of
  encoder outputs, updated by exponential moving averages of code sums and counts, and codes
  whose EMA count falls below 1 are reset to current encoder outputs.
- `QuantizeEMA` ("ema"): the same without the dead-code reset.
- `QuantizeReset` ("reset"): a learned codebook whose codes unused in a batch are reset.
- `QuantizeOrig` ("orig"): the VQ-VAE of van den Oord et al. (codebook + commitment loss).

All quantizers map (B, C, T) encoder outputs to (B, C, T) quantized vectors with the
straight-through estimator and return (x_q, commit_loss, perplexity). All of their state is in
buffers/parameters, so `state_dict` captures it and a restored model continues identically.

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

    def _maybe_init(self, x: torch.Tensor) -> None:
        pass

    def _update(self, x: torch.Tensor, code_idx: torch.Tensor) -> torch.Tensor:
        """Training-time codebook update; returns this step's (global) code counts (K,)."""
        return _all_reduce_sum(self._batch_stats(x.detach(), code_idx)[1])

    def _loss(self, x: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(x, x_d.detach())  # commitment: pulls the encoder towards its codes

    # --- forward ------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, C, T) -> (x_q (B, C, T), commit_loss (), perplexity ())."""
        # distances and EMA statistics in float32 even under autocast
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self._forward(x.float())

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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
        return x_d.view(B, T, C).permute(0, 2, 1).contiguous(), commit_loss, perplexity


class QuantizeEMAReset(VectorQuantizer):
    """EMA codebook with dead-code reset (the paper's quantizer)."""

    def __init__(self, nb_code: int, code_dim: int, mu: float = 0.99, reset: bool = True):
        super().__init__(nb_code, code_dim)
        self.mu = mu
        self.reset = reset
        self.register_buffer("codebook", torch.zeros(nb_code, code_dim))
        self.register_buffer("code_sum", torch.zeros(nb_code, code_dim))  # EMA of per-code sums
        self.register_buffer("code_count", torch.zeros(nb_code))  # EMA of per-code counts
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _maybe_init(self, x: torch.Tensor) -> None:
        if bool(self.initialized):
            return
        out = self._candidates(x)  # (K, C)
        self.codebook.copy_(out)
        self.code_sum.copy_(out)
        self.code_count.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _update(self, x: torch.Tensor, code_idx: torch.Tensor) -> torch.Tensor:
        x = x.detach()
        code_sum, code_count = self._batch_stats(x, code_idx)  # (K, C), (K,)
        _all_reduce_sum(code_sum)
        _all_reduce_sum(code_count)
        mu = self.mu
        self.code_sum.copy_(mu * self.code_sum + (1.0 - mu) * code_sum)
        self.code_count.copy_(mu * self.code_count + (1.0 - mu) * code_count)
        code_update = self.code_sum / self.code_count[:, None]  # (K, C)
        if self.reset:
            code_rand = self._candidates(x)  # (K, C)
            # `where` rather than the original's usage * a + (1 - usage) * b: same values, but a
            # long-dead code's 0/0 cannot turn the codebook into NaN
            self.codebook.copy_(torch.where(self.code_count[:, None] >= 1.0, code_update, code_rand))
        else:
            self.codebook.copy_(torch.where(self.code_count[:, None] > 0, code_update, self.codebook))
        return code_count

    def load_codebook(self, codebook: torch.Tensor) -> None:
        """Set a trained codebook (e.g. from an original checkpoint, which keeps no EMA state)."""
        with torch.no_grad():
            self.codebook.copy_(codebook)
            self.code_sum.copy_(codebook)
            self.code_count.fill_(1.0)
            self.initialized.fill_(True)


class QuantizeEMA(QuantizeEMAReset):
    """EMA codebook without dead-code reset."""

    def __init__(self, nb_code: int, code_dim: int, mu: float = 0.99):
        super().__init__(nb_code, code_dim, mu, reset=False)


class QuantizeReset(VectorQuantizer):
    """Learned codebook (initialised from the first batch); codes unused in a batch are reset.

    Unlike the original, whose codebook receives no gradient at all (its loss detaches the
    codes), the codebook term ||sg[z] - e||^2 is added so that used codes actually learn.
    """

    def __init__(self, nb_code: int, code_dim: int):
        super().__init__(nb_code, code_dim)
        self.codebook = nn.Parameter(torch.randn(nb_code, code_dim))
        self.register_buffer("code_count", torch.zeros(nb_code))  # counts of the last batch
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _maybe_init(self, x: torch.Tensor) -> None:
        if bool(self.initialized):
            return
        self.codebook.copy_(self._candidates(x))  # in place: the optimizer keeps the same tensor
        self.code_count.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _update(self, x: torch.Tensor, code_idx: torch.Tensor) -> torch.Tensor:
        x = x.detach()
        code_count = _all_reduce_sum(self._batch_stats(x, code_idx)[1])
        self.code_count.copy_(code_count)
        code_rand = self._candidates(x)
        self.codebook.copy_(torch.where(code_count[:, None] >= 1.0, self.codebook, code_rand))
        return code_count

    def _loss(self, x: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(x, x_d.detach()) + F.mse_loss(x_d, x.detach())

    def load_codebook(self, codebook: torch.Tensor) -> None:
        with torch.no_grad():
            self.codebook.copy_(codebook)
            self.code_count.fill_(1.0)
            self.initialized.fill_(True)


class QuantizeOrig(VectorQuantizer):
    """Plain VQ-VAE: codebook loss + beta * commitment loss, gradients through the codebook."""

    ppl_eps = 1e-10

    def __init__(self, nb_code: int, code_dim: int, beta: float = 1.0):
        super().__init__(nb_code, code_dim)
        self.beta = beta  # the original T2M-GPT builds this quantizer with beta = 1.0
        self.codebook = nn.Parameter(torch.empty(nb_code, code_dim).uniform_(-1.0 / nb_code, 1.0 / nb_code))

    @torch.no_grad()
    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        e = self.codebook  # (K, C); the original's summation order
        distance = (x**2).sum(1, keepdim=True) + (e**2).sum(1) - 2 * (x @ e.t())
        return distance.argmin(dim=1)

    def _loss(self, x: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        return torch.mean((x_d - x.detach()) ** 2) + self.beta * torch.mean((x_d.detach() - x) ** 2)

    def load_codebook(self, codebook: torch.Tensor) -> None:
        with torch.no_grad():
            self.codebook.copy_(codebook)


QUANTIZERS = ("ema_reset", "ema", "reset", "orig")


def make_quantizer(name: str, nb_code: int, code_dim: int, mu: float = 0.99) -> VectorQuantizer:
    if name == "ema_reset":
        return QuantizeEMAReset(nb_code, code_dim, mu)
    if name == "ema":
        return QuantizeEMA(nb_code, code_dim, mu)
    if name == "reset":
        return QuantizeReset(nb_code, code_dim)
    if name == "orig":
        return QuantizeOrig(nb_code, code_dim, beta=1.0)
    raise ValueError(f"unknown quantizer {name!r}; choose one of {QUANTIZERS}")
