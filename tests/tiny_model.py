"""A tiny random-weight model folder for tests (builds in well under a second).

    from tiny_model import make_tiny_model_dir
    folder = make_tiny_model_dir(tmp_path / "tiny")
    pipe = T2MGPT.from_pretrained(folder, device="cpu")

The default text encoder is the weight-free "hashing" one (instant to load); pass
text_encoder="minilm" for the real offline encoder (slower to load). The VQ-VAE codebook is
random and the decoder's pose outputs are scaled down (`pose_scale`) so that decoded motions
stay close to the dataset's mean pose: bone lengths vary by < 0.5 cm, while the root still
walks and turns. The GPT is random too, so motions end at random lengths (END is one of
nb_code + 1 choices at each step) unless `seconds` is given.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from t2mgpt.io.card import ModelCard
from t2mgpt.io.config import make_config
from t2mgpt.io.folder import save_model_folder
from t2mgpt.generator.config import GPTConfig
from t2mgpt.generator.gpt import MotionGPT
from t2mgpt.tokenizer.config import VQVAEConfig
from t2mgpt.tokenizer.vqvae import VQVAE
from t2mgpt.motion.normalize import Normalizer

TEXT_DIMS = {"hashing": 32, "minilm": 384, "clip-vit-b-32": 512}


def tiny_parts(dataset: str = "humanml3d", text_encoder: str = "hashing", text_dim: int | None = None,
               nb_code: int = 32, seed: int = 0, pose_scale: float = 0.3, block_size: int = 51,
               decoder_lookahead: int | None = None):
    """(VQVAE, MotionGPT, Normalizer, text_dim) with small random weights, in eval mode."""
    torch.manual_seed(seed)
    dim = 263 if dataset == "humanml3d" else 251
    text_dim = text_dim or TEXT_DIMS[text_encoder]
    vq = VQVAE(VQVAEConfig(input_dim=dim, nb_code=nb_code, code_dim=16, output_emb_width=16, width=32, depth=1,
                           decoder_lookahead=decoder_lookahead))
    with torch.no_grad():
        vq.quantizer.codebook.normal_()
        vq.quantizer.initialized.fill_(True)
        last = vq.decoder.model[-1]  # Conv1d(width, D): rows 0-2 root velocities, 3 root height, 4- pose
        last.weight[3:] *= pose_scale
        last.bias[3:] *= pose_scale
    gpt = MotionGPT(GPTConfig(num_vq=nb_code, embed_dim=32, clip_dim=text_dim, block_size=block_size,
                              num_layers=1, n_head=2, drop_out_rate=0.0, fc_rate=2))
    if dim == 263:
        norm = Normalizer.humanml3d()
    else:
        rng = np.random.default_rng(seed)
        norm = Normalizer(rng.normal(0, 0.1, dim), rng.uniform(0.05, 0.2, dim))
    return vq.eval(), gpt.eval(), norm, text_dim


def make_tiny_model_dir(path: str | Path, text_encoder: str = "hashing", dataset: str = "humanml3d",
                        seed: int = 0, name: str = "tiny-test", overwrite: bool = False, **kwargs) -> Path:
    """Write a tiny model folder at `path` and return it. kwargs go to `tiny_parts`."""
    vq, gpt, norm, text_dim = tiny_parts(dataset, text_encoder, seed=seed, **kwargs)
    card = ModelCard(name=name, description="Tiny random-weight model for tests; its motions are meaningless.",
                     trained_on="nothing (random weights)", license="CC0-1.0", metrics={})
    config = make_config(vq.config, gpt.config, text_encoder, text_dim, dataset, card=card)
    return save_model_folder(path, config, vq, gpt, norm, overwrite=overwrite)
