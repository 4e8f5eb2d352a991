"""`QuantizeOrig` ("orig"): the VQ-VAE of van den Oord et al. (codebook + commitment loss)."""
from __future__ import annotations

import torch
import torch.nn as nn

from t2mgpt.tokenizer.quantizers import register
from t2mgpt.tokenizer.quantizers.base import VectorQuantizer


@register("orig")
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
