"""One replication of the protocol: draw the evaluation split once, embed captions, real and
model motions with the evaluator, and compute the metrics of the model and of the real motions
(the ground-truth row). `replicate` repeats it with independent seeds into an `EvaluationResult`."""
from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np

from t2mgpt import metrics as M
from t2mgpt.errors import InputError
from t2mgpt.eval.dataset import EvalBatch, EvalDataset
from t2mgpt.eval.result import EvaluationResult

log = logging.getLogger(__name__)


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


def replication_seeds(seed: int, replication: int) -> dict[str, int]:
    """Independent seeds for each random part of one replication."""
    names = ("data", "generation", "gt_redraw", "metrics", "mm")
    vals = np.random.SeedSequence([int(seed), int(replication)]).generate_state(len(names), dtype=np.uint32)
    return dict(zip(names, (int(v) for v in vals)))


class Progress:
    def __init__(self, total: int, desc: str, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="batch", disable=not enabled, dynamic_ncols=True)

    def step(self, n: int = 1, **postfix) -> None:
        self.bar.update(n)
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        self.bar.close()


def embed(fn, *args) -> np.ndarray:
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


def real_motion_embeddings(evaluator, dataset: EvalDataset, seed: int, batch_size: int) -> np.ndarray:
    return np.concatenate([embed(evaluator.motion_embedding, b.motions, b.m_lens)
                           for b in dataset.batches(seed, batch_size)])


def check_inputs(dataset: EvalDataset, evaluator, batch_size: int, replications: int) -> None:
    if replications < 1:
        raise InputError(f"replications must be at least 1, got {replications}")
    if evaluator.dim_pose != dataset.dim:
        raise InputError(f"the evaluator reads {evaluator.dim_pose}-d motions but the dataset has {dataset.dim}-d "
                         f"features: they belong to different datasets")
    dataset.check_batch_size(batch_size)


def run_replication(evaluator, dataset: EvalDataset, seeds: dict[str, int], batch_size: int,
                     model_motions: Callable[[EvalBatch, np.random.Generator], tuple], div_times: int,
                     progress: Progress, cache: dict | None = None) -> tuple[dict, dict, np.ndarray]:
    """One draw of the split: (model metrics, ground-truth metrics, real motion embeddings).

    The ground-truth FID (two independent draws of the real split) is added by the caller.
    """
    real, hits_model, model_emb = _RealPass(), np.zeros(3), []
    rng = np.random.default_rng(seeds["generation"])
    for i, batch in enumerate(dataset.batches(seeds["data"], batch_size)):
        if cache is not None and i in cache:
            et, em = cache[i]
        else:
            et = embed(evaluator.text_embedding, batch.captions)
            em = embed(evaluator.motion_embedding, batch.motions, batch.m_lens)
            if cache is not None:
                cache[i] = (et, em)
        real.add(et, em)
        motions, lens = model_motions(batch, rng)
        eg = embed(evaluator.motion_embedding, motions, lens)
        hits_model += M.r_precision(et, eg, top_k=3)
        model_emb.append(eg)
        progress.step()
    text, real_motion = real.arrays()
    model_emb = np.concatenate(model_emb)
    model = _pass_metrics(text, model_emb, hits_model, real.n, div_times, seeds["metrics"], real_motion)
    gt = _pass_metrics(text, real_motion, real.hits, real.n, div_times, seeds["metrics"], None)
    return model, gt, real_motion


def replicate(result: EvaluationResult, evaluator, dataset: EvalDataset, replications: int, seed: int,
              batch_size: int, model_motions, div_times: int, bar: Progress, extra=None,
              postfix: tuple[str, ...] = ("fid",)) -> EvaluationResult:
    """Run every replication into `result` (with the ground-truth FID of a second real draw).

    `extra(seeds, model)` may add metrics to a replication (MultiModality); `postfix` names the
    metrics shown on the progress bar. Records the wall-clock seconds in `result.info`.
    """
    start = time.time()
    try:
        for r in range(replications):
            seeds = replication_seeds(seed, r)
            model, gt, real = run_replication(evaluator, dataset, seeds, batch_size, model_motions, div_times, bar)
            gt["fid"] = M.frechet_distance(real, real_motion_embeddings(evaluator, dataset, seeds["gt_redraw"],
                                                                        batch_size))
            if extra is not None:
                extra(seeds, model)
            result.append(model, gt)
            bar.step(0, rep=f"{r + 1}/{replications}", **{k: f"{model[k]:.3f}" for k in postfix})
    finally:
        bar.close()
    result.info["seconds"] = round(time.time() - start, 1)
    return result


def protocol_info(dataset, evaluator, replications, batch_size, seed, div_times, n_batches, **extra) -> dict:
    """What an `EvaluationResult` records about its run (data, split, sizes, seed, evaluator)."""
    return {"data": str(dataset.root), "split": dataset.split, "entries": len(dataset),
            "samples_per_replication": n_batches * batch_size, "batch_size": batch_size,
            "replications": replications, "seed": seed, "diversity_times": div_times,
            "evaluator": getattr(evaluator, "kind", type(evaluator).__name__), **extra}

