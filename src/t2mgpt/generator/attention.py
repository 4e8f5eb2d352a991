"""Causal self-attention, MLP and pre-LN transformer block of the T2M-GPT transformer.

Numerically the same as the original `CausalCrossConditionalSelfAttention` / `Block`
(separate biased query/key/value projections there, fused into one `qkv` linear here;
scale 1/sqrt(head_dim); causal mask; dropout on the attention weights, after the output
projection and at the end of the MLP; exact-erf GELU). A `KVCache` lets generation feed
one new token per step instead of recomputing the whole prefix.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class KVCache:
    """Keys and values of every layer for the tokens seen so far, preallocated to `max_len`."""

    def __init__(self, num_layers: int, batch: int, n_head: int, max_len: int, head_dim: int,
                 device: torch.device, dtype: torch.dtype):
        shape = (num_layers, batch, n_head, max_len, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0  # positions filled (same for every row: all rows decode in lockstep)

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the new keys/values (B, nh, T, hs) of `layer`; return all of them (B, nh, length+T, hs)."""
        t0, t1 = self.length, self.length + k.size(2)
        if t1 > self.k.size(3):
            raise RuntimeError(f"KV cache is full ({self.k.size(3)} positions)")
        self.k[layer, :, :, t0:t1] = k
        self.v[layer, :, :, t0:t1] = v
        return self.k[layer, :, :, :t1], self.v[layer, :, :, :t1]

    def advance(self, n: int) -> None:
        """Called once per forward, after every layer has stored its `n` new positions."""
        self.length += n

    def keep(self, rows: torch.Tensor) -> None:
        """Drop finished sequences: keep only batch rows `rows` (bool mask or indices)."""
        self.k = self.k[:, rows]
        self.v = self.v[:, rows]


class CausalSelfAttention(nn.Module):
    def __init__(self, embed_dim: int, n_head: int, dropout: float):
        super().__init__()
        assert embed_dim % n_head == 0
        self.n_head = n_head
        self.dropout = dropout
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim)  # query, key, value for all heads
        self.proj = nn.Linear(embed_dim, embed_dim)
        self.resid_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        past = 0
        if cache is not None:
            past = cache.length
            k, v = cache.update(layer, k, v)  # (B, nh, past+T, hs)
        mask, causal = None, False
        if T > 1 and past == 0:
            causal = True
        elif T > 1:  # new queries at positions past..past+T-1 see keys up to their own position
            key_pos = torch.arange(past + T, device=x.device)
            query_pos = torch.arange(past, past + T, device=x.device)
            mask = key_pos[None, :] <= query_pos[:, None]  # (T, past+T)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal,
            dropout_p=self.dropout if self.training else 0.0,
        )  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side
        return self.resid_drop(self.proj(y))


class MLP(nn.Module):
    def __init__(self, embed_dim: int, fc_rate: int, dropout: float):
        super().__init__()
        self.fc = nn.Linear(embed_dim, fc_rate * embed_dim)
        self.gelu = nn.GELU()
        self.proj = nn.Linear(fc_rate * embed_dim, embed_dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(self.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-LN transformer block: x + attn(ln1(x)), then x + mlp(ln2(x))."""

    def __init__(self, embed_dim: int, n_head: int, dropout: float, fc_rate: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(embed_dim)
        self.attn = CausalSelfAttention(embed_dim, n_head, dropout)
        self.ln2 = nn.LayerNorm(embed_dim)
        self.mlp = MLP(embed_dim, fc_rate, dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cache, layer)
        x = x + self.mlp(self.ln2(x))
        return x
