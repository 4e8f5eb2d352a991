"""The text-to-motion evaluation protocol of T2M-GPT (`GPT_eval_multi.py`, `VQ_eval.py`).

Each replication draws the whole evaluation split once (`EvalDataset.batches`: random caption,
window cut to a multiple of 4 frames, batches of 32 sorted by caption length) and computes:

- FID between the evaluator's embeddings of real and generated motions;
- Diversity: mean distance of 300 random pairs of generated motions (100 when there are at
  most 300 samples, as the original; fewer with a warning on tiny splits);
- R-precision top-1/2/3: each caption ranks the 32 generated motions of its batch;
- MM-Dist: mean distance between each caption and its generated motion;
- MultiModality (`mm=True`): 30 samples for each of 100 captions, mean distance of 10 pairs.

Reported: mean and 95% confidence half-width (1.96 std / sqrt(n)) over replications (20 in
the paper), plus a ground-truth row: the same metrics with the real motions in place of the
generated ones, and the FID between two independent draws of the real split (Guo et al.'s
'ground truth' entry, ~0).

Generation follows `evaluation_transformer_test`: the GPT samples freely from
softmax(logits) (no temperature, no top-k) and the motion has the length the GPT chose
(END token), at most 196 frames; the ground-truth length is NOT used. One deliberate
difference: END is never sampled as the first token (the original then fell back to the single
code [1]); see `MotionGPT.generate`. MultiModality: the original generates 30 samples for
every caption of the split; by default this follows Guo et al.'s 100 captions (`mm_texts=0`
uses all). Reconstruction (`evaluate_reconstruction`) follows `evaluation_vqvae`: each real
window is encoded and decoded by the VQ-VAE at its own length.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, replace

import numpy as np
import torch

from t2mgpt import metrics as M
from t2mgpt.errors import InputError
from t2mgpt.eval.dataset import EvalBatch, EvalDataset
from t2mgpt.eval.generation import as_generation_models, eval_mode, generate_motions, reconstruct_motions
from t2mgpt.eval.replication import Progress, check_inputs, diversity_times_for, embed, protocol_info, replicate
from t2mgpt.eval.result import EvaluationResult
from t2mgpt.generator.decoding import Sampling
from t2mgpt.text.cache import TextFeatureCache
from t2mgpt.utils.checks import check_candidates

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- generation

def evaluate_generation(
    models,
    dataset: EvalDataset,
    evaluator,
    replications: int = 20,
    mm: bool = False,
    seed: int = 0,
    *,
    batch_size: int = 32,
    diversity_times: int = 300,
    mm_texts: int = 100,
    mm_samples: int = 30,
    mm_times: int = 10,
    greedy: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    guidance_scale: float = 1.0,
    progress: bool = True,
    candidates: int | None = None,
) -> EvaluationResult:
    """Text-to-motion metrics of a model (a `T2MGPT` pipeline or `GenerationModels`) on `dataset`.

    Each replication redraws the split and regenerates a motion for every caption (free
    length, categorical sampling as the original). `mm=True` adds MultiModality: `mm_samples`
    motions for each of `mm_texts` random captions (0: all captions of the draw), distance of
    `mm_times` random pairs. The run is reproducible for a given `seed`. `candidates`: best-of-k
    sampling (None: the model's, e.g. a pipeline's default).
    """
    models = as_generation_models(models)
    if candidates is not None:
        models = replace(models, candidates=check_candidates(candidates))
    check_inputs(dataset, evaluator, batch_size, replications)
    if mm and mm_samples <= mm_times:
        raise InputError(f"MultiModality needs more samples per text ({mm_samples}) than pairs ({mm_times})")
    n_batches = dataset.num_batches(batch_size)
    n_items = n_batches * batch_size
    div_times = diversity_times_for(n_items, diversity_times)
    n_mm = _mm_text_count(mm_texts, n_items) if mm else 0
    mm_batches = math.ceil(n_mm * mm_samples / _mm_rows(batch_size, mm_samples)) if mm else 0
    max_frames = dataset.max_motion_length
    text_features = TextFeatureCache(models.text_encoder)  # in memory: each distinct text encoded once
    sampling = Sampling(greedy, temperature, top_k, top_p, guidance_scale)
    sampling.check()

    def model_motions(batch: EvalBatch, rng: np.random.Generator):
        seeds = rng.integers(0, 2**62, size=len(batch)).tolist()
        return generate_motions(models, batch.texts, seeds, max_frames, sampling, text_features)

    result = EvaluationResult("generation", info=protocol_info(dataset, evaluator, replications, batch_size, seed, div_times,
                                                       n_batches, **asdict(sampling), candidates=models.candidates))
    if mm:
        result.info.update(mm_texts=n_mm, mm_samples=mm_samples, mm_times=mm_times)
    bar = Progress(replications * (n_batches + mm_batches), "evaluating", progress)

    def multimodality(seeds: dict[str, int], model: dict) -> None:
        model["multimodality"] = _multimodality(models, dataset, evaluator, seeds, n_mm, mm_samples, mm_times,
                                                batch_size, sampling, text_features, bar)

    with eval_mode(models.gpt, models.vqvae), torch.no_grad():
        return replicate(result, evaluator, dataset, replications, seed, batch_size, model_motions, div_times, bar,
                          extra=multimodality if mm else None, postfix=("fid", "top1"))


def _mm_text_count(mm_texts: int, n_items: int) -> int:
    if mm_texts < 0:
        raise InputError(f"mm_texts must be >= 0 (0: all captions), got {mm_texts}")
    if mm_texts == 0:
        return n_items
    if mm_texts > n_items:
        log.warning("the split has %d evaluation items: MultiModality uses %d texts instead of %d "
                    "(not comparable with the paper)", n_items, n_items, mm_texts)
        return n_items
    return mm_texts


def _mm_rows(batch_size: int, mm_samples: int) -> int:
    """Rows per GPT call for MultiModality: whole texts x samples, about 8 eval batches."""
    return max(1, (8 * batch_size) // mm_samples) * mm_samples


def _multimodality(models, dataset, evaluator, seeds, n_texts, n_samples, times, batch_size, sampling, text_features,
                   bar) -> float:
    rng = np.random.default_rng(seeds["mm"])
    picked = rng.choice(len(dataset), n_texts, replace=False)
    texts = [dataset.draw(int(i), rng)[0].text for i in picked]
    rows = [t for t in texts for _ in range(n_samples)]  # text-major: (n_texts * n_samples,)
    chunk = _mm_rows(batch_size, n_samples)
    emb = []
    for s in range(0, len(rows), chunk):
        part = rows[s:s + chunk]
        seeds_ = rng.integers(0, 2**62, size=len(part)).tolist()
        motions, lens = generate_motions(models, part, seeds_, dataset.max_motion_length, sampling, text_features)
        emb.append(embed(evaluator.motion_embedding, motions, lens))
        bar.step()
    emb = np.concatenate(emb).reshape(n_texts, n_samples, -1)
    return M.multimodality(emb, times=times, seed=seeds["metrics"])


# ----------------------------------------------------------------------------- reconstruction

def evaluate_reconstruction(
    vqvae,
    dataset: EvalDataset,
    evaluator,
    replications: int = 20,
    seed: int = 0,
    *,
    normalizer=None,
    batch_size: int = 32,
    diversity_times: int = 300,
    progress: bool = True,
) -> EvaluationResult:
    """Metrics of VQ-VAE reconstructions of the real windows (the original `VQ_eval.py`).

    `normalizer` maps features to the VQ-VAE's input space (default: the dataset's Mean/Std,
    which the VQ-VAE was trained with).
    """
    from t2mgpt.motion.normalize import Normalizer

    normalizer = normalizer or Normalizer(dataset.mean, dataset.std)
    check_inputs(dataset, evaluator, batch_size, replications)
    n_batches = dataset.num_batches(batch_size)
    div_times = diversity_times_for(n_batches * batch_size, diversity_times)

    def model_motions(batch: EvalBatch, rng):
        return reconstruct_motions(vqvae, normalizer, batch.motions, batch.m_lens), batch.m_lens

    result = EvaluationResult("reconstruction",
                              info=protocol_info(dataset, evaluator, replications, batch_size, seed, div_times, n_batches))
    bar = Progress(replications * n_batches, "evaluating VQ-VAE", progress)
    with eval_mode(vqvae), torch.no_grad():
        return replicate(result, evaluator, dataset, replications, seed, batch_size, model_motions, div_times, bar)


# ----------------------------------------------------------------------------- baselines

BASELINES = ("shuffled", "train-motions")


def evaluate_baseline(
    kind: str,
    dataset: EvalDataset,
    evaluator,
    replications: int = 20,
    seed: int = 0,
    *,
    reference: EvalDataset | None = None,
    batch_size: int = 32,
    diversity_times: int = 300,
    progress: bool = True,
) -> EvaluationResult:
    """Metrics of text-blind real motions, the floor a text-to-motion model must beat.

    - "shuffled": each caption gets the real motion of another caption of its batch. The
      motions are the real ones, so FID and Diversity equal the ground truth's (FID never
      looks at the text); R-precision falls to chance and MM-Dist grows.
    - "train-motions": each caption gets a random real motion of `reference` (the training
      split): what a model that ignores the text but reproduces training motions perfectly
      would score. Its FID measures the gap between the two splits.
    """
    if kind not in BASELINES:
        raise InputError(f"baseline must be one of {', '.join(BASELINES)}, got {kind!r}")
    if kind == "train-motions" and reference is None:
        raise InputError("the train-motions baseline needs a reference split (the training split)")
    check_inputs(dataset, evaluator, batch_size, replications)
    n_batches = dataset.num_batches(batch_size)
    div_times = diversity_times_for(n_batches * batch_size, diversity_times)

    def model_motions(batch: EvalBatch, rng: np.random.Generator):
        n = len(batch.m_lens)
        if kind == "shuffled":  # a random derangement: shuffle, then hand each item its successor's motion
            order = rng.permutation(n)
            perm = np.empty(n, dtype=np.int64)
            perm[order] = np.roll(order, -1)
            return batch.motions[perm], batch.m_lens[perm]
        motions = np.zeros_like(batch.motions)
        lens = np.zeros(n, dtype=np.int64)
        for k, i in enumerate(rng.integers(len(reference), size=n)):
            _, window, m_len = reference.draw(int(i), rng)
            m_len = min(m_len, motions.shape[1])
            motions[k, :m_len], lens[k] = window[:m_len], m_len
        return motions, lens

    result = EvaluationResult(f"baseline:{kind}",
                              info=protocol_info(dataset, evaluator, replications, batch_size, seed, div_times, n_batches))
    bar = Progress(replications * n_batches, f"baseline {kind}", progress)
    with torch.no_grad():
        return replicate(result, evaluator, dataset, replications, seed, batch_size, model_motions, div_times, bar)
