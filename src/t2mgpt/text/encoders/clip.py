"""CLIP ViT-B/32 text encoder, as used by the paper: 512-d, `clip_model.encode_text(
clip.tokenize(text, truncate=True))` = the EOT token after the final layer norm, projected.

Weights are never downloaded. They are looked up, in order, in:
  1. `path`, or else the environment variable T2MGPT_CLIP_PATH, which may be
     a. a Hugging Face folder (e.g. a saved `openai/clip-vit-base-patch32`: a full `CLIPModel`
        or a `CLIPTextModelWithProjection`, with its tokenizer files), or
     b. an OpenAI / OpenCLIP checkpoint file (`ViT-B-32.pt` TorchScript archive as downloaded by
        `clip.load`, whose tensors are read as data without running its code; a plain state dict
        `.pt`/`.pth`/`.bin` read with weights_only=True; or `open_clip_model.safetensors`);
        the BPE vocabulary comes from `bpe_simple_vocab_16e6.txt.gz`, `vocab.json`+`merges.txt`
        or `tokenizer.json` beside the file, or from an installed `clip` / `open_clip` package;
  2. the Hugging Face cache (`local_files_only=True`) for `openai/clip-vit-base-patch32`;
  3. `~/.cache/clip/ViT-B-32.pt`, where the original code's `clip.load` keeps it (as in 1b).

The features are computed in float32; the original code ran CLIP in float16 on the GPU, so
its features differ from these by float16 rounding (~1e-3 relative).
"""
from __future__ import annotations

import gzip
import html
import os
import re
from pathlib import Path

import torch

from t2mgpt.errors import CheckpointError
from t2mgpt.text.encoders import register
from t2mgpt.text.encoders.base import TextEncoder, quiet_transformers, tokenize

CLIP_REPO_ID = "openai/clip-vit-base-patch32"
CLIP_PATH_ENV = "T2MGPT_CLIP_PATH"
OPENAI_CACHE_FILE = "~/.cache/clip/ViT-B-32.pt"  # where `clip.load("ViT-B/32")` saves it
BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"
_HOW_TO_GET = (
    "The CLIP ViT-B/32 weights are not downloaded at run time. On a machine with internet run\n"
    f"    huggingface-cli download {CLIP_REPO_ID} --local-dir clip-vit-b-32\n"
    "copy the folder here and pass --clip-path clip-vit-b-32 (or set T2MGPT_CLIP_PATH); an\n"
    "OpenAI ViT-B-32.pt with bpe_simple_vocab_16e6.txt.gz beside it works too. Or use the\n"
    "offline default text encoder: --text-encoder minilm."
)


@register("clip-vit-b-32", dim=512, aliases=("clip", "clip-vit-b/32", "vit-b/32"))
class CLIPEncoder(TextEncoder):
    def __init__(self, model, tokenizer, source: str = "", device=None):
        self.model = model.eval().requires_grad_(False)  # CLIPTextModelWithProjection
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "right"
        self.dim = model.text_projection.out_features
        self.max_tokens = model.config.max_position_embeddings  # 77, the CLIP context length
        self.source = source
        self.device = torch.device("cpu")
        if device is not None:
            self.to(device)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, device=None, cache_dir=None) -> "CLIPEncoder":
        path = path if path is not None else os.environ.get(CLIP_PATH_ENV) or None
        if path is None:
            openai_file = Path(OPENAI_CACHE_FILE).expanduser()
            try:
                return cls._from_hf(CLIP_REPO_ID, device, cache_dir=cache_dir)
            except CheckpointError as e:
                if not openai_file.is_file():
                    raise CheckpointError(
                        f"CLIP weights not found: {CLIP_REPO_ID} is not in the Hugging Face cache "
                        f"({cache_dir or _hf_cache_dir()}) and {openai_file} does not exist.\n{_HOW_TO_GET}"
                    ) from e
            return cls._from_openai(openai_file, device)
        p = Path(path).expanduser()
        if p.is_dir():
            return cls._from_hf(p, device)
        if p.is_file():
            return cls._from_openai(p, device)
        raise CheckpointError(f"CLIP weights not found: {p} does not exist.\n{_HOW_TO_GET}")

    @classmethod
    def _from_hf(cls, where, device, cache_dir=None) -> "CLIPEncoder":
        from transformers import CLIPTextModelWithProjection, CLIPTokenizer

        what = f"the folder {where}" if isinstance(where, Path) else f"the Hugging Face cache ({where})"
        with quiet_transformers():
            try:
                tokenizer = CLIPTokenizer.from_pretrained(where, local_files_only=True, cache_dir=cache_dir)
                model, info = CLIPTextModelWithProjection.from_pretrained(  # safetensors only: no pickles
                    where, local_files_only=True, cache_dir=cache_dir, output_loading_info=True, use_safetensors=True
                )
            except (OSError, ValueError, TypeError, KeyError, RuntimeError) as e:
                raise CheckpointError(f"no usable CLIP text model in {what}: {_first_line(e)}\n{_HOW_TO_GET}") from e
        if len(tokenizer) != model.config.vocab_size:
            raise CheckpointError(
                f"{what}: the tokenizer has {len(tokenizer)} tokens but the CLIP text model expects "
                f"{model.config.vocab_size}; save the tokenizer (vocab.json + merges.txt) that belongs to it"
            )
        missing = [k for k in info["missing_keys"] if "position_ids" not in k]
        if missing or info.get("mismatched_keys"):
            raise CheckpointError(
                f"{what} holds an incomplete CLIP text model (missing {sorted(missing)[:3]}, "
                f"mismatched {list(info.get('mismatched_keys') or [])[:3]})"
            )
        return cls(model, tokenizer, source=str(where), device=device)

    @classmethod
    def _from_openai(cls, file: Path, device) -> "CLIPEncoder":
        from transformers import CLIPTextModelWithProjection

        sd = _load_openai_state_dict(file)
        try:
            config, hf_sd = openai_to_hf_text(sd)
        except KeyError as e:
            raise CheckpointError(f"{file} is an incomplete OpenAI CLIP checkpoint: it lacks {e}") from e
        tokenizer = _tokenizer_beside(file)
        if len(tokenizer) != config.vocab_size:
            raise CheckpointError(
                f"the tokenizer found for {file} has {len(tokenizer)} tokens but the weights expect "
                f"{config.vocab_size}; use the BPE vocabulary that belongs to these weights"
            )
        model = CLIPTextModelWithProjection(config)
        missing, unexpected = model.load_state_dict(hf_sd, strict=False)
        missing = [k for k in missing if "position_ids" not in k]
        if missing or unexpected:
            raise CheckpointError(
                f"{file}: CLIP text weights do not fit (missing {missing[:3]}, unexpected {unexpected[:3]})"
            )
        return cls(model, tokenizer, source=str(file), device=device)

    def _encode(self, texts: list[str]) -> torch.Tensor:
        texts = [_clean(t) for t in texts]
        batch = tokenize(self.tokenizer, texts, self.max_tokens, self.name, self.device)
        mask = batch["attention_mask"]
        h = self.model.text_model(input_ids=batch["input_ids"], attention_mask=mask).last_hidden_state
        # the EOT token closes every text (padding comes after it): like the original's
        # `x[arange, text.argmax(-1)]`, independent of the config's eos_token_id quirks.
        eot = h[torch.arange(h.shape[0], device=h.device), mask.sum(1) - 1]  # (B, width)
        return self.model.text_projection(eot)  # (B, dim)

    def to(self, device) -> "CLIPEncoder":
        self.device = torch.device(device)
        self.model.to(self.device)
        return self


def _clean(text: str) -> str:
    """The original tokenizer's clean-up (ftfy when installed, HTML unescape, whitespace);
    lower-casing and NFC are done by the tokenizer's normaliser."""
    try:
        import ftfy

        text = ftfy.fix_text(text)
    except ImportError:
        pass
    text = html.unescape(html.unescape(text))
    return re.sub(r"\s+", " ", text).strip()


# ---- OpenAI / OpenCLIP checkpoints -----------------------------------------------------


def _load_openai_state_dict(file: Path) -> dict[str, torch.Tensor]:
    import zipfile

    from t2mgpt.utils.io import safe_torch_load
    from t2mgpt.utils.torch_archive import is_torchscript_archive, read_torchscript_tensors

    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            sd = load_file(str(file))
        except Exception as e:  # safetensors raises its own error types
            raise CheckpointError(f"{file} is not a readable safetensors file: {e}") from e
    elif zipfile.is_zipfile(file) and is_torchscript_archive(file):
        # the file `clip.load` downloads is a TorchScript archive: its tensors are read as data,
        # its code is never run (torch.jit.load would run any __setstate__ it holds)
        sd = read_torchscript_tensors(file)
    else:
        sd = safe_torch_load(file)
        if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
            sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise CheckpointError(f"{file} does not hold a CLIP state dict")
    return {k.removeprefix("module."): v for k, v in sd.items() if isinstance(v, torch.Tensor)}


def openai_to_hf_text(sd: dict[str, torch.Tensor]):
    """OpenAI CLIP state dict -> (CLIPTextConfig, CLIPTextModelWithProjection state dict).

    The text tower's shape gives the config; heads = width // 64 as in OpenAI's `build_model`.
    """
    from transformers import CLIPTextConfig

    need = ["token_embedding.weight", "positional_embedding", "ln_final.weight", "text_projection"]
    if any(k not in sd for k in need):
        raise CheckpointError(f"not an OpenAI CLIP checkpoint: it lacks {[k for k in need if k not in sd]}")
    sd = {k: v.float() for k, v in sd.items()}
    width = sd["ln_final.weight"].shape[0]
    layers = len({k.split(".")[2] for k in sd if k.startswith("transformer.resblocks.")})
    config = CLIPTextConfig(
        vocab_size=sd["token_embedding.weight"].shape[0],
        hidden_size=width,
        intermediate_size=sd["transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
        projection_dim=sd["text_projection"].shape[1],
        num_hidden_layers=layers,
        num_attention_heads=max(1, width // 64),
        max_position_embeddings=sd["positional_embedding"].shape[0],
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
        bos_token_id=sd["token_embedding.weight"].shape[0] - 2,
        eos_token_id=sd["token_embedding.weight"].shape[0] - 1,
    )
    out = {
        "text_model.embeddings.token_embedding.weight": sd["token_embedding.weight"],
        "text_model.embeddings.position_embedding.weight": sd["positional_embedding"],
        "text_model.final_layer_norm.weight": sd["ln_final.weight"],
        "text_model.final_layer_norm.bias": sd["ln_final.bias"],
        "text_projection.weight": sd["text_projection"].t().contiguous(),  # x @ P == Linear(P.T)
    }
    for i in range(layers):
        src, dst = f"transformer.resblocks.{i}.", f"text_model.encoder.layers.{i}."
        for a, b in [("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"), ("mlp.c_fc", "mlp.fc1"),
                     ("mlp.c_proj", "mlp.fc2"), ("attn.out_proj", "self_attn.out_proj")]:
            out[dst + b + ".weight"] = sd[src + a + ".weight"]
            out[dst + b + ".bias"] = sd[src + a + ".bias"]
        qw, kw, vw = sd[src + "attn.in_proj_weight"].chunk(3)
        qb, kb, vb = sd[src + "attn.in_proj_bias"].chunk(3)
        for n, w, b in [("q", qw, qb), ("k", kw, kb), ("v", vw, vb)]:
            out[dst + f"self_attn.{n}_proj.weight"] = w
            out[dst + f"self_attn.{n}_proj.bias"] = b
    return config, out


def _tokenizer_beside(file: Path):
    from transformers import CLIPTokenizer

    folder = file.parent
    if (folder / "tokenizer.json").is_file() or (folder / "vocab.json").is_file():
        with quiet_transformers():
            return CLIPTokenizer.from_pretrained(folder, local_files_only=True)
    for bpe in [folder / BPE_FILE, *_packaged_bpe_files()]:
        if bpe.is_file():
            return tokenizer_from_bpe(bpe)
    raise CheckpointError(
        f"no CLIP tokenizer for {file}: put {BPE_FILE} (from the openai/CLIP repository) or "
        f"vocab.json + merges.txt beside it, or pip install the `clip` package"
    )


def _packaged_bpe_files() -> list[Path]:
    import importlib.util

    found = []
    for pkg in ("clip", "open_clip"):
        spec = importlib.util.find_spec(pkg)
        if spec is not None and spec.origin:
            found.append(Path(spec.origin).parent / BPE_FILE)
    return found


def tokenizer_from_bpe(bpe: Path):
    """OpenAI's `bpe_simple_vocab_16e6.txt.gz` -> an equivalent `CLIPTokenizer` (same ids as
    `clip.simple_tokenizer.SimpleTokenizer`: bytes, bytes+</w>, merges, then the 2 specials)."""
    from transformers import CLIPTokenizer

    try:
        lines = gzip.open(bpe, "rt", encoding="utf-8").read().split("\n")
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{bpe} is not a gzipped BPE merges file: {e}") from e
    merges = [tuple(m.split()) for m in lines[1 : 49152 - 256 - 2 + 1] if m.strip()]
    symbols = list(_bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={t: i for i, t in enumerate(vocab)}, merges=merges, model_max_length=77)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte -> printable unicode char table."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _hf_cache_dir() -> str:
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
