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

import contextlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from t2mgpt import metrics as M
from t2mgpt.errors import InputError
from t2mgpt.eval.dataset import EvalBatch, EvalDataset
from t2mgpt.generator.decoding import Sampling

log = logging.getLogger(__name__)

METRICS = ("fid", "top1", "top2", "top3", "mm_dist", "diversity", "multimodality")
LABELS = {"fid": "FID", "top1": "Top-1", "top2": "Top-2", "top3": "Top-3", "mm_dist": "MM-Dist",
          "diversity": "Diversity", "multimodality": "MModality"}


# ----------------------------------------------------------------------------- models

@dataclass
class GenerationModels:
    """What text-to-motion generation needs: the GPT, the VQ-VAE decoder, the text encoder the
    GPT was trained with, and the normaliser of the VQ-VAE's feature space."""

    vqvae: torch.nn.Module
    gpt: torch.nn.Module
    text_encoder: object  # `encode(texts) -> (B, clip_dim)`, e.g. t2mgpt.text.TextEncoder
    normalizer: object  # t2mgpt.motion.Normalizer (or anything with mean/std arrays)


def as_generation_models(obj) -> GenerationModels:
    """A `GenerationModels`, or any object (such as the `T2MGPT` pipeline) with vqvae, gpt,
    text_encoder and normalizer attributes."""
    if isinstance(obj, GenerationModels):
        return obj
    missing = [a for a in ("vqvae", "gpt", "text_encoder", "normalizer") if getattr(obj, a, None) is None]
    if missing:
        raise InputError(f"{type(obj).__name__} lacks {', '.join(missing)}: pass a T2MGPT pipeline or GenerationModels")
    return GenerationModels(obj.vqvae, obj.gpt, obj.text_encoder, obj.normalizer)


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


class TextFeatureCache:
    """Text features of the generator's (frozen) text encoder, computed once per distinct text."""

    def __init__(self, text_encoder):
        self.text_encoder = text_encoder
        self.cache: dict[str, torch.Tensor] = {}

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if todo:
            for t, f in zip(todo, self.text_encoder.encode(todo)):
                self.cache[t] = f
        return torch.stack([self.cache[t] for t in texts])


def generate_motions(models: GenerationModels, texts: Sequence[str], seeds: Sequence[int] | None,
                     max_frames: int = 196, sampling: Sampling = Sampling(), text_features: Callable | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched text -> motion: (B, max_frames, D) unnormalised motions and their lengths (B,).

    All texts are decoded together by `MotionGPT.generate` (as the pipeline); row i uses `seeds[i]`.
    """
    feats = (text_features or models.text_encoder.encode)(list(texts))
    codes = models.gpt.generate(feats, sampling.greedy, sampling.temperature, sampling.top_k, sampling.top_p,
                                seed=None if sampling.greedy else list(seeds))
    return decode_codes(models.vqvae, codes, models.normalizer, max_frames)


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


# ----------------------------------------------------------------------------- result

@dataclass
class EvaluationResult:
    """Per-replication values of every metric, for the model and for the real motions."""

    mode: str  # "generation", "reconstruction" or "baseline:<kind>"
    model: dict[str, list[float]] = field(default_factory=dict)
    ground_truth: dict[str, list[float]] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def replications(self) -> int:
        return len(self.model.get("fid", []))

    @staticmethod
    def _summary(values: dict[str, list[float]]) -> dict[str, dict[str, float]]:
        out = {}
        for k in METRICS:
            if values.get(k):
                mean, ci = M.mean_and_confidence_interval(values[k])
                out[k] = {"mean": mean, "ci95": ci}
        return out

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """{'model': {metric: {'mean', 'ci95'}}, 'ground_truth': {...}}."""
        return {"model": self._summary(self.model), "ground_truth": self._summary(self.ground_truth)}

    def to_json(self) -> dict:
        return {"mode": self.mode, "replications": self.replications, "summary": self.summary(),
                "per_replication": {"model": self.model, "ground_truth": self.ground_truth}, "info": self.info}

    def write_json(self, path) -> None:
        from t2mgpt.utils.io import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    def table(self) -> str:
        """The paper's table layout: one row per source, 'mean ± ci95' per metric."""
        s = self.summary()
        cols = [k for k in METRICS if k in s["model"] or k in s["ground_truth"]]
        name = {"reconstruction": "Reconstruction", "generation": "Generated",
                "baseline:shuffled": "Shuffled text", "baseline:train-motions": "Train motion"}.get(self.mode, self.mode)
        rows = [("Real motion", s["ground_truth"]), (name, s["model"])]
        width = 17
        head = f"{'':<14}" + "".join(f"{LABELS[k]:>{width}}" for k in cols)
        lines = [head]
        for label, vals in rows:
            cells = [f"{_zero(vals[k]['mean']):.3f} +- {vals[k]['ci95']:.3f}" if k in vals else "-" for k in cols]
            lines.append(f"{label:<14}" + "".join(f"{c:>{width}}" for c in cells))
        lines.append(f"({self.replications} replications; +- is the 95% confidence interval; lower is better for "
                     f"FID and MM-Dist; R-precision in batches of {self.info.get('batch_size', 32)})")
        return "\n".join(lines)


def _zero(x: float) -> float:
    """0.0 for values that print as -0.000 (FID of identical sets: sqrtm leaves -1e-5)."""
    return 0.0 if abs(x) < 5e-4 else x


# ----------------------------------------------------------------------------- protocol pieces

def diversity_times_for(n: int, times: int = 300) -> int:
    """The original's rule (300 pairs, or 100 with at most 300 samples), shrunk below n on tiny splits."""
    t = times if n > times else min(100, times)
    if n <= t:
        log.warning("only %d samples: diversity uses %d pairs instead of %d (not comparable with the paper)",
                    n, n - 1, t)
        t = n - 1
    if t < 1:
        raise InputError(f"diversity needs at least 2 samples, got {n}")
    return t


def _seeds(seed: int, replication: int) -> dict[str, int]:
    """Independent seeds for each random part of one replication."""
    names = ("data", "generation", "gt_redraw", "metrics", "mm")
    vals = np.random.SeedSequence([int(seed), int(replication)]).generate_state(len(names), dtype=np.uint32)
    return dict(zip(names, (int(v) for v in vals)))


class _Progress:
    def __init__(self, total: int, desc: str, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="batch", disable=not enabled, dynamic_ncols=True)

    def step(self, n: int = 1, **postfix) -> None:
        self.bar.update(n)
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        self.bar.close()


def _embed(fn, *args) -> np.ndarray:
    return fn(*args).float().cpu().numpy()


def _pass_metrics(text: np.ndarray, motion: np.ndarray, hits: np.ndarray, n: int, div_times: int,
                  div_seed: int, reference: np.ndarray | None) -> dict[str, float]:
    out = {f"top{k + 1}": float(h) / n for k, h in enumerate(hits)}
    out["mm_dist"] = M.matching_score(text, motion)
    out["diversity"] = M.diversity(motion, times=div_times, seed=div_seed)
    if reference is not None:
        out["fid"] = M.frechet_distance(reference, motion)
    return out


class _RealPass:
    """Real text and motion embeddings of one draw of the split (the ground-truth row)."""

    def __init__(self):
        self.text, self.motion, self.hits, self.n = [], [], np.zeros(3), 0

    def add(self, et: np.ndarray, em: np.ndarray) -> None:
        self.text.append(et)
        self.motion.append(em)
        self.hits += M.r_precision(et, em, top_k=3)
        self.n += len(et)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.concatenate(self.text), np.concatenate(self.motion)


def _real_motion_embeddings(evaluator, dataset: EvalDataset, seed: int, batch_size: int) -> np.ndarray:
    return np.concatenate([_embed(evaluator.motion_embedding, b.motions, b.m_lens)
                           for b in dataset.batches(seed, batch_size)])


def _check_inputs(dataset: EvalDataset, evaluator, batch_size: int, replications: int) -> None:
    if replications < 1:
        raise InputError(f"replications must be at least 1, got {replications}")
    if evaluator.dim_pose != dataset.dim:
        raise InputError(f"the evaluator reads {evaluator.dim_pose}-d motions but the dataset has {dataset.dim}-d "
                         f"features: they belong to different datasets")
    dataset.check_batch_size(batch_size)


def _run_replication(evaluator, dataset: EvalDataset, seeds: dict[str, int], batch_size: int,
                     model_motions: Callable[[EvalBatch, np.random.Generator], tuple], div_times: int,
                     progress: _Progress, cache: dict | None = None) -> tuple[dict, dict, np.ndarray]:
    """One draw of the split: (model metrics, ground-truth metrics, real motion embeddings).

    The ground-truth FID (two independent draws of the real split) is added by the caller.
    """
    real, hits_model, model_emb = _RealPass(), np.zeros(3), []
    rng = np.random.default_rng(seeds["generation"])
    for i, batch in enumerate(dataset.batches(seeds["data"], batch_size)):
        if cache is not None and i in cache:
            et, em = cache[i]
        else:
            et = _embed(evaluator.text_embedding, batch.captions)
            em = _embed(evaluator.motion_embedding, batch.motions, batch.m_lens)
            if cache is not None:
                cache[i] = (et, em)
        real.add(et, em)
        motions, lens = model_motions(batch, rng)
        eg = _embed(evaluator.motion_embedding, motions, lens)
        hits_model += M.r_precision(et, eg, top_k=3)
        model_emb.append(eg)
        progress.step()
    text, real_motion = real.arrays()
    model_emb = np.concatenate(model_emb)
    model = _pass_metrics(text, model_emb, hits_model, real.n, div_times, seeds["metrics"], real_motion)
    gt = _pass_metrics(text, real_motion, real.hits, real.n, div_times, seeds["metrics"], None)
    return model, gt, real_motion


def _replicate(result: EvaluationResult, evaluator, dataset: EvalDataset, replications: int, seed: int,
               batch_size: int, model_motions, div_times: int, bar: _Progress, extra=None,
               postfix: tuple[str, ...] = ("fid",)) -> EvaluationResult:
    """Run every replication into `result` (with the ground-truth FID of a second real draw).

    `extra(seeds, model)` may add metrics to a replication (MultiModality); `postfix` names the
    metrics shown on the progress bar. Records the wall-clock seconds in `result.info`.
    """
    start = time.time()
    try:
        for r in range(replications):
            seeds = _seeds(seed, r)
            model, gt, real = _run_replication(evaluator, dataset, seeds, batch_size, model_motions, div_times, bar)
            gt["fid"] = M.frechet_distance(real, _real_motion_embeddings(evaluator, dataset, seeds["gt_redraw"],
                                                                         batch_size))
            if extra is not None:
                extra(seeds, model)
            _append(result, model, gt)
            bar.step(0, rep=f"{r + 1}/{replications}", **{k: f"{model[k]:.3f}" for k in postfix})
    finally:
        bar.close()
    result.info["seconds"] = round(time.time() - start, 1)
    return result


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
    progress: bool = True,
) -> EvaluationResult:
    """Text-to-motion metrics of a model (a `T2MGPT` pipeline or `GenerationModels`) on `dataset`.

    Each replication redraws the split and regenerates a motion for every caption (free
    length, categorical sampling as the original). `mm=True` adds MultiModality: `mm_samples`
    motions for each of `mm_texts` random captions (0: all captions of the draw), distance of
    `mm_times` random pairs. The run is reproducible for a given `seed`.
    """
    models = as_generation_models(models)
    _check_inputs(dataset, evaluator, batch_size, replications)
    if mm and mm_samples <= mm_times:
        raise InputError(f"MultiModality needs more samples per text ({mm_samples}) than pairs ({mm_times})")
    n_batches = dataset.num_batches(batch_size)
    n_items = n_batches * batch_size
    div_times = diversity_times_for(n_items, diversity_times)
    n_mm = _mm_text_count(mm_texts, n_items) if mm else 0
    mm_batches = math.ceil(n_mm * mm_samples / _mm_rows(batch_size, mm_samples)) if mm else 0
    max_frames = dataset.max_motion_length
    text_features = TextFeatureCache(models.text_encoder)
    sampling = Sampling(greedy, temperature, top_k, top_p)
    sampling.check()

    def model_motions(batch: EvalBatch, rng: np.random.Generator):
        seeds = rng.integers(0, 2**62, size=len(batch)).tolist()
        return generate_motions(models, batch.texts, seeds, max_frames, sampling, text_features)

    result = EvaluationResult("generation", info=_info(dataset, evaluator, replications, batch_size, seed, div_times,
                                                       n_batches, **asdict(sampling)))
    if mm:
        result.info.update(mm_texts=n_mm, mm_samples=mm_samples, mm_times=mm_times)
    bar = _Progress(replications * (n_batches + mm_batches), "evaluating", progress)

    def multimodality(seeds: dict[str, int], model: dict) -> None:
        model["multimodality"] = _multimodality(models, dataset, evaluator, seeds, n_mm, mm_samples, mm_times,
                                                batch_size, sampling, text_features, bar)

    with eval_mode(models.gpt, models.vqvae), torch.no_grad():
        return _replicate(result, evaluator, dataset, replications, seed, batch_size, model_motions, div_times, bar,
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
        emb.append(_embed(evaluator.motion_embedding, motions, lens))
        bar.step()
    emb = np.concatenate(emb).reshape(n_texts, n_samples, -1)
    return M.multimodality(emb, times=times, seed=seeds["metrics"])


def _append(result: EvaluationResult, model: dict, gt: dict) -> None:
    for k, v in model.items():
        result.model.setdefault(k, []).append(float(v))
    for k, v in gt.items():
        result.ground_truth.setdefault(k, []).append(float(v))


def _info(dataset, evaluator, replications, batch_size, seed, div_times, n_batches, **extra) -> dict:
    return {"data": str(dataset.root), "split": dataset.split, "entries": len(dataset),
            "samples_per_replication": n_batches * batch_size, "batch_size": batch_size,
            "replications": replications, "seed": seed, "diversity_times": div_times,
            "evaluator": getattr(evaluator, "kind", type(evaluator).__name__), **extra}


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
    _check_inputs(dataset, evaluator, batch_size, replications)
    n_batches = dataset.num_batches(batch_size)
    div_times = diversity_times_for(n_batches * batch_size, diversity_times)

    def model_motions(batch: EvalBatch, rng):
        return reconstruct_motions(vqvae, normalizer, batch.motions, batch.m_lens), batch.m_lens

    result = EvaluationResult("reconstruction",
                              info=_info(dataset, evaluator, replications, batch_size, seed, div_times, n_batches))
    bar = _Progress(replications * n_batches, "evaluating VQ-VAE", progress)
    with eval_mode(vqvae), torch.no_grad():
        return _replicate(result, evaluator, dataset, replications, seed, batch_size, model_motions, div_times, bar)


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
    _check_inputs(dataset, evaluator, batch_size, replications)
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
                              info=_info(dataset, evaluator, replications, batch_size, seed, div_times, n_batches))
    bar = _Progress(replications * n_batches, f"baseline {kind}", progress)
    with torch.no_grad():
        return _replicate(result, evaluator, dataset, replications, seed, batch_size, model_motions, div_times, bar)
