"""Conversion of the original T2M-GPT checkpoints (github.com/Mael-zys/T2M-GPT).

The original VQ-VAE is `{'net': HumanVQVAE state_dict}` (keys 'vqvae.encoder.*', ...) and the
original transformer `{'trans': Text2Motion_Transformer state_dict}` (separate query/key/value,
'trans_base.*'/'trans_head.*'). Hyper-parameters not given are read off the weights' shapes and
given ones are checked against them, so a wrong guess fails with a message instead of loading.
`VQVAE.from_original` / `MotionGPT.from_original` are the public entry points.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import torch

from t2mgpt.data.spec import DATASET_SPECS
from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.generator.config import GPTConfig
from t2mgpt.generator.gpt import MotionGPT
from t2mgpt.tokenizer.config import VQVAEConfig
from t2mgpt.tokenizer.vqvae import VQVAE
from t2mgpt.utils.io import safe_torch_load

DATANAME_DIMS = {s.dataname: s.feature_dim for s in DATASET_SPECS.values()}  # the original's dataname -> D

# ---------------------------------------------------------------------------------------- VQ-VAE


def vqvae_from_original(path: str | os.PathLike, **hparams) -> VQVAE:
    """See `VQVAE.from_original`."""
    sd = _original_net(safe_torch_load(path), path)
    config = _original_config(sd, hparams, path)
    model = VQVAE(config)
    _load_original_weights(model, sd, path)
    return model


def vqvae_original_state_dict(model: VQVAE) -> dict[str, torch.Tensor]:
    """Weights in the original layout ('vqvae.encoder.*', ...): `{'net': this}` loads there."""
    sd = {}
    for k, v in model.state_dict().items():
        if k.startswith(("encoder.", "decoder.")):
            sd["vqvae." + k] = v
    key = "embedding.weight" if model.config.quantizer == "orig" else "codebook"
    sd["vqvae.quantizer." + key] = model.quantizer.codebook.detach()
    return sd


_VQ_ALIASES = {"vq_act": "activation", "vq_norm": "norm"}
_VQ_HPARAMS = {"dataname", *(f.name for f in dataclasses.fields(VQVAEConfig))}


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
    given = {_VQ_ALIASES.get(k, k): v for k, v in hparams.items()}
    unknown = sorted(set(given) - _VQ_HPARAMS)
    if unknown:
        raise InputError(f"unknown VQ-VAE hyper-parameters {unknown}; known: {sorted(_VQ_HPARAMS | set(_VQ_ALIASES))}")
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


# ------------------------------------------------------------------------------------------- GPT


def gpt_from_original(path: str | os.PathLike, **hparams) -> MotionGPT:
    """See `MotionGPT.from_original`."""
    ckpt = safe_torch_load(path)
    sd = _original_trans_state_dict(ckpt, path)
    config = _config_from_original(sd, hparams, path)
    model = MotionGPT(config)
    missing, unexpected = model.load_state_dict(_convert_original(sd, config, path), strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not fit the transformer (missing {missing[:4]}, "
                              f"unexpected {unexpected[:4]}); is it a T2M-GPT transformer checkpoint?")
    return model.eval()



def gpt_original_state_dict(model: MotionGPT) -> dict[str, torch.Tensor]:
    """The weights in the original code's layout (save as `{'trans': ...}` for its scripts)."""
    c = model.config
    sd = {
        "trans_base.tok_emb.weight": model.tok_emb.weight,
        "trans_base.cond_emb.weight": model.cond_emb.weight,
        "trans_base.cond_emb.bias": model.cond_emb.bias,
        # unused by the original forward, but its module expects the key
        "trans_base.pos_embedding.weight": torch.zeros(c.block_size, c.embed_dim),
        "trans_base.pos_embed.embed": model.pos_emb[:, None, :],
    }
    mask = torch.tril(torch.ones(c.block_size, c.block_size)).view(1, 1, c.block_size, c.block_size)
    for stack, blocks in (("trans_base", model.base_blocks), ("trans_head", model.head_blocks)):
        for i, b in enumerate(blocks):
            p = f"{stack}.blocks.{i}."
            q, k, v = b.attn.qkv.weight.chunk(3, dim=0)
            qb, kb, vb = b.attn.qkv.bias.chunk(3, dim=0)
            sd.update({
                p + "ln1.weight": b.ln1.weight, p + "ln1.bias": b.ln1.bias,
                p + "ln2.weight": b.ln2.weight, p + "ln2.bias": b.ln2.bias,
                p + "attn.mask": mask,
                p + "attn.key.weight": k, p + "attn.key.bias": kb,
                p + "attn.query.weight": q, p + "attn.query.bias": qb,
                p + "attn.value.weight": v, p + "attn.value.bias": vb,
                p + "attn.proj.weight": b.attn.proj.weight, p + "attn.proj.bias": b.attn.proj.bias,
                p + "mlp.0.weight": b.mlp.fc.weight, p + "mlp.0.bias": b.mlp.fc.bias,
                p + "mlp.2.weight": b.mlp.proj.weight, p + "mlp.2.bias": b.mlp.proj.bias,
            })
    sd["trans_head.ln_f.weight"] = model.ln_f.weight
    sd["trans_head.ln_f.bias"] = model.ln_f.bias
    sd["trans_head.head.weight"] = model.head.weight
    return {k: v.detach().clone().cpu() for k, v in sd.items()}


_GPT_ALIASES = {"nb_code": "num_vq", "embed_dim_gpt": "embed_dim", "n_head_gpt": "n_head", "ff_rate": "fc_rate"}


def _original_trans_state_dict(ckpt, path) -> dict[str, torch.Tensor]:
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} holds a {type(ckpt).__name__}, not a checkpoint dict of the "
                              f"original T2M-GPT code")
    if "trans" not in ckpt:
        hint = ""
        if "net" in ckpt:
            hint = " It has a 'net' entry: it looks like a VQ-VAE checkpoint; load it with VQVAE.from_original."
        elif any(str(k).startswith("trans_base.") for k in ckpt):
            ckpt = {"trans": ckpt}  # a bare state dict of the transformer
        if "trans" not in ckpt:
            raise CheckpointError(f"{path} has no 'trans' entry (keys: {sorted(map(str, ckpt))[:6]}); it is not an "
                                  f"original T2M-GPT transformer checkpoint.{hint}")
    sd = ckpt["trans"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(f"{path}: 'trans' is not a state dict of tensors")
    sd = {k[len("module."):] if k.startswith("module.") else k: v for k, v in sd.items()}  # DataParallel
    needed = ["trans_base.tok_emb.weight", "trans_base.cond_emb.weight", "trans_base.pos_embed.embed",
              "trans_head.head.weight", "trans_head.ln_f.weight"]
    missing = [k for k in needed if k not in sd]
    if missing:
        raise CheckpointError(f"{path}: 'trans' lacks {missing}; it is not a T2M-GPT transformer state dict")
    for k, v in sd.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise CheckpointError(f"{path}: weight {k} contains NaN or inf; the checkpoint is corrupt")
    return sd


def _config_from_original(sd: dict[str, torch.Tensor], hparams: dict, path) -> GPTConfig:
    given = {}
    names = {f.name for f in dataclasses.fields(GPTConfig)}
    for k, v in hparams.items():
        name = _GPT_ALIASES.get(k, k)
        if name not in names:
            raise InputError(f"unknown hyper-parameter {k!r}; expected some of {sorted(names)}")
        given[name] = v

    def count_blocks(stack: str) -> int:
        ids = {int(m.group(1)) for k in sd for m in [re.match(rf"{stack}\.blocks\.(\d+)\.", k)] if m}
        return len(ids)

    tok, cond, pos = sd["trans_base.tok_emb.weight"], sd["trans_base.cond_emb.weight"], sd["trans_base.pos_embed.embed"]
    embed_dim = tok.shape[1]
    fc = sd.get("trans_base.blocks.0.mlp.0.weight")
    found = {
        "num_vq": (tok.shape[0] - 2, "the code embedding has num_vq + 2 rows"),
        "embed_dim": (embed_dim, "the code embedding width"),
        "clip_dim": (cond.shape[1], "the text projection's input size"),
        "block_size": (pos.shape[0], "the position table length"),
        "num_layers": (count_blocks("trans_base"), "blocks in trans_base"),
    }
    if fc is not None:
        found["fc_rate"] = (fc.shape[0] // embed_dim, "the MLP hidden size / embed_dim")
    for name, (value, why) in found.items():
        if name in given and given[name] != value:
            raise CheckpointError(f"{path} was trained with {name}={value} ({why}), but {name}={given[name]} was "
                                  f"given; the {name} hyper-parameter is probably wrong")
    heads = count_blocks("trans_head")
    if heads != found["num_layers"][0]:
        raise CheckpointError(f"{path} has {found['num_layers'][0]} base blocks but {heads} head blocks; "
                              f"the original uses num_layers blocks in each stack")
    if sd["trans_head.head.weight"].shape[0] != found["num_vq"][0] + 1:
        raise CheckpointError(f"{path}: the output head has {sd['trans_head.head.weight'].shape[0]} classes, "
                              f"expected num_vq + 1 = {found['num_vq'][0] + 1}; the file is inconsistent")
    values = {**{k: v for k, (v, _) in found.items()}, **given}
    if "n_head" not in given and embed_dim != GPTConfig.embed_dim:
        # the head count leaves no trace in the weights: guessing wrong would load silently and be wrong
        raise CheckpointError(f"{path} has embed_dim={embed_dim}, not the released model's {GPTConfig.embed_dim}, "
                              f"so its number of attention heads is unknown: pass n_head=... (the original "
                              f"--n-head-gpt used for training)")
    n_head = values.get("n_head", GPTConfig.n_head)
    if embed_dim % n_head:
        raise CheckpointError(f"embed_dim={embed_dim} is not divisible by n_head={n_head}; "
                              f"the n_head hyper-parameter is probably wrong")
    return GPTConfig(**values)


def _convert_original(sd: dict[str, torch.Tensor], c: GPTConfig, path) -> dict[str, torch.Tensor]:
    """Original key layout -> this module's (fused q/k/v; unused keys dropped)."""

    def get(key: str, shape: tuple[int, ...]) -> torch.Tensor:
        if key not in sd:
            raise CheckpointError(f"{path}: weight {key} is missing; the checkpoint is incomplete")
        t = sd[key].float()
        if tuple(t.shape) != shape:
            raise CheckpointError(f"{path}: {key} has shape {tuple(t.shape)}, expected {shape} for {c}; "
                                  f"check the hyper-parameters (fc_rate? n_head?)")
        return t

    C, V = c.embed_dim, c.num_vq
    out = {
        "tok_emb.weight": get("trans_base.tok_emb.weight", (V + 2, C)),
        "cond_emb.weight": get("trans_base.cond_emb.weight", (C, c.clip_dim)),
        "cond_emb.bias": get("trans_base.cond_emb.bias", (C,)),
        "pos_emb": get("trans_base.pos_embed.embed", (c.block_size, 1, C))[:, 0],
        "ln_f.weight": get("trans_head.ln_f.weight", (C,)),
        "ln_f.bias": get("trans_head.ln_f.bias", (C,)),
        "head.weight": get("trans_head.head.weight", (V + 1, C)),
    }
    H = c.fc_rate * C
    for stack, mine in (("trans_base", "base_blocks"), ("trans_head", "head_blocks")):
        for i in range(c.num_layers):
            p, q = f"{stack}.blocks.{i}.", f"{mine}.{i}."
            for ln in ("ln1", "ln2"):
                out[q + ln + ".weight"] = get(p + ln + ".weight", (C,))
                out[q + ln + ".bias"] = get(p + ln + ".bias", (C,))
            qkv = ("query", "key", "value")  # fused in this order
            out[q + "attn.qkv.weight"] = torch.cat([get(p + f"attn.{n}.weight", (C, C)) for n in qkv])
            out[q + "attn.qkv.bias"] = torch.cat([get(p + f"attn.{n}.bias", (C,)) for n in qkv])
            out[q + "attn.proj.weight"] = get(p + "attn.proj.weight", (C, C))
            out[q + "attn.proj.bias"] = get(p + "attn.proj.bias", (C,))
            out[q + "mlp.fc.weight"] = get(p + "mlp.0.weight", (H, C))
            out[q + "mlp.fc.bias"] = get(p + "mlp.0.bias", (H,))
            out[q + "mlp.proj.weight"] = get(p + "mlp.2.weight", (C, H))
            out[q + "mlp.proj.bias"] = get(p + "mlp.2.bias", (C,))
    return out
