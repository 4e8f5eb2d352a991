"""Model folders: one directory holding everything a text-to-motion model needs.

    my-model/
      config.json        format + version, VQ-VAE and GPT configs, text encoder, dataset, fps, ...
      vqvae.safetensors  motion tokenizer weights
      gpt.safetensors    text-conditioned code GPT weights
      mean.npy, std.npy  feature normalisation statistics (D,)
      README.md          model card: data, licence, metrics

Weights are safetensors, so loading a folder never runs code. A name (not a path) resolves to
a bundled model (`t2mgpt/models_bundled/<name>/`) and then to a locally saved one
(`$T2MGPT_HOME/models/<name>`, default `~/.cache/t2mgpt/models/<name>`).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from t2mgpt.data.spec import canonical_dataset, get_dataset_spec, spec_for_dim
from t2mgpt.errors import CheckpointError, InputError

FORMAT = "t2mgpt-model"
FORMAT_VERSION = 1
DEFAULT_MODEL = "t2mgpt-cmu-demo"

CONFIG_FILE = "config.json"
VQVAE_FILE = "vqvae.safetensors"
GPT_FILE = "gpt.safetensors"
MEAN_FILE = "mean.npy"
STD_FILE = "std.npy"
CARD_FILE = "README.md"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


# ------------------------------------------------------------------------------------ config


def _default_fps(dataset) -> float:
    try:
        return get_dataset_spec(dataset).fps
    except InputError:
        return 20.0  # check() rejects the kind with a clear message


@dataclass
class ModelCard:
    """What goes into README.md (and config.json, so that re-saving keeps it)."""

    name: str = "t2mgpt model"
    description: str = "A T2M-GPT text-to-motion model (VQ-VAE motion tokenizer + GPT)."
    trained_on: str = "unknown"
    license: str = "unknown"
    metrics: dict[str, Any] = field(default_factory=dict)
    evaluation: str = ""  # markdown table of `t2mgpt evaluate` results (t2mgpt.eval.report)
    notes: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "ModelCard":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in known})


@dataclass
class ModelConfig:
    """config.json of a model folder. `check()` verifies that the parts fit together."""

    vqvae: dict[str, Any]  # VQVAEConfig fields
    gpt: dict[str, Any]  # GPTConfig fields
    text_encoder: str  # "minilm", "clip-vit-b-32" or "hashing"
    text_dim: int
    dataset: str = "humanml3d"
    text_encoder_path: str | None = None  # where the encoder's weights were (a hint, e.g. CLIP)
    fps: float = 20.0
    skeleton: str = "humanml3d"
    unit_length: int = 4  # motion frames per code
    mean_file: str = MEAN_FILE
    std_file: str = STD_FILE
    card: ModelCard = field(default_factory=ModelCard)
    t2mgpt_version: str = ""

    def vqvae_config(self):
        from t2mgpt.tokenizer.vqvae import VQVAEConfig

        return VQVAEConfig.from_dict(self.vqvae)

    def gpt_config(self):
        from t2mgpt.generator.gpt import GPTConfig

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
        self.dataset = canonical_dataset(self.dataset)
        vq, gpt = self.vqvae_config(), self.gpt_config()
        problems = []
        if vq.input_dim != self.feature_dim:
            problems.append(f"the VQ-VAE takes {vq.input_dim}-d features but {self.dataset} motions have "
                            f"{self.feature_dim}")
        if gpt.num_vq != vq.nb_code:
            problems.append(f"the GPT predicts {gpt.num_vq} codes (num_vq) but the VQ-VAE codebook has "
                            f"{vq.nb_code} (nb_code)")
        try:
            self.text_encoder = canonical_text_encoder(self.text_encoder)
        except InputError as e:
            problems.append(str(e))
        else:
            from t2mgpt.text import TEXT_ENCODER_DIMS

            known = TEXT_ENCODER_DIMS.get(self.text_encoder)
            if known is not None and known != self.text_dim:
                problems.append(f"the {self.text_encoder} text encoder gives {known}-d features, not {self.text_dim}")
        if gpt.clip_dim != self.text_dim:
            problems.append(f"the GPT takes {gpt.clip_dim}-d text features (clip_dim) but the text encoder "
                            f"{self.text_encoder!r} gives {self.text_dim}")
        if self.unit_length != vq.downsample:
            problems.append(f"unit_length {self.unit_length} differs from the VQ-VAE's frames per code "
                            f"{vq.downsample}")
        if not (isinstance(self.fps, (int, float)) and self.fps > 0):
            problems.append(f"fps must be positive, got {self.fps!r}")
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
            "weights": {"vqvae": VQVAE_FILE, "gpt": GPT_FILE},
            "card": dataclasses.asdict(self.card),
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = CONFIG_FILE, check: bool = True) -> "ModelConfig":
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
            text, norm = d["text_encoder"], d.get("normalization", {})
            cfg = cls(
                vqvae=dict(d["vqvae"]), gpt=dict(d["gpt"]),
                text_encoder=str(text["name"]), text_dim=int(text["dim"]), text_encoder_path=text.get("path"),
                dataset=d["dataset"], fps=float(d.get("fps", _default_fps(d["dataset"]))),
                skeleton=d.get("skeleton", d["dataset"]), unit_length=int(d.get("unit_length", 4)),
                mean_file=norm.get("mean", MEAN_FILE), std_file=norm.get("std", STD_FILE),
                card=ModelCard.from_dict(d.get("card")), t2mgpt_version=str(d.get("t2mgpt_version", "")),
            )
            return cfg.check() if check else cfg
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, InputError):
                raise CheckpointError(f"{where}: {e}") from e
            raise CheckpointError(f"{where} is incomplete or malformed ({type(e).__name__}: {e})") from e


def make_config(vqvae_config, gpt_config, text_encoder: str, text_dim: int, dataset: str | None = None,
                text_encoder_path: str | None = None, card: ModelCard | None = None,
                fps: float | None = None) -> ModelConfig:
    """A checked ModelConfig from the parts' configs (dataset inferred from the feature size)."""
    if dataset is None:
        try:
            spec = spec_for_dim(vqvae_config.input_dim)
        except InputError:
            raise InputError(f"the VQ-VAE takes {vqvae_config.input_dim}-d features: no dataset kind has that "
                             "size (263 = humanml3d, 251 = kit)") from None
    else:
        spec = get_dataset_spec(dataset)
    return ModelConfig(
        vqvae=vqvae_config.to_dict(), gpt=dataclasses.asdict(gpt_config),
        text_encoder=canonical_text_encoder(text_encoder), text_dim=int(text_dim), text_encoder_path=text_encoder_path,
        dataset=spec.name, fps=float(fps or spec.fps), skeleton=spec.skeleton,
        unit_length=vqvae_config.downsample, card=card or ModelCard(),
    ).check()


# ------------------------------------------------------------------------------------ lookup


def check_model_name(name: str) -> str:
    """A model name: letters, digits, '.', '_', '-' (no path separators), at most 100 chars."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name:
        raise InputError(f"invalid model name {name!r}: use letters, digits, '.', '_' and '-' "
                         "(starting with a letter or digit)")
    return name


def models_home() -> Path:
    """Where saved models live: $T2MGPT_HOME/models (default ~/.cache/t2mgpt/models)."""
    return Path(os.environ.get("T2MGPT_HOME") or "~/.cache/t2mgpt").expanduser() / "models"


def bundled_models_dir() -> Path:
    return Path(__file__).resolve().parent / "models_bundled"


def _is_model_dir(p: Path) -> bool:
    return (p / CONFIG_FILE).is_file()


def _looks_like_path(s: str) -> bool:
    return os.sep in s or "/" in s or s.startswith((".", "~")) or (os.altsep is not None and os.altsep in s)


@dataclass
class ModelEntry:
    name: str
    path: Path
    source: str  # "bundled" | "local"
    config: ModelConfig | None
    size_bytes: int
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.config
        return {
            "name": self.name, "source": self.source, "path": str(self.path), "size_bytes": self.size_bytes,
            "text_encoder": c.text_encoder if c else None, "dataset": c.dataset if c else None,
            "fps": c.fps if c else None, "error": self.error,
        }


def _folder_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def list_models() -> list[ModelEntry]:
    """Bundled models first, then locally saved ones (a local model hidden by a bundled one of the
    same name is still listed)."""
    entries = []
    for source, p in _model_dirs():
        try:
            cfg, err = read_config(p), None
        except (CheckpointError, InputError) as e:
            cfg, err = None, str(e)
        entries.append(ModelEntry(p.name, p, source, cfg, _folder_size(p), err))
    return entries


def _model_dirs():
    """(source, folder) of the bundled and then the locally saved models, configs unread."""
    for source, root in (("bundled", bundled_models_dir()), ("local", models_home())):
        if root.is_dir():
            for p in sorted(root.iterdir()):
                if p.is_dir() and not p.name.startswith(".") and _is_model_dir(p):
                    yield source, p


def resolve_model(path_or_name: str | os.PathLike) -> Path:
    """A model folder path, or a name looked up in the bundled and then the local models."""
    if isinstance(path_or_name, os.PathLike) or _looks_like_path(str(path_or_name)) or Path(path_or_name).is_dir():
        p = Path(path_or_name).expanduser()
        if not p.exists():
            raise CheckpointError(f"model folder {p} does not exist")
        if not p.is_dir():
            raise CheckpointError(f"{p} is a file, not a model folder (a folder with {CONFIG_FILE}, "
                                  f"{VQVAE_FILE}, {GPT_FILE}); to convert original .pth checkpoints use "
                                  "t2mgpt import-official")
        return p
    name = str(path_or_name)
    if _NAME_RE.match(name) and ".." not in name:
        for root in (bundled_models_dir(), models_home()):
            if _is_model_dir(root / name):
                return root / name
    names = sorted({p.name for _, p in _model_dirs()})
    available = ", ".join(names) if names else "none installed"
    raise CheckpointError(
        f"unknown model {name!r} (available: {available}). Give a model folder path, save one with "
        f"save_pretrained into {models_home()}, or convert the official weights with t2mgpt import-official"
    )


# ------------------------------------------------------------------------------------ read


def read_config(folder: str | os.PathLike, check: bool = True) -> ModelConfig:
    """`check=False` skips the consistency check, which imports torch: for a quick look at the
    timing fields (fps, unit_length, max_tokens) before loading."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{folder} is not a t2mgpt model folder: {CONFIG_FILE} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from e
    return ModelConfig.from_dict(data, where=str(path), check=check)


def check_files(folder: Path, config: ModelConfig) -> None:
    missing = [n for n in (VQVAE_FILE, GPT_FILE, config.mean_file, config.std_file) if not (folder / n).is_file()]
    if missing:
        raise CheckpointError(f"model folder {folder} is incomplete: missing {', '.join(missing)}")


def load_weights(module, path: Path, what: str) -> None:
    """Load a safetensors file into `module`, saying which weights do not fit the config."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable safetensors file (corrupt or truncated?): {e}") from e
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k} {tuple(state[k].shape)} (config.json implies {tuple(expected[k].shape)})"
             for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            parts.append(f"shape mismatch: {'; '.join(wrong[:4])}" + (f" and {len(wrong) - 4} more" if len(wrong) > 4 else ""))
        if missing:
            parts.append(f"missing: {missing[:5]}" + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
        if unexpected:
            parts.append(f"unexpected: {unexpected[:5]}" + (f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else ""))
        raise CheckpointError(f"{path}: the {what} weights do not match the {what} config in {CONFIG_FILE}: "
                              + "; ".join(parts))
    for k, v in state.items():
        # one cheap pass: NaN/inf propagate into the sum (exact check only when it is not finite)
        if v.is_floating_point() and not bool(v.sum().isfinite()) and not bool(v.isfinite().all()):
            raise CheckpointError(f"{path}: weight {k} contains NaN or inf; the file is corrupt")
    state = {k: v.to(expected[k].dtype) for k, v in state.items()}
    module.load_state_dict(state, strict=True, assign=True)  # use the loaded tensors, no copy


def load_model_folder(folder: str | os.PathLike):
    """-> (config, VQVAE, MotionGPT, Normalizer), models in eval mode on CPU."""
    from t2mgpt.generator.gpt import MotionGPT
    from t2mgpt.tokenizer.vqvae import VQVAE
    from t2mgpt.motion.normalize import Normalizer
    from t2mgpt.utils.init import uninitialised

    folder = Path(folder)
    config = read_config(folder)
    check_files(folder, config)
    vqvae = uninitialised(lambda: VQVAE(config.vqvae_config()))
    load_weights(vqvae, folder / VQVAE_FILE, "VQ-VAE")
    gpt = uninitialised(lambda: MotionGPT(config.gpt_config()))
    load_weights(gpt, folder / GPT_FILE, "GPT")
    try:
        normalizer = Normalizer.from_files(folder / config.mean_file, folder / config.std_file, dim=config.feature_dim)
    except InputError as e:
        raise CheckpointError(f"model folder {folder}: bad normalisation statistics: {e}") from e
    return config, vqvae.eval(), gpt.eval(), normalizer


# ------------------------------------------------------------------------------------ write


def model_card_text(config: ModelConfig) -> str:
    """README.md of a model folder, filled from the config and its card."""
    c, vq, gpt = config.card, config.vqvae, config.gpt
    metrics = "\n".join(f"| {k} | {v} |" for k, v in c.metrics.items()) if c.metrics else None
    lines = [
        f"# {c.name}", "", c.description, "",
        "## Model", "",
        f"- Dataset kind: {config.dataset} ({config.feature_dim}-d features, {config.skeleton} skeleton, "
        f"{config.fps:g} fps, {config.unit_length} frames per code)",
        f"- Text encoder: {config.text_encoder} ({config.text_dim}-d)",
        f"- VQ-VAE: {vq['nb_code']} codes of {vq['code_dim']} dims, width {vq['width']}, depth {vq['depth']}, "
        f"quantizer {vq['quantizer']}",
        f"- GPT: {gpt['num_layers']}+{gpt['num_layers']} layers, width {gpt['embed_dim']}, {gpt['n_head']} heads, "
        f"up to {gpt['block_size'] - 1} codes ({(gpt['block_size'] - 1) * config.unit_length / config.fps:g} s)",
        "", "## Training data", "", c.trained_on, "",
        "## Licence", "", c.license, "",
        "## Metrics", "",
    ]
    if c.evaluation:
        lines += [c.evaluation, ""]
    if metrics:
        lines += ["| metric | value |\n| --- | --- |\n" + metrics, ""]
    if not (c.evaluation or metrics):
        lines += ["Not measured.", ""]
    if c.notes:
        lines += ["## Notes", "", c.notes, ""]
    lines += [
        "## Use", "",
        "```python",
        "from t2mgpt import T2MGPT",
        f'pipe = T2MGPT.from_pretrained("{c.name}")  # or the folder path',
        'motion = pipe(["a person walks forward"])[0][0]',
        'motion.save("walk.mp4")',
        "```", "",
        f"Written by t2mgpt {config.to_dict()['t2mgpt_version']} (model format {FORMAT} v{FORMAT_VERSION}).", "",
    ]
    return "\n".join(lines)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_model_folder(folder: str | os.PathLike, config: ModelConfig, vqvae, gpt, normalizer,
                      overwrite: bool = False) -> Path:
    """Write a model folder atomically: everything goes into a temporary folder beside it, which is
    renamed into place only when complete (an existing folder is replaced only with overwrite)."""
    from safetensors.torch import save_file

    folder = Path(folder).expanduser()
    config.check()
    if normalizer.dim != config.feature_dim:
        raise InputError(f"the normaliser has {normalizer.dim} entries, the model {config.feature_dim}")
    if folder.exists() and not overwrite:
        raise InputError(f"{folder} already exists; pass overwrite=True (CLI: --overwrite) to replace it")
    if folder.exists() and not _is_model_dir(folder) and any(folder.iterdir()):
        raise InputError(f"{folder} is a non-empty folder that is not a model folder; not replacing it")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
        for module, name, part in ((vqvae, VQVAE_FILE, "vqvae"), (gpt, GPT_FILE, "gpt")):
            state = {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}
            save_file(state, str(tmp / name), metadata={**meta, "part": part})
        np.save(tmp / config.mean_file, np.asarray(normalizer.mean, np.float32), allow_pickle=False)
        np.save(tmp / config.std_file, np.asarray(normalizer.std, np.float32), allow_pickle=False)
        (tmp / CONFIG_FILE).write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
        (tmp / CARD_FILE).write_text(model_card_text(config), encoding="utf-8")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(tmp)
        if folder.exists():
            old = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
        _fsync_dir(folder.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


# ------------------------------------------------------------------------------------ text encoders


HASHING = "hashing"  # name of the weight-free test encoder (t2mgpt.text.hashing)
_ENCODERS: dict[tuple, Any] = {}  # loaded encoders, shared by the pipelines of this process
_MAX_CACHED_ENCODERS = 4


def load_text_encoder(name: str, dim: int, path: str | None = None, device=None, path_is_hint: bool = False):
    """The text encoder a model folder names, on `device` (loaded once per process).

    `path_is_hint`: `path` comes from a model config (maybe written on another machine): if it
    does not exist here, warn and look in the encoder's usual places instead of failing.
    """
    from t2mgpt.utils.device import resolve_device

    dev = resolve_device(device)
    if name == HASHING:
        from t2mgpt.text.hashing import HashingTextEncoder

        return HashingTextEncoder(dim, device=dev)
    key = (name, dim, str(path) if path else None, str(dev))
    if key not in _ENCODERS:
        from t2mgpt.text import get_text_encoder

        if path_is_hint and path is not None and not Path(path).expanduser().exists():
            warnings.warn(f"the text encoder path stored in the model ({path}) does not exist here; "
                          "looking in the usual places instead", stacklevel=3)
            path = None
        try:
            enc = get_text_encoder(name, device=dev, path=path, dim=dim)
        except CheckpointError as e:
            # a model is tied to its encoder: the advice to switch encoders does not apply here
            msg = re.sub(r"\s*Or use the\s+offline default text encoder:\s*--text-encoder \w+\.?", "", str(e)).strip()
            raise CheckpointError(f"this model needs the {name} text encoder, which cannot be loaded: {msg}") from e
        if len(_ENCODERS) >= _MAX_CACHED_ENCODERS:
            _ENCODERS.pop(next(iter(_ENCODERS)))
        _ENCODERS[key] = enc
    return _ENCODERS[key]


def canonical_text_encoder(name: str) -> str:
    if str(name).strip().lower() == HASHING:
        return HASHING
    from t2mgpt.text import canonical_name

    return canonical_name(name)


def __getattr__(name: str):
    # `HashingTextEncoder` used to live here; imported lazily so that this module stays torch-free
    if name == "HashingTextEncoder":
        from t2mgpt.text.hashing import HashingTextEncoder

        return HashingTextEncoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
