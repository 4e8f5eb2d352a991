"""The T2M-GPT motion VQ-VAE: encoder -> vector quantizer -> decoder.

Motion features (B, T, D) are encoded into T / 2**down_t discrete codes and decoded back.
`VQVAE.from_original` loads the published checkpoints of the original code.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.models.encdec import Decoder, Encoder
from t2mgpt.models.quantizer import QUANTIZERS, VectorQuantizer, make_quantizer
from t2mgpt.models.resnet import ACTIVATIONS, NORMS

DATANAME_DIMS = {"t2m": 263, "kit": 251}  # HumanML3D, KIT-ML feature sizes


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

    def __post_init__(self):
        for name in ("input_dim", "nb_code", "code_dim", "output_emb_width", "width", "down_t", "depth",
                     "dilation_growth_rate"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"VQVAEConfig.{name} must be a positive integer, got {value!r}")
        if self.stride_t != 2:
            raise InputError(f"VQVAEConfig.stride_t must be 2 (the decoder upsamples by 2 per stage), got {self.stride_t!r}")
        if self.code_dim != self.output_emb_width:
            raise InputError(f"code_dim ({self.code_dim}) must equal output_emb_width ({self.output_emb_width}): "
                             "the codes quantize the encoder output")
        if self.activation not in ACTIVATIONS:
            raise InputError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.norm not in NORMS:
            raise InputError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.norm == "GN" and self.width % 32:
            raise InputError(f"norm 'GN' uses 32 groups, so width must be a multiple of 32, got {self.width}")
        if self.quantizer not in QUANTIZERS:
            raise InputError(f"quantizer must be one of {QUANTIZERS}, got {self.quantizer!r}")
        if not 0.0 <= self.mu < 1.0:
            raise InputError(f"mu must be in [0, 1), got {self.mu!r}")

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
        self.decoder = Decoder(c.input_dim, **conv)

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
        z_q, commit_loss, perplexity = self.quantizer(z)  # (B, C, T/4)
        x_hat = self.decoder(z_q).permute(0, 2, 1)  # (B, T, D)
        return x_hat, commit_loss, perplexity

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) normalised features -> (B, T // downsample) long code indices."""
        self._check_motion(x, need_multiple=False)
        z = self.encoder(x.permute(0, 2, 1).float())  # (B, C, N)
        B, C, N = z.shape
        code_idx = self.quantizer.quantize(z.permute(0, 2, 1).reshape(B * N, C))  # (B*N,)
        return code_idx.view(B, N)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, N) code indices -> (B, N * downsample, D) normalised features."""
        if codes.ndim == 1:
            codes = codes[None]
        if codes.ndim != 2 or codes.numel() == 0 or codes.dtype.is_floating_point:
            raise InputError(f"expected integer codes of shape (batch, n_codes), got {codes.dtype} {tuple(codes.shape)}")
        lo, hi = int(codes.min()), int(codes.max())
        if lo < 0 or hi >= self.config.nb_code:
            raise InputError(f"code indices must be in [0, {self.config.nb_code}), got values in [{lo}, {hi}]")
        z_q = self.quantizer.dequantize(codes.long()).permute(0, 2, 1)  # (B, C, N)
        return self.decoder(z_q).permute(0, 2, 1)  # (B, 4N, D)

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
        sd = {}
        for k, v in self.state_dict().items():
            if k.startswith(("encoder.", "decoder.")):
                sd["vqvae." + k] = v
        key = "embedding.weight" if self.config.quantizer == "orig" else "codebook"
        sd["vqvae.quantizer." + key] = self.quantizer.codebook.detach()
        return sd

    @classmethod
    def from_original(cls, path: str | os.PathLike, **hparams) -> "VQVAE":
        """Load a checkpoint of the original code: `{'net': HumanVQVAE state_dict}`.

        hparams use the original's option names (dataname, nb_code, code_dim, output_emb_width,
        down_t, stride_t, width, depth, dilation_growth_rate, activation/vq_act, norm/vq_norm,
        quantizer, mu). Sizes not given are read from the weights' shapes.
        """
        from t2mgpt.utils.io import safe_torch_load

        sd = _original_net(safe_torch_load(path), path)
        config = _original_config(sd, hparams, path)
        model = cls(config)
        _load_original_weights(model, sd, path)
        return model


# -------------------------------------------------------------------------------------------------
# import of original checkpoints

_ALIASES = {"vq_act": "activation", "vq_norm": "norm"}
_HPARAMS = {"dataname", *(f.name for f in dataclasses.fields(VQVAEConfig))}


def _original_net(obj: Any, path) -> dict[str, torch.Tensor]:
    """The HumanVQVAE state_dict inside an original checkpoint, without the 'vqvae.' prefix."""
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not an original T2M-GPT VQ-VAE checkpoint "
                              "(a dict {'net': state_dict})")
    if "net" in obj:
        sd = obj["net"]
    elif "trans" in obj:
        raise CheckpointError(f"{path} is a T2M-GPT transformer checkpoint ('trans'), not a VQ-VAE one "
                              "(the VQ-VAE is usually VQVAE_*/net_last.pth)")
    elif obj.get("kind") == "t2mgpt.vqvae":
        raise CheckpointError(f"{path} is a t2mgpt VQ-VAE file, not an original one: load it with VQVAE.load")
    else:
        sd = obj
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(f"{path} is not an original T2M-GPT VQ-VAE checkpoint: expected {{'net': state_dict}}, "
                              f"found keys {sorted(map(str, obj))[:8]}")
    sd = {(k[len("vqvae."):] if k.startswith("vqvae.") else k): v for k, v in sd.items()}
    if "encoder.model.0.weight" not in sd or not any(k.startswith("quantizer.") for k in sd):
        raise CheckpointError(f"{path} is not a T2M-GPT VQ-VAE checkpoint: no 'vqvae.encoder.*' / "
                              f"'vqvae.quantizer.*' weights (found e.g. {sorted(sd)[:5]})")
    return sd


def _infer_sizes(sd: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Hyper-parameters that can be read off the weight shapes."""
    width, input_dim, _ = sd["encoder.model.0.weight"].shape
    down_t = 0
    while f"encoder.model.{2 + down_t}.0.weight" in sd:
        down_t += 1
    out = dict(input_dim=int(input_dim), width=int(width), down_t=down_t)
    if down_t:
        out["stride_t"] = int(sd["encoder.model.2.0.weight"].shape[-1]) // 2
        out["depth"] = sum(1 for k in sd if k.startswith("encoder.model.2.1.model.") and k.endswith(".conv1.weight"))
    last = sd.get(f"encoder.model.{2 + down_t}.weight")
    if last is not None:
        out["output_emb_width"] = int(last.shape[0])
    codebook = sd.get("quantizer.codebook", sd.get("quantizer.embedding.weight"))
    if codebook is not None and codebook.ndim == 2:
        out["nb_code"], out["code_dim"] = map(int, codebook.shape)
    if "quantizer.embedding.weight" in sd:
        out["quantizer"] = "orig"
    if any(k.endswith("norm1.running_mean") for k in sd):
        out["norm"] = "BN"
    elif not any(k.endswith("norm1.weight") for k in sd):
        out["norm"] = None
    return out


def _original_config(sd: dict[str, torch.Tensor], hparams: dict[str, Any], path) -> VQVAEConfig:
    given = {_ALIASES.get(k, k): v for k, v in hparams.items()}
    unknown = sorted(set(given) - _HPARAMS)
    if unknown:
        raise InputError(f"unknown VQ-VAE hyper-parameters {unknown}; known: {sorted(_HPARAMS | set(_ALIASES))}")
    if "dataname" in given:
        dataname = given.pop("dataname")
        if dataname not in DATANAME_DIMS:
            raise InputError(f"dataname must be one of {sorted(DATANAME_DIMS)}, got {dataname!r}")
        given.setdefault("input_dim", DATANAME_DIMS[dataname])
    inferred = _infer_sizes(sd)
    wrong = [f"{k}={given[k]!r} was given but the weights have {k}={v!r}"
             for k, v in inferred.items() if k in given and given[k] != v]
    if wrong:
        hint = ""
        if any(w.startswith("input_dim") for w in wrong):
            names = {d: n for n, d in DATANAME_DIMS.items()}
            hint = f" (input_dim {inferred['input_dim']} is dataname={names.get(inferred['input_dim'], '?')!r})"
        raise CheckpointError(f"{path} does not match the given hyper-parameters: " + "; ".join(wrong) + hint)
    if "norm" not in inferred and "norm" not in given:
        raise CheckpointError(f"{path} has normalisation layers: pass norm='LN' or norm='GN' (vq_norm in the original)")
    if given.get("quantizer") == "orig" and "quantizer" not in inferred:
        raise CheckpointError(f"{path} has an EMA/reset codebook ('quantizer.codebook'), not the 'orig' "
                              "quantizer's embedding: drop quantizer='orig'")
    try:
        return VQVAEConfig(**{**inferred, **given})
    except InputError as e:
        raise CheckpointError(f"{path}: the weights imply an unsupported VQ-VAE configuration: {e}") from e


def _load_original_weights(model: VQVAE, sd: dict[str, torch.Tensor], path) -> None:
    codebook = sd.get("quantizer.codebook", sd.get("quantizer.embedding.weight"))
    extra_q = sorted(k for k in sd if k.startswith("quantizer.") and k not in
                     ("quantizer.codebook", "quantizer.embedding.weight"))
    for name in ("encoder", "decoder"):
        part = {k[len(name) + 1:]: v for k, v in sd.items() if k.startswith(name + ".")}
        try:
            getattr(model, name).load_state_dict(part, strict=True)
        except RuntimeError as e:
            raise CheckpointError(
                f"{path}: the {name} weights do not fit a VQ-VAE with {model.config}: "
                f"{str(e).splitlines()[-1].strip()} (check depth, down_t, width, norm, dataname)") from e
    others = sorted(k for k in sd if not k.startswith(("encoder.", "decoder.", "quantizer.")))
    if others or extra_q:
        raise CheckpointError(f"{path} has unexpected weights {(others + extra_q)[:5]}: not a T2M-GPT VQ-VAE")
    if codebook is None or tuple(codebook.shape) != (model.config.nb_code, model.config.code_dim):
        raise CheckpointError(f"{path}: codebook shape {None if codebook is None else tuple(codebook.shape)} does not "
                              f"match nb_code={model.config.nb_code}, code_dim={model.config.code_dim}")
    if not all(torch.isfinite(v).all() for v in sd.values() if v.is_floating_point()):
        raise CheckpointError(f"{path} contains NaN or infinite weights (a diverged or corrupt checkpoint)")
    model.quantizer.load_codebook(codebook.float())
