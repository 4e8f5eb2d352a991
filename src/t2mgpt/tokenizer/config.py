"""The VQ-VAE's hyper-parameters (`VQVAEConfig`), torch-free so that the CLI builds `train-vq`'s
model flags from them at start-up."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from t2mgpt.errors import InputError
from t2mgpt.utils.checks import check_choices, check_fractions, check_positive_ints

ACTIVATIONS = ("relu", "silu", "gelu")
NORMS = (None, "LN", "GN", "BN")


@dataclass
class VQVAEConfig:
    input_dim: int = 263  # 263 HumanML3D (22 joints), 251 KIT-ML (21 joints)
    nb_code: int = 512  # codebook size
    code_dim: int = 512  # code vector size (= output_emb_width)
    output_emb_width: int = 512  # encoder output channels
    width: int = 512  # conv channels
    down_t: int = 2  # number of 2x temporal downsampling stages
    stride_t: int = 2
    depth: int = 3  # residual blocks per stage
    dilation_growth_rate: int = 3
    activation: str = "relu"  # relu | silu | gelu
    norm: str | None = None  # None | LN | GN | BN
    quantizer: str = "ema_reset"  # ema_reset | ema | reset | orig
    mu: float = 0.99  # EMA decay of the codebook statistics
    beta: float = 0.02  # commitment loss weight (applied in the loss, see t2mgpt.losses)
    # None: the paper's symmetric padding (the decoder reads 22 codes ahead for the paper's sizes);
    # K: the decoder reads at most K codes ahead, so a stream's first frames need K + 1 codes
    decoder_lookahead: int | None = None

    def __post_init__(self):
        from t2mgpt.tokenizer.quantizers import QUANTIZERS

        check_positive_ints(self, ("input_dim", "nb_code", "code_dim", "output_emb_width", "width", "down_t", "depth",
                                   "dilation_growth_rate"), "VQVAEConfig.")
        if self.stride_t != 2:
            raise InputError(f"VQVAEConfig.stride_t must be 2 (the decoder upsamples by 2 per stage), got {self.stride_t!r}")
        if self.code_dim != self.output_emb_width:
            raise InputError(f"code_dim ({self.code_dim}) must equal output_emb_width ({self.output_emb_width}): "
                             "the codes quantize the encoder output")
        check_choices(self, {"activation": ACTIVATIONS, "norm": NORMS, "quantizer": QUANTIZERS})
        if self.norm == "GN" and self.width % 32:
            raise InputError(f"norm 'GN' uses 32 groups, so width must be a multiple of 32, got {self.width}")
        check_fractions(self, ("mu",))
        k = self.decoder_lookahead
        if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 0):
            raise InputError(f"decoder_lookahead must be None (the paper's padding) or codes >= 0, got {k!r}")

    @property
    def vocab(self):
        """Code ids 0 .. nb_code - 1 (and the GPT's END / PAD after them): a `CodeVocab`."""
        from t2mgpt.tokenizer.vocab import CodeVocab

        return CodeVocab(self.nb_code)

    @property
    def downsample(self) -> int:
        """Motion frames per code (4 for the paper)."""
        return 2**self.down_t

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VQVAEConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"unknown VQ-VAE config keys {unknown}; known: {sorted(known)}")
        return cls(**d)
