"""`QuantizeEMAReset` ("ema_reset", the paper's): codebook initialised from the first batch of
encoder outputs, updated by exponential moving averages of code sums and counts, and codes
whose EMA count falls below 1 are reset to current encoder outputs.
"""
from __future__ import annotations

import torch

from t2mgpt.tokenizer.quantizers import register
from t2mgpt.tokenizer.quantizers.base import VectorQuantizer, _all_reduce_sum


@register("ema_reset")
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

    @classmethod
    def build(cls, nb_code: int, code_dim: int, mu: float) -> "QuantizeEMAReset":
        return cls(nb_code, code_dim, mu)

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
