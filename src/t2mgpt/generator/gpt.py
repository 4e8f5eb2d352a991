"""The text-conditioned motion-token GPT of T2M-GPT (the original's `Text2Motion_Transformer`).

Sequence: [text token, code_1, ..., code_N]. The text token is the CLIP text feature
through a linear layer; codes are learned embeddings of the nb_code VQ codes plus END
(= num_vq) and PAD (= num_vq + 1). Fixed sinusoidal positions are added to every token
(the original's position dropout is 0 and its `drop` layer is never applied, so there is
no embedding dropout). Then a "base" and a "head" stack of `num_layers` causal pre-LN
blocks each, a final LayerNorm and a bias-free linear head over num_vq + 1 classes
(codes + END; PAD is never predicted). Logits at position t predict code t + 1.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict
from typing import Callable, Sequence

import torch
import torch.nn as nn

from t2mgpt.errors import InputError
from t2mgpt.generator.attention import Block, KVCache
from t2mgpt.generator.config import GPTConfig
from t2mgpt.generator.decoding import DecodeStep, Hook, Sampling, decode


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """(length, dim) fixed positions: sin on even, cos on odd channels (as the original, in float32).
    Computed on the CPU even under a meta-device build (t2mgpt.utils.init.state_shapes), whose
    Python kernels for these ops would cost seconds of imports."""
    pos = torch.arange(length, dtype=torch.float32, device="cpu")[:, None]  # (L, 1)
    even = torch.arange(0, dim, 2, dtype=torch.float32, device="cpu")
    freq = torch.exp(even * -(math.log(10000.0) / dim))  # (dim/2,)
    pe = torch.zeros(length, dim, device="cpu")
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)
    return pe


class MotionGPT(nn.Module):
    """Predicts the next VQ code index (or END) from a text feature and the codes so far."""

    def __init__(self, config: GPTConfig | None = None, **overrides):
        super().__init__()
        config = config or GPTConfig()
        if overrides:
            config = GPTConfig(**{**asdict(config), **overrides})
        self.config = c = config
        self.cond_emb = nn.Linear(c.clip_dim, c.embed_dim)  # text feature -> first token
        self.tok_emb = nn.Embedding(c.vocab.num_embeddings, c.embed_dim)  # codes + END + PAD
        self.register_buffer("pos_emb", sinusoidal_positions(c.block_size, c.embed_dim))  # (L, C), fixed
        self.base_blocks = nn.ModuleList(Block(c.embed_dim, c.n_head, c.drop_out_rate, c.fc_rate)
                                         for _ in range(c.num_layers))
        self.head_blocks = nn.ModuleList(Block(c.embed_dim, c.n_head, c.drop_out_rate, c.fc_rate)
                                         for _ in range(c.num_layers))
        self.ln_f = nn.LayerNorm(c.embed_dim)
        self.head = nn.Linear(c.embed_dim, c.vocab.num_classes, bias=False)  # codes + END
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        # as the original: N(0, 0.02) weights, zero biases, unit LayerNorms
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    @property
    def device(self) -> torch.device:
        return self.pos_emb.device

    @property
    def dtype(self) -> torch.dtype:
        return self.ln_f.weight.dtype

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def quantized(self) -> str | None:
        """'int8' after `quantize_int8()`, else None."""
        return getattr(self, "_quantized", None)

    def quantize_int8(self) -> "MotionGPT":
        """int8 dynamic quantisation of the blocks' linear layers (per output channel), in place.

        For low-latency CPU decoding: batch-1 decoding is bound by reading the weights, and int8
        reads 4x fewer bytes per token (docs/benchmarks.md). Embeddings, ln_f and the output head
        stay fp32. It changes the logits slightly, so it is opt-in. CPU only; inference only.
        """
        if self.device.type != "cpu":
            raise InputError(f"int8 dynamic quantisation is CPU-only (the GPT is on {self.device}); "
                             f"load the model on the CPU or leave quantisation off on a GPU")
        if self.quantized:
            return self
        from t2mgpt.generator.int8 import quantize_linears_int8

        for blocks in (self.base_blocks, self.head_blocks):
            quantize_linears_int8(blocks)
        self._quantized = "int8"
        return self.eval()

    # ---------------------------------------------------------------- forward

    def forward(self, codes: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        """codes (B, N) long in [0, num_vq + 1], N <= block_size - 1; text_features (B, clip_dim).

        Returns logits (B, 1 + N, num_vq + 1); position 0 is the text token (predicts code 1).
        """
        text = self._check_text(text_features)
        codes = self._check_codes(codes, text.size(0))
        x = self._embed(text, codes)  # (B, 1+N, C)
        return self._logits(self._transform(x))

    def _embed(self, text: torch.Tensor, codes: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Token + position embeddings. text (B, clip_dim) or None; codes (B, N). -> (B, T, C)."""
        parts = []
        if text is not None:
            parts.append(self.cond_emb(text)[:, None])  # (B, 1, C)
        if codes.size(1):
            parts.append(self.tok_emb(codes))  # (B, N, C)
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        return x + self.pos_emb[start:start + x.size(1)].to(x.dtype)

    def _transform(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Both block stacks. x (B, T, C) -> (B, T, C)."""
        for i, block in enumerate(self.base_blocks):
            x = block(x, cache, i)
        for i, block in enumerate(self.head_blocks, start=len(self.base_blocks)):
            x = block(x, cache, i)
        if cache is not None:
            cache.advance(x.size(1))
        return x

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.ln_f(x))  # (B, T, num_vq + 1)

    def null_text(self) -> torch.Tensor:
        """(1, clip_dim) zeros: the "no text" input that condition dropout trains
        (`train-gpt --cond-drop`) and classifier-free guidance contrasts with."""
        return torch.zeros(1, self.config.clip_dim, device=self.device)

    # ---------------------------------------------------------------- input checks

    def _check_text(self, text_features) -> torch.Tensor:
        text = torch.as_tensor(text_features)
        if text.dim() == 1:
            text = text[None]
        if text.dim() != 2 or text.size(1) != self.config.clip_dim:
            raise InputError(f"text features must have shape (batch, {self.config.clip_dim}), got "
                             f"{tuple(text.shape)}; was the text encoded with the encoder this model was trained with?")
        if text.size(0) == 0:
            raise InputError("got an empty batch of text features")
        if not text.is_floating_point():
            raise InputError(f"text features must be floating point, got {text.dtype}")
        if not torch.isfinite(text).all():
            raise InputError("text features contain NaN or inf")
        return text.to(device=self.device, dtype=self.dtype)

    def _check_codes(self, codes, batch: int) -> torch.Tensor:
        codes = torch.as_tensor(codes)
        c = self.config
        if codes.dim() == 1:
            codes = codes[None]
        if codes.dim() != 2 or codes.size(0) != batch:
            raise InputError(f"codes must have shape ({batch}, N) to match the text features, got {tuple(codes.shape)}")
        if codes.size(1) > c.block_size - 1:
            raise InputError(f"{codes.size(1)} codes do not fit: at most block_size - 1 = {c.block_size - 1} "
                             f"codes follow the text token")
        if codes.is_floating_point() or codes.is_complex() or codes.dtype == torch.bool:
            raise InputError(f"codes must be integer indices, got {codes.dtype}")
        v = c.vocab
        if codes.numel() and (codes.min() < 0 or codes.max() > v.pad):
            raise InputError(f"code indices must be in [0, {v.pad}] ({v.nb_code} codes, END={v.end}, "
                             f"PAD={v.pad}), got [{int(codes.min())}, {int(codes.max())}]")
        return codes.to(device=self.device, dtype=torch.long)

    # ---------------------------------------------------------------- generation

    @torch.inference_mode()
    def generate(
        self,
        text_features: torch.Tensor,
        greedy: bool = False,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        min_tokens: int = 0,
        max_tokens: int | None = None,
        seed: int | Sequence[int] | None = None,
        use_cache: bool = True,
        *,
        guidance_scale: float = 1.0,
        prefix=None,
        fixed: Sequence[dict[int, int] | None] | None = None,
        hooks: Sequence[Hook] = (),
        callback: Callable[[DecodeStep], None] | None = None,
    ) -> list[torch.Tensor]:
        """Decode code sequences for a batch of text features (B, clip_dim) (or one (clip_dim,)).

        All prompts are decoded together (`t2mgpt.generator.decoding`); each stops at its own END
        (rows that finished are dropped from the batch). Returns B 1-D long tensors of code
        indices (END excluded), on the model's device; 1 code = 4 frames = 0.2 s at 20 fps.

        - greedy: argmax (as the original `sample(..., if_categorial=False)`); otherwise sample
          from softmax(logits / temperature), restricted to the `top_k` most likely tokens and/or
          the smallest set whose probability reaches `top_p` (never less than the top token).
        - END is never chosen before `min_tokens` codes exist, and never as the very first token:
          an empty motion cannot be decoded (the original crashes there; its evaluation then
          used the single code [1]). So min_tokens=0 and min_tokens=1 behave the same.
        - max_tokens: at most this many codes (default and upper limit: block_size - 1 = 50).
          min_tokens = max_tokens gives an exact length.
        - seed: int (row i uses seed + i), one seed per row, or None (drawn from torch's global
          RNG). Row i's output depends only on its text feature and its seed, not on the other
          rows of the batch (up to float rounding differences between batch sizes, which can
          flip a token only at near-exact ties).
        - guidance_scale: classifier-free guidance, logits = uncond + s * (cond - uncond), with a
          second pass on the null text (1 = off; for GPTs trained with `--cond-drop`).
        - use_cache: False recomputes the whole prefix at every step (the original's way; a
          slow reference for tests and benchmarks). Both give the same result.
        - prefix: codes to continue (one 1-D sequence for all rows, or one per row); fixed: per
          row a {position: code} dict of codes kept where they are. A row does not end before
          its last given code.
        - hooks: `hook(step) -> logits | None` before each choice (constraints, cancellation);
          callback: `callback(step)` after it (streaming). See `t2mgpt.generator.decoding`.

        Runs in eval mode (no dropout) whatever the module's mode; temperature, top_k and
        top_p are ignored when greedy.
        """
        was_training = self.training
        self.eval()
        try:
            return decode(self, text_features, Sampling(greedy, temperature, top_k, top_p, guidance_scale),
                          min_tokens=min_tokens,
                          max_tokens=max_tokens, seed=seed, prefix=prefix, fixed=fixed, hooks=hooks,
                          callback=callback, use_cache=use_cache)
        finally:
            self.train(was_training)

    # ---------------------------------------------------------------- original checkpoints

    @classmethod
    def from_original(cls, path: str | os.PathLike, **hparams) -> "MotionGPT":
        """Load a `{'trans': state_dict}` checkpoint of the original code (e.g. `net_best_fid.pth`).

        hparams use the original names (num_vq, embed_dim, clip_dim, block_size, num_layers,
        n_head, drop_out_rate, fc_rate; the original CLI spellings nb_code, embed_dim_gpt,
        n_head_gpt, ff_rate are accepted too). Sizes not given are read from the weights, and
        given ones are checked against them. n_head leaves no trace in the weights: it defaults
        to the released model's 16 only for width-1024 checkpoints and must be passed otherwise.
        The model is returned in eval mode, on CPU.
        """
        from t2mgpt.io.original import gpt_from_original

        return gpt_from_original(path, **hparams)

    def original_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights in the original code's layout (save as `{'trans': ...}` for its scripts)."""
        from t2mgpt.io.original import gpt_original_state_dict

        return gpt_original_state_dict(self)
