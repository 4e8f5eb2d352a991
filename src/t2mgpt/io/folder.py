"""Model folders: one directory holding everything a text-to-motion model needs.

    my-model/
      config.json        format + version, VQ-VAE and GPT configs, text encoder, dataset, fps, ...
      vqvae.safetensors  motion tokenizer weights
      gpt.safetensors    text-conditioned code GPT weights
      mean.npy, std.npy  feature normalisation statistics (D,)
      README.md          model card: data, licence, metrics
      critic/            optional: the text-motion critic of best-of-k sampling (t2mgpt.rerank)

Weights are safetensors and config.json is checked before anything is built, so loading a
folder never runs code and never allocates more than its weights need.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.io.card import model_card_text
from t2mgpt.io.config import CARD_FILE, CONFIG_FILE, FORMAT, FORMAT_VERSION, GPT_FILE, VQVAE_FILE, ModelConfig
from t2mgpt.io.lookup import is_model_dir
from t2mgpt.utils.io import umask

MAX_CONFIG_BYTES = 1 << 20  # config.json is a few KB; a bigger one is not read


def read_config(folder: str | os.PathLike, check: bool = True) -> ModelConfig:
    """`check=False` skips the consistency check, which imports torch: for a quick look at the
    timing fields (fps, unit_length, max_tokens) before loading."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{folder} is not a t2mgpt model folder: {CONFIG_FILE} is missing")
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise CheckpointError(f"{path} is {path.stat().st_size} bytes, too big for a model config "
                                  f"(at most {MAX_CONFIG_BYTES})")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from e
    except RecursionError:
        raise CheckpointError(f"{path} is nested too deeply to be a model config") from None
    return ModelConfig.from_dict(data, where=str(path), check=check)


def check_files(folder: Path, config: ModelConfig) -> None:
    missing = [n for n in (VQVAE_FILE, GPT_FILE, config.mean_file, config.std_file) if not (folder / n).is_file()]
    if missing:
        raise CheckpointError(f"model folder {folder} is incomplete: missing {', '.join(missing)}")


def load_model_folder(folder: str | os.PathLike):
    """-> (config, VQVAE, MotionGPT, Normalizer), models in eval mode on CPU."""
    from t2mgpt.io.weights import load_module
    from t2mgpt.generator.gpt import MotionGPT
    from t2mgpt.tokenizer.vqvae import VQVAE
    from t2mgpt.motion.normalize import Normalizer

    folder = Path(folder)
    config = read_config(folder)
    check_files(folder, config)
    vqvae = load_module(lambda: VQVAE(config.vqvae_config()), folder / VQVAE_FILE, "VQ-VAE")
    gpt = load_module(lambda: MotionGPT(config.gpt_config()), folder / GPT_FILE, "GPT")
    try:
        normalizer = Normalizer.from_files(folder / config.mean_file, folder / config.std_file, dim=config.feature_dim)
    except InputError as e:
        raise CheckpointError(f"model folder {folder}: bad normalisation statistics: {e}") from e
    return config, vqvae.eval(), gpt.eval(), normalizer


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
                      overwrite: bool = False, critic=None) -> Path:
    """Write a model folder atomically: everything goes into a temporary folder beside it, which is
    renamed into place only when complete (an existing folder is replaced only with overwrite).
    `critic`: the text-motion critic of best-of-k sampling (`t2mgpt.rerank`), written to critic/."""
    from safetensors.torch import save_file

    folder = Path(folder).expanduser()
    config.check()
    if normalizer.dim != config.feature_dim:
        raise InputError(f"the normaliser has {normalizer.dim} entries, the model {config.feature_dim}")
    if folder.exists() and not overwrite:
        raise InputError(f"{folder} already exists; pass overwrite=True (CLI: --overwrite) to replace it")
    if folder.exists() and not is_model_dir(folder) and any(folder.iterdir()):
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
        from t2mgpt.rerank import CRITIC_DIR

        if critic is not None:
            critic.save(tmp / CRITIC_DIR)
        mode = 0o666 & ~umask()  # an ordinary file's: safetensors writes 0600, which others could not read
        for f in (*tmp.iterdir(), *(tmp / CRITIC_DIR).glob("*")):
            if f.is_dir():
                os.chmod(f, 0o777 & ~umask())
                continue
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
            os.chmod(f, mode)
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
