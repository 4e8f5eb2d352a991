"""`QuantizeReset` ("reset"): a learned codebook whose codes unused in a batch are reset."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from t2mgpt.tokenizer.quantizers import register
from t2mgpt.tokenizer.quantizers.base import VectorQuantizer, _all_reduce_sum


@register("reset")
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
