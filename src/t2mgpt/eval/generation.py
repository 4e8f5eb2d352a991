"""Models -> motions for the evaluation protocol: generation through the same decoding engine
as the pipeline (`MotionGPT.generate`, one `Sampling`), VQ-VAE decoding of codes, and VQ-VAE
reconstruction of real windows. All motions come back unnormalised and zero-padded."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from t2mgpt.data.spec import HUMANML3D
from t2mgpt.errors import InputError
from t2mgpt.generator.decoding import Sampling

CANDIDATE_ROWS = 256  # best-of-k in the protocol: rows decoded per pass (candidates x captions)


@dataclass
class GenerationModels:
    """What text-to-motion generation needs: the GPT, the VQ-VAE decoder, the text encoder the
    GPT was trained with, and the normaliser of the VQ-VAE's feature space."""

    vqvae: torch.nn.Module
    gpt: torch.nn.Module
    text_encoder: object  # `encode(texts) -> (B, clip_dim)`, e.g. t2mgpt.text.TextEncoder
    normalizer: object  # t2mgpt.motion.Normalizer (or anything with mean/std arrays)
    candidates: int = 1  # best-of-k sampling (t2mgpt.rerank), as the pipeline's default
    critic: object = None  # its critic, or None


def as_generation_models(obj) -> GenerationModels:
    """A `GenerationModels`, or any object (such as the `T2MGPT` pipeline) with vqvae, gpt,
    text_encoder and normalizer attributes."""
    if isinstance(obj, GenerationModels):
        return obj
    missing = [a for a in ("vqvae", "gpt", "text_encoder", "normalizer") if getattr(obj, a, None) is None]
    if missing:
        raise InputError(f"{type(obj).__name__} lacks {', '.join(missing)}: pass a T2MGPT pipeline or GenerationModels")
    return GenerationModels(obj.vqvae, obj.gpt, obj.text_encoder, obj.normalizer,
                            int(getattr(obj, "candidates", 1)), getattr(obj, "critic", None))


def _stats(normalizer, device) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.as_tensor(np.asarray(normalizer.mean, np.float32), device=device)
    std = torch.as_tensor(np.asarray(normalizer.std, np.float32), device=device)
    return mean, std


@contextlib.contextmanager
def eval_mode(*modules: torch.nn.Module):
    """Put modules in eval mode and restore each one's training flag afterwards."""
    flags = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        yield
    finally:
        for m, f in zip(modules, flags):
            m.train(f)


def _device(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def decode_codes(vqvae, codes: Sequence[torch.Tensor], normalizer, max_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Code sequences -> (motions (B, max_frames, D) unnormalised, zero-padded; lengths (B,)).

    Each sequence is decoded on its own (`VQVAE.decode_each`, as the pipeline does); longer
    motions are cut to `max_frames` as the original evaluation does.
    """
    dev = _device(vqvae)
    mean, std = _stats(normalizer, dev)
    out = torch.zeros(len(codes), max_frames, mean.shape[0], device=dev)
    lens = torch.zeros(len(codes), dtype=torch.long)
    for i, x in enumerate(vqvae.decode_each(codes)):  # (4n, D) normalised
        x = (x * std + mean)[:max_frames]
        out[i, :len(x)] = x
        lens[i] = len(x)
    return out, lens


def generate_motions(models: GenerationModels, texts: Sequence[str], seeds: Sequence[int] | None,
                     max_frames: int = HUMANML3D.max_motion_len, sampling: Sampling = Sampling(),
                     text_features: Callable | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched text -> motion: (B, max_frames, D) unnormalised motions and their lengths (B,).

    All texts are decoded together by `MotionGPT.generate` (as the pipeline); row i uses `seeds[i]`.
    With `models.candidates` k > 1, row i is the best of k (`t2mgpt.rerank`), drawn with seeds
    seeds[i] + r, r < k.
    """
    k = 1 if sampling.greedy else models.candidates
    encode = text_features or models.text_encoder.encode
    if k == 1:
        feats = encode(list(texts))
        codes = models.gpt.generate(feats, sampling.greedy, sampling.temperature, sampling.top_k, sampling.top_p,
                                    seed=None if sampling.greedy else list(seeds),
                                    guidance_scale=sampling.guidance_scale)
        return decode_codes(models.vqvae, codes, models.normalizer, max_frames)
    from t2mgpt.rerank import best_of

    out, lens = [], []
    step = max(1, CANDIDATE_ROWS // k)  # captions per pass: k candidates each, at most ~CANDIDATE_ROWS rows
    for a in range(0, len(texts), step):
        rows = [t for t in texts[a:a + step] for _ in range(k)]
        row_seeds = [(int(s) + r) % 2**62 for s in seeds[a:a + step] for r in range(k)]
        feats = encode(rows)
        codes = models.gpt.generate(feats, False, sampling.temperature, sampling.top_k, sampling.top_p,
                                    seed=row_seeds, guidance_scale=sampling.guidance_scale)
        motions, n = decode_codes(models.vqvae, codes, models.normalizer, max_frames)
        decoded = [motions[i, :n[i]].cpu().numpy() for i in range(len(codes))]
        keep = best_of(k, models.gpt, codes, feats.to(_device(models.gpt)), models.critic, rows, decoded)
        out.append(motions[keep])
        lens.append(n[keep])
    return torch.cat(out), torch.cat(lens)


def reconstruct_motions(vqvae, normalizer, motions: np.ndarray, m_lens: np.ndarray) -> torch.Tensor:
    """Real windows (B, T, D) unnormalised -> VQ-VAE reconstructions (B, T, D), zero after m_lens.

    Windows of equal length go through the VQ-VAE together (same result as one by one).
    """
    dev = _device(vqvae)
    mean, std = _stats(normalizer, dev)
    x = torch.as_tensor(motions, device=dev)
    out = torch.zeros_like(x)
    for n in np.unique(m_lens):
        rows = np.flatnonzero(m_lens == n).tolist()
        recon, _, _ = vqvae((x[rows, :n] - mean) / std)
        out[rows, :n] = recon * std + mean
    return out
