"""config.json of a model folder: the format, `ModelConfig`, and the checks that run before any
weight is allocated (types, sane bounds, parts that fit together).

A config.json comes from a downloaded folder, so it is untrusted: every value is type-checked
and bounded here (a tampered `nb_code` of 10^9 or `num_layers` of 10^6 is refused with one line,
not an allocation of gigabytes or an hour-long build); `t2mgpt.io.weights` then checks the
sizes against the weights' shapes before allocating.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from t2mgpt.data.spec import HUMANML3D, canonical_dataset, get_dataset_spec, spec_for_dim
from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.utils.checks import check_candidates, check_guidance_scale
from t2mgpt.io.card import ModelCard

FORMAT = "t2mgpt-model"
FORMAT_VERSION = 1

CONFIG_FILE = "config.json"
VQVAE_FILE = "vqvae.safetensors"
GPT_FILE = "gpt.safetensors"
MEAN_FILE = "mean.npy"
STD_FILE = "std.npy"
CARD_FILE = "README.md"

# Largest sizes a model folder may ask for: far above the paper's (512 codes, width 512/1024,
# 9+9 layers, 51 positions), far below what exhausts memory or hangs building the model.
VQVAE_LIMITS = {"input_dim": 4096, "nb_code": 65536, "code_dim": 4096, "output_emb_width": 4096, "width": 4096,
                "down_t": 6, "stride_t": 8, "depth": 32, "dilation_growth_rate": 16}
GPT_LIMITS = {"num_vq": 65536, "embed_dim": 8192, "clip_dim": 4096, "block_size": 4096, "num_layers": 128,
              "n_head": 256, "fc_rate": 16}
MAX_DILATION = 4096  # dilation_growth_rate ** (depth - 1): the convolutions' padding grows with it
MAX_FPS = 1000.0


def _check_int(part: str, name: str, value: Any, high: int) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return f"{part}.{name} must be an integer, got {value!r}"
    if not 1 <= value <= high:
        return f"{part}.{name} must be in 1..{high}, got {value}"
    return None


def _check_part(part: str, d: dict[str, Any], limits: dict[str, int]) -> list[str]:
    problems = [_check_int(part, k, d[k], high) for k, high in limits.items() if k in d]
    for k, v in d.items():
        if k not in limits and not (v is None or isinstance(v, (str, int, float))):
            problems.append(f"{part}.{k} must be a number, string or null, got {type(v).__name__}")
        elif isinstance(v, float) and not math.isfinite(v):
            problems.append(f"{part}.{k} must be finite, got {v!r}")
    return [p for p in problems if p]


def check_sizes(vqvae: Any, gpt: Any) -> None:
    """Types and bounds of the VQ-VAE and GPT sizes, before anything is built (InputError)."""
    problems = []
    for part, d, limits in (("vqvae", vqvae, VQVAE_LIMITS), ("gpt", gpt, GPT_LIMITS)):
        if not isinstance(d, dict):
            problems.append(f"{part} must be an object of hyper-parameters, got {type(d).__name__}")
        else:
            problems += _check_part(part, d, limits)
    if not problems:
        rate, depth = vqvae.get("dilation_growth_rate", 3), vqvae.get("depth", 3)
        if rate ** (depth - 1) > MAX_DILATION:
            problems.append(f"vqvae dilation_growth_rate ** (depth - 1) = {rate}**{depth - 1} exceeds {MAX_DILATION}")
    if problems:
        raise InputError("; ".join(problems))


@dataclass
class ModelConfig:
    """config.json of a model folder. `check()` verifies that the parts fit together."""

    vqvae: dict[str, Any]  # VQVAEConfig fields
    gpt: dict[str, Any]  # GPTConfig fields
    text_encoder: str  # "minilm", "clip-vit-b-32" or "hashing"
    text_dim: int
    dataset: str = HUMANML3D.name
    text_encoder_path: str | None = None  # where the encoder's weights were (a hint, e.g. CLIP)
    fps: float = HUMANML3D.fps
    skeleton: str = HUMANML3D.skeleton
    unit_length: int = HUMANML3D.unit_length  # motion frames per code
    mean_file: str = MEAN_FILE
    std_file: str = STD_FILE
    card: ModelCard = field(default_factory=ModelCard)
    t2mgpt_version: str = ""
    guidance_scale: float = 1.0  # the classifier-free guidance the model is meant to sample with (1: none)
    candidates: int = 1  # best-of-k sampling by default (t2mgpt.rerank; 1: none)

    def vqvae_config(self):
        from t2mgpt.tokenizer.config import VQVAEConfig

        return VQVAEConfig.from_dict(self.vqvae)

    def gpt_config(self):
        from t2mgpt.generator.config import GPTConfig

        known = {f.name for f in dataclasses.fields(GPTConfig)}
        unknown = sorted(set(self.gpt) - known)
        if unknown:
            raise InputError(f"unknown GPT config keys {unknown}; known: {sorted(known)}")
        return GPTConfig(**self.gpt)

    @property
    def feature_dim(self) -> int:
        return get_dataset_spec(self.dataset).feature_dim

    @property
    def max_tokens(self) -> int:
        return int(self.gpt["block_size"]) - 1

    @property
    def seconds_per_token(self) -> float:
        return self.unit_length / self.fps

    def tokens_for_seconds(self, seconds: float) -> int:
        """The code count for a duration (nearest multiple of the code length), checked."""
        lo, hi = self.seconds_per_token, self.max_tokens * self.seconds_per_token
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds):
            raise InputError(f"seconds must be a number, got {seconds!r}")
        if not lo - 1e-9 <= seconds <= hi + 1e-9:
            raise InputError(f"seconds must be between {lo:g} and {hi:g} for this model (it makes 1 to "
                             f"{self.max_tokens} codes of {lo:g} s), got {seconds:g}")
        return min(max(int(math.floor(seconds / lo + 0.5)), 1), self.max_tokens)

    def check(self) -> "ModelConfig":
        """Raise InputError if the VQ-VAE, GPT, text encoder and dataset do not fit together."""
        from t2mgpt.text import TEXT_ENCODER_DIMS, canonical_name

        self.dataset = canonical_dataset(self.dataset)
        check_sizes(self.vqvae, self.gpt)
        vq, gpt = self.vqvae_config(), self.gpt_config()
        problems = []
        try:
            self.text_encoder = canonical_name(self.text_encoder)
        except InputError as e:
            problems.append(str(e))
        encoder_dim = TEXT_ENCODER_DIMS.get(self.text_encoder, self.text_dim)  # any-size encoders: the config's
        must_match = [  # (a size of one part, the size of another that must equal it, the problem)
            (vq.input_dim, self.feature_dim,
             f"the VQ-VAE takes {vq.input_dim}-d features but {self.dataset} motions have {self.feature_dim}"),
            (gpt.num_vq, vq.nb_code,
             f"the GPT predicts {gpt.num_vq} codes (num_vq) but the VQ-VAE codebook has {vq.nb_code} (nb_code)"),
            (encoder_dim, self.text_dim,
             f"the {self.text_encoder} text encoder gives {encoder_dim}-d features, not {self.text_dim}"),
            (gpt.clip_dim, self.text_dim, f"the GPT takes {gpt.clip_dim}-d text features (clip_dim) but the text "
                                          f"encoder {self.text_encoder!r} gives {self.text_dim}"),
            (self.unit_length, vq.downsample,
             f"unit_length {self.unit_length} differs from the VQ-VAE's frames per code {vq.downsample}"),
        ]
        problems += [problem for size, expected, problem in must_match if size != expected]
        if not (isinstance(self.fps, (int, float)) and 0 < self.fps <= MAX_FPS):
            problems.append(f"fps must be in (0, {MAX_FPS:g}], got {self.fps!r}")
        try:
            check_guidance_scale(self.guidance_scale)
        except InputError as e:
            problems.append(f"sampling.{e}")
        try:
            check_candidates(self.candidates)
        except InputError as e:
            problems.append(f"sampling.{e}")
        for name in (self.mean_file, self.std_file):
            if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
                problems.append(f"normalisation file {name!r} must be a plain file name inside the folder")
        if problems:
            raise InputError("inconsistent model configuration: " + "; ".join(problems))
        return self

    def to_dict(self) -> dict[str, Any]:
        from t2mgpt import __version__

        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "t2mgpt_version": __version__,
            "dataset": self.dataset,
            "feature_dim": self.feature_dim,
            "skeleton": self.skeleton,
            "fps": self.fps,
            "unit_length": self.unit_length,
            "text_encoder": {"name": self.text_encoder, "dim": self.text_dim, "path": self.text_encoder_path},
            "vqvae": dict(self.vqvae),
            "gpt": dict(self.gpt),
            "normalization": {"mean": self.mean_file, "std": self.std_file},
            "sampling": {"guidance_scale": self.guidance_scale, "candidates": self.candidates},
            "weights": {"vqvae": VQVAE_FILE, "gpt": GPT_FILE},
            "card": dataclasses.asdict(self.card),
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = CONFIG_FILE, check: bool = True) -> "ModelConfig":
        """`check=False` skips the check that the parts fit together (it imports torch); types,
        bounds and the dataset kind are checked either way."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            found = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise CheckpointError(f"{where} is not a t2mgpt model config (format {found!r}, expected {FORMAT!r})")
        version = d.get("format_version")
        if version != FORMAT_VERSION:
            newer = isinstance(version, int) and version > FORMAT_VERSION
            hint = "it was made by a newer t2mgpt: upgrade (pip install -U t2mgpt)" if newer else "unsupported version"
            raise CheckpointError(f"{where} has model format version {version!r}; this t2mgpt reads version "
                                  f"{FORMAT_VERSION} ({hint})")
        try:
            _check_fields(d)
        except InputError as e:
            raise CheckpointError(f"{where} is incomplete or malformed: {e}") from None
        try:
            text, norm = d["text_encoder"], d.get("normalization", {})
            cfg = cls(
                vqvae=dict(d["vqvae"]), gpt=dict(d["gpt"]),
                text_encoder=text["name"], text_dim=text["dim"], text_encoder_path=text.get("path"),
                dataset=d["dataset"], fps=float(d.get("fps", _default_fps(d["dataset"]))),
                skeleton=d.get("skeleton", d["dataset"]), unit_length=d.get("unit_length", 4),
                mean_file=norm.get("mean", MEAN_FILE), std_file=norm.get("std", STD_FILE),
                card=ModelCard.from_dict(d.get("card")), t2mgpt_version=str(d.get("t2mgpt_version", "")),
                guidance_scale=d.get("sampling", {}).get("guidance_scale", 1.0),
                candidates=d.get("sampling", {}).get("candidates", 1),
            )
            if not check:
                cfg.dataset = canonical_dataset(cfg.dataset)
                check_sizes(cfg.vqvae, cfg.gpt)
                if not (isinstance(cfg.fps, float) and 0 < cfg.fps <= MAX_FPS):
                    raise InputError(f"fps must be in (0, {MAX_FPS:g}], got {cfg.fps!r}")
                check_guidance_scale(cfg.guidance_scale)
                check_candidates(cfg.candidates)
                return cfg
            return cfg.check()
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, InputError):
                raise CheckpointError(f"{where}: {e}") from e
            raise CheckpointError(f"{where} is incomplete or malformed ({type(e).__name__}: {e})") from e


# (key, types it may have, whether it must be there)
_FIELDS = (("dataset", str, True), ("vqvae", dict, True), ("gpt", dict, True), ("text_encoder", dict, True),
           ("fps", (int, float), False), ("skeleton", str, False), ("unit_length", int, False),
           ("normalization", dict, False), ("sampling", dict, False), ("card", (dict, type(None)), False))


def _check_fields(d: dict[str, Any]) -> None:
    """The types config.json's fields must have (InputError naming the first wrong one)."""
    def need(where: str, value: Any, types, what: str) -> None:
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
            raise InputError(f"{where} must be {what}, got {type(value).__name__} {_short(value)}")

    for key, types, required in _FIELDS:
        if key in d:
            need(key, d[key], types, _describe(types))
        elif required:
            raise InputError(f"the field {key!r} is missing")
    text = d["text_encoder"]
    need("text_encoder.name", text.get("name"), str, "a string")
    need("text_encoder.dim", text.get("dim"), int, "an integer")
    need("text_encoder.path", text.get("path"), (str, type(None)), "a string or null")
    for key, value in d.get("normalization", {}).items():
        need(f"normalization.{key}", value, str, "a file name")


def _as_tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _describe(types) -> str:
    names = {str: "a string", dict: "an object", int: "an integer", float: "a number", type(None): "null"}
    types = _as_tuple(types)
    return " or ".join(dict.fromkeys(names[t] for t in types if not (t is int and float in types)))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _default_fps(dataset: Any) -> float:
    try:
        return get_dataset_spec(dataset).fps
    except InputError:
        return HUMANML3D.fps  # check() rejects the kind with a clear message


def make_config(vqvae_config, gpt_config, text_encoder: str, text_dim: int, dataset: str | None = None,
                text_encoder_path: str | None = None, card: ModelCard | None = None,
                fps: float | None = None, guidance_scale: float = 1.0) -> ModelConfig:
    """A checked ModelConfig from the parts' configs (dataset inferred from the feature size)."""
    if dataset is None:
        try:
            spec = spec_for_dim(vqvae_config.input_dim)
        except InputError:
            raise InputError(f"the VQ-VAE takes {vqvae_config.input_dim}-d features: no dataset kind has that "
                             "size (263 = humanml3d, 251 = kit)") from None
    else:
        spec = get_dataset_spec(dataset)
    from t2mgpt.text import canonical_name

    return ModelConfig(
        vqvae=vqvae_config.to_dict(), gpt=dataclasses.asdict(gpt_config),
        text_encoder=canonical_name(text_encoder), text_dim=int(text_dim), text_encoder_path=text_encoder_path,
        dataset=spec.name, fps=float(fps or spec.fps), skeleton=spec.skeleton,
        unit_length=vqvae_config.downsample, card=card or ModelCard(), guidance_scale=guidance_scale,
    ).check()

