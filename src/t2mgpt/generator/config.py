"""The GPT's hyper-parameters (`GPTConfig`), torch-free so that the CLI builds `train-gpt`'s
model flags from them at start-up."""
from __future__ import annotations

from dataclasses import dataclass

from t2mgpt.errors import InputError
from t2mgpt.utils.checks import check_fractions, check_positive_ints


@dataclass
class GPTConfig:
    """Hyper-parameters, named as in the original code; defaults are the released HumanML3D model."""

    num_vq: int = 512  # codebook size (nb_code)
    embed_dim: int = 1024  # transformer width
    clip_dim: int = 512  # text feature dim (CLIP ViT-B/32)
    block_size: int = 51  # text token + up to 50 codes
    num_layers: int = 9  # blocks per stack (base and head): 2 * num_layers in total
    n_head: int = 16
    drop_out_rate: float = 0.1
    fc_rate: int = 4  # MLP hidden = fc_rate * embed_dim

    def __post_init__(self):
        check_positive_ints(self, ("num_vq", "embed_dim", "clip_dim", "block_size", "num_layers", "n_head", "fc_rate"),
                            "GPTConfig.")
        if self.block_size < 2:
            raise InputError(f"GPTConfig.block_size must be >= 2 (got {self.block_size})")
        if self.embed_dim % self.n_head or self.embed_dim % 2:
            raise InputError(f"embed_dim ({self.embed_dim}) must be even and divisible by n_head ({self.n_head})")
        check_fractions(self, ("drop_out_rate",))

    @property
    def vocab(self):
        """Token ids (`CodeVocab`): num_vq codes, END = num_vq, PAD = num_vq + 1."""
        from t2mgpt.tokenizer.vocab import CodeVocab

        return CodeVocab(self.num_vq)
