"""The T2M-GPT motion VQ-VAE: encoder -> vector quantizer -> decoder.

Motion features (B, T, D) are encoded into T / 2**down_t discrete codes and decoded back.
`VQVAE.from_original` loads the published checkpoints of the original code.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Sequence

import torch
import torch.nn as nn

from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.tokenizer.config import VQVAEConfig
from t2mgpt.tokenizer.encdec import Decoder, Encoder
from t2mgpt.tokenizer.quantizers import make_quantizer
from t2mgpt.tokenizer.quantizers.base import VectorQuantizer
from t2mgpt.tokenizer.vocab import CodeVocab


class VQVAE(nn.Module):
    """Motion VQ-VAE. Inputs are normalised features (B, T, D); codes are (B, T / downsample)."""

    def __init__(self, config: VQVAEConfig | None = None, **kwargs):
        super().__init__()
        if config is None:
            config = VQVAEConfig(**kwargs)
        elif kwargs:
            config = dataclasses.replace(config, **kwargs)
        self.config = config
        c = config
        conv = dict(output_emb_width=c.output_emb_width, down_t=c.down_t, stride_t=c.stride_t, width=c.width,
                    depth=c.depth, dilation_growth_rate=c.dilation_growth_rate, activation=c.activation, norm=c.norm)
        self.encoder = Encoder(c.input_dim, **conv)
        self.quantizer: VectorQuantizer = make_quantizer(c.quantizer, c.nb_code, c.code_dim, c.mu)
        self.decoder = Decoder(c.input_dim, **conv, lookahead=c.decoder_lookahead)

    # --- input checks ---------------------------------------------------------------------------

    def _check_motion(self, x: torch.Tensor, need_multiple: bool) -> None:
        D, f = self.config.input_dim, self.config.downsample
        if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != D:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InputError(f"expected motion features of shape (batch, frames, {D}), got {shape}")
        if x.shape[1] < f or (need_multiple and x.shape[1] % f):
            rule = "a multiple of" if need_multiple else "at least"
            raise InputError(f"the number of frames must be {rule} {f} (frames per code), got {x.shape[1]}")

    # --- public API -----------------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, T, D) -> (reconstruction (B, T, D), commit_loss (), perplexity ())."""
        self._check_motion(x, need_multiple=True)
        z = self.encoder(x.permute(0, 2, 1).float())  # (B, C, T/4)
        z_q, _, commit_loss, perplexity = self.quantizer(z)  # (B, C, T/4)
        x_hat = self.decoder(z_q).permute(0, 2, 1)  # (B, T, D)
        return x_hat, commit_loss, perplexity

    @property
    def vocab(self) -> CodeVocab:
        return self.config.vocab

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) normalised features -> (B, T // downsample) long code indices."""
        self._check_motion(x, need_multiple=False)
        z = self.encoder(x.permute(0, 2, 1).float())  # (B, C, N)
        was_training = self.quantizer.training
        self.quantizer.eval()  # encoding must never move the codebook
        try:
            return self.quantizer(z)[1]  # (B, N)
        finally:
            self.quantizer.train(was_training)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, N) code indices -> (B, N * downsample, D) normalised features."""
        if codes.ndim == 1:
            codes = codes[None]
        if codes.ndim != 2 or codes.numel() == 0 or codes.dtype.is_floating_point:
            raise InputError(f"expected integer codes of shape (batch, n_codes), got {codes.dtype} {tuple(codes.shape)}")
        self.vocab.check_codes(codes, "code indices")
        z_q = self.quantizer.dequantize(codes.long()).permute(0, 2, 1)  # (B, C, N)
        return self.decoder(z_q).permute(0, 2, 1)  # (B, 4N, D)

    @torch.no_grad()
    def decode_each(self, codes: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Code sequences (1-D, any lengths) -> their (4N, D) normalised features, one at a time.

        One sequence per decoder call: padding would change the result (the convolutions see
        the whole sequence), and batching equal lengths together changes the float rounding
        with the batch size, so a motion would depend on what it was generated with.
        """
        device = self.quantizer.codebook.device
        return [self.decode(c.reshape(1, -1).to(device))[0] for c in codes]

    # --- config and checkpoints ------------------------------------------------------------------

    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    @classmethod
    def from_config_dict(cls, d: dict[str, Any]) -> "VQVAE":
        return cls(VQVAEConfig.from_dict(d))

    def save(self, path: str | os.PathLike) -> None:
        """Write {'kind', 'config', 'model'} atomically (loadable with `VQVAE.load`)."""
        from t2mgpt.utils.io import torch_save_atomic

        torch_save_atomic({"kind": "t2mgpt.vqvae", "config": self.config_dict(), "model": self.state_dict()}, path)

    @classmethod
    def load(cls, path: str | os.PathLike, map_location="cpu") -> "VQVAE":
        """Load a file written by `save`, or an original T2M-GPT checkpoint with default hparams."""
        from t2mgpt.utils.io import safe_torch_load

        obj = safe_torch_load(path, map_location=map_location)
        if isinstance(obj, dict) and "net" in obj:
            return cls.from_original(path)
        if not (isinstance(obj, dict) and obj.get("kind") == "t2mgpt.vqvae" and "config" in obj and "model" in obj):
            raise CheckpointError(f"{path} is not a t2mgpt VQ-VAE file (expected keys 'kind', 'config', 'model')")
        try:
            model = cls.from_config_dict(obj["config"])
            model.load_state_dict(obj["model"])
        except (InputError, RuntimeError, TypeError) as e:
            raise CheckpointError(f"{path}: VQ-VAE weights do not match the stored config: {e}") from e
        return model

    def original_state_dict(self) -> dict[str, torch.Tensor]:
        """Weights in the original layout ('vqvae.encoder.*', ...), i.e. `{'net': this}` loads there."""
        from t2mgpt.io.original import vqvae_original_state_dict

        return vqvae_original_state_dict(self)

    @classmethod
    def from_original(cls, path: str | os.PathLike, **hparams) -> "VQVAE":
        """Load a checkpoint of the original code: `{'net': HumanVQVAE state_dict}`.

        hparams use the original's option names (dataname, nb_code, code_dim, output_emb_width,
        down_t, stride_t, width, depth, dilation_growth_rate, activation/vq_act, norm/vq_norm,
        quantizer, mu). Sizes not given are read from the weights' shapes.
        """
        from t2mgpt.io.original import vqvae_from_original

        return vqvae_from_original(path, **hparams)
