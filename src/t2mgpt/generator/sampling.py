"""Token choice for generation: temperature, top-k, top-p and seeded per-row sampling.

Each batch row draws its random numbers from its own `torch.Generator` (seeded once, on
the model's device), one uniform per step, and picks a token by inverting the CDF of the
filtered distribution. A row's output therefore depends only on its text and its seed,
not on which other prompts share the batch or when they stop.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import torch

from t2mgpt.errors import InputError


def check_sampling_args(temperature: float, top_k: int | None, top_p: float | None) -> None:
    if not temperature > 0:
        raise InputError(f"temperature must be > 0 (got {temperature}); use greedy=True for argmax decoding")
    if top_k is not None and (int(top_k) != top_k or top_k < 1):
        raise InputError(f"top_k must be a positive integer or None (got {top_k})")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise InputError(f"top_p must be in (0, 1] or None (got {top_p})")


def row_seeds(seed: int | Sequence[int] | None, batch: int) -> list[int]:
    """One seed per row: `seed + i` for an int, the given list, or drawn from torch's global RNG."""
    if seed is None:
        return torch.randint(0, 2**62, (batch,)).tolist()
    if isinstance(seed, numbers.Integral):
        seed = int(seed)
        return [seed + i for i in range(batch)]
    seeds = [int(s) for s in seed]
    if len(seeds) != batch:
        raise InputError(f"got {len(seeds)} seeds for {batch} prompts; pass one int or one seed per prompt")
    return seeds


def row_uniforms(seeds: list[int], steps: int, device: torch.device) -> torch.Tensor:
    """(B, steps) uniforms in [0, 1); row i comes from a generator seeded with seeds[i]."""
    rows = []
    for s in seeds:
        g = torch.Generator(device=device)
        g.manual_seed(s)
        rows.append(torch.rand(steps, generator=g, device=device))
    return torch.stack(rows)


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> torch.Tensor:
    """Scale by 1/temperature, then keep the top-k and the top-p nucleus (others -> -inf).

    logits: (B, V) float; returns a new (B, V) float32 tensor.
    """
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, int(top_k), dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        mass_before = torch.cumsum(probs, dim=-1) - probs  # (B, V) probability of strictly better tokens
        drop_sorted = mass_before >= top_p  # smallest prefix whose mass reaches top_p is kept
        drop_sorted[:, 0] = False  # and the top token always: a tiny top_p rounds to 0 in float32
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_with_uniforms(logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF sampling: logits (B, V), u (B,) in [0, 1) -> token ids (B,).

    Tokens with zero probability (-inf logits) are never chosen.
    """
    probs = torch.softmax(logits.float(), dim=-1).double()
    cdf = torch.cumsum(probs, dim=-1)  # (B, V)
    target = u.double()[:, None] * cdf[:, -1:]  # (B, 1), strictly below the total mass
    idx = torch.searchsorted(cdf, target, right=True)  # first index with cdf > target
    return idx.squeeze(1).clamp_(max=logits.size(-1) - 1)
