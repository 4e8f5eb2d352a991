"""`QuantizeEMA` ("ema"): the EMA codebook of "ema_reset" without the dead-code reset."""
from __future__ import annotations

from t2mgpt.tokenizer.quantizers import register
from t2mgpt.tokenizer.quantizers.ema_reset import QuantizeEMAReset


@register("ema")
class QuantizeEMA(QuantizeEMAReset):
    """EMA codebook without dead-code reset."""

    def __init__(self, nb_code: int, code_dim: int, mu: float = 0.99):
        super().__init__(nb_code, code_dim, mu, reset=False)
