"""Evaluator metrics during training, to keep the best-FID checkpoint as the original does.

The original T2M-GPT evaluates every `eval_iter` iterations (`evaluation_vqvae`,
`evaluation_transformer`) on the validation split and saves `net_best_fid.pth` when FID
improves. `make_validation_fn` builds that evaluation once (data, evaluator, cached real
embeddings) and returns a callable for the training loop:

    from t2mgpt.eval import EvalDataset, load_evaluator, make_validation_fn

    evaluator = load_evaluator(path, glove=..., meta=..., device=device)  # or a trained folder
    val = EvalDataset(data_root, "val")
    validate = make_validation_fn(evaluator, val)          # once, before training

    # VQ-VAE trainer, every N iterations (rank 0 only under DDP):
    m = validate(vqvae=model)                              # reconstruction of the val windows
    # GPT trainer (needs gpt, vqvae, the text encoder and the normaliser):
    m = validate(gpt_pipeline=GenerationModels(vqvae, gpt, text_encoder, normalizer))
    if m["fid"] < best_fid: save best checkpoint

Returned dict: fid, diversity, top1, top2, top3, mm_dist (model) and the same with a `_real`
suffix (real motions: top1_real, ..., mm_dist_real, diversity_real), all floats.

Unlike the original (a fresh random draw each time), every call sees the SAME draw of the
split (fixed `seed`), so successive values differ only because the model changed; the real
embeddings and the generator's text features are computed once. GPT validation decodes
greedily by default, as the original `evaluation_transformer` (`trans.sample(..., False)`).
Models are put in eval mode for the call and restored to their previous mode.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from t2mgpt.errors import DataError, InputError
from t2mgpt.eval.dataset import EvalDataset
from t2mgpt.eval.generation import as_generation_models, eval_mode, generate_motions, reconstruct_motions
from t2mgpt.eval.replication import Progress, diversity_times_for, replication_seeds, run_replication
from t2mgpt.generator.decoding import Sampling
from t2mgpt.text.cache import TextFeatureCache


def make_validation_fn(
    evaluator,
    dataset: EvalDataset,
    *,
    batch_size: int = 32,
    seed: int = 0,
    greedy: bool = True,
    normalizer=None,
    diversity_times: int = 300,
    progress: bool = False,
) -> Callable[..., dict[str, float]]:
    """`validate(vqvae=None, gpt_pipeline=None) -> dict` (see the module docstring).

    normalizer: feature statistics of the VQ-VAE for `vqvae=` validation (default: the
    dataset's Mean/Std); `gpt_pipeline` brings its own. batch_size: 32 as the original (R-precision
    depends on it); smaller only for tiny validation splits.
    """
    from t2mgpt.motion.normalize import Normalizer

    if evaluator.dim_pose != dataset.dim:
        raise InputError(f"the evaluator reads {evaluator.dim_pose}-d motions but the validation data has "
                         f"{dataset.dim}-d features")
    dataset.check_batch_size(batch_size)
    seeds = replication_seeds(seed, 0)
    n = dataset.num_batches(batch_size) * batch_size
    div_times = diversity_times_for(n, diversity_times)
    vq_normalizer = normalizer or Normalizer(dataset.mean, dataset.std)
    real_cache: dict = {}  # batch index -> (text emb, real motion emb): the evaluator is frozen
    text_caches: dict[int, TextFeatureCache] = {}

    def validate(vqvae=None, gpt_pipeline=None) -> dict[str, float]:
        if (vqvae is None) == (gpt_pipeline is None):
            raise InputError("pass exactly one of vqvae= (reconstruction) or gpt_pipeline= (generation)")
        if vqvae is not None:
            modules = (vqvae,)

            def model_motions(batch, rng):
                return reconstruct_motions(vqvae, vq_normalizer, batch.motions, batch.m_lens), batch.m_lens
        else:
            models = as_generation_models(gpt_pipeline)
            modules = (models.gpt, models.vqvae)
            cache = text_caches.setdefault(id(models.text_encoder), TextFeatureCache(models.text_encoder))

            def model_motions(batch, rng):
                row_seeds = rng.integers(0, 2**62, size=len(batch)).tolist()
                return generate_motions(models, batch.texts, row_seeds, dataset.max_motion_length, Sampling(greedy),
                                        text_features=cache)

        bar = Progress(dataset.num_batches(batch_size), "validation", progress)
        try:
            with eval_mode(*modules), torch.no_grad():
                model, gt, _ = run_replication(evaluator, dataset, seeds, batch_size, model_motions, div_times, bar,
                                               cache=real_cache)
        finally:
            bar.close()
        out = {k: float(v) for k, v in model.items()}
        out.update({f"{k}_real": float(v) for k, v in gt.items()})
        return out

    return validate


def make_split_validation(evaluator, data, split: str = "val", *, glove=None, meta=None, device="cpu",
                          batch_size: int = 32, seed: int = 0, normalizer=None,
                          model: str | None = None) -> Callable[..., dict[str, float]]:
    """`make_validation_fn` on the `split` of the dataset folder `data` with the evaluator at
    `evaluator` (released finest.tar + `glove`/`meta`, or a `t2mgpt train-evaluator` folder),
    as the trainers use it. For tiny splits the batch is lowered to what the split holds (at
    least 3); the returned callable has a `batch_size` attribute. With `model` ("vqvae" or
    "gpt_pipeline") it takes that one model as its only argument, as a trainer calls it."""
    from t2mgpt.eval.evaluators import load_evaluator

    if model not in (None, "vqvae", "gpt_pipeline"):
        raise InputError(f"model must be 'vqvae' or 'gpt_pipeline', got {model!r}")
    ds = EvalDataset(data, split)
    if len(ds) < 3:
        raise DataError(f"the {split} split has {len(ds)} motions usable for FID validation; at least 3 are needed")
    batch_size = max(3, min(batch_size, len(ds)))
    ev = load_evaluator(evaluator, glove=glove, meta=meta, device=device)
    full = make_validation_fn(ev, ds, batch_size=batch_size, seed=seed, normalizer=normalizer)
    validate = full if model is None else (lambda m: full(**{model: m}))
    validate.batch_size = batch_size
    return validate


def best_improved(metrics: dict[str, float], best: dict[str, float] | None, key: str = "fid") -> bool:
    """True if `metrics[key]` beats `best[key]` (lower is better for fid/mm_dist, higher for top-k)."""
    if best is None or key not in best:
        return True
    lower = key in ("fid", "mm_dist")
    value, ref = metrics[key], best[key]
    return bool(np.isfinite(value)) and (value < ref if lower else value > ref)


__all__ = ["make_validation_fn", "make_split_validation", "best_improved"]
