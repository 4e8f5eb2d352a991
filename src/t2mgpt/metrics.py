"""Text-to-motion evaluation metrics of Guo et al. (CVPR 2022), as used by T2M-GPT.

Every function matches the original definition in T2M-GPT `utils/eval_trans.py`
(itself taken from EricGuo5513/text-to-motion `utils/metrics.py`) and works on
embeddings of the published evaluator (`t2mgpt.models.evaluator.Evaluator`):

- FID:            `frechet_distance(gt, pred)`
- Diversity:      `diversity(x, times=300)`
- R-precision:    `r_precision(text, motion)` (one batch) / `batched_r_precision`
- MM-Dist:        `matching_score(text, motion)`
- MultiModality:  `multimodality(x, times=10)`

Random draws: the original seeds the global numpy generator and calls
`np.random.choice(n, times, replace=False)` twice. Passing `seed=s` here draws
from `np.random.RandomState(s)`, which gives exactly the same indices as
`np.random.seed(s)` followed by those two calls.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg

from t2mgpt.errors import InputError



# ----------------------------------------------------------------------------- checks

def _as_matrix(x, name: str, min_rows: int = 1) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise InputError(f"{name} must be a 2-D array (N, D) of embeddings, got shape {x.shape}")
    if x.shape[0] < min_rows:
        raise InputError(f"{name} needs at least {min_rows} rows (embeddings), got {x.shape[0]}")
    if not np.isfinite(x).all():
        raise InputError(f"{name} contains NaN or inf values")
    return x


def _check_same_shape(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape != b.shape:
        raise InputError(f"{names} must have the same shape, got {a.shape} and {b.shape}")


def _rng(seed) -> np.random.RandomState:
    if isinstance(seed, np.random.RandomState):
        return seed
    return np.random.RandomState(seed)


def _pairs(rng: np.random.RandomState, n: int, times: int) -> tuple[np.ndarray, np.ndarray]:
    """Two index draws without replacement, in the original's order of calls."""
    first = rng.choice(n, times, replace=False)
    second = rng.choice(n, times, replace=False)
    return first, second


# ----------------------------------------------------------------------------- distances

def euclidean_distance_matrix(a, b) -> np.ndarray:
    """(N1, D), (N2, D) -> (N1, N2) pairwise euclidean distances.

    Same expansion as the original (|a|^2 - 2ab + |b|^2, in the inputs' dtype);
    unlike the original, tiny negative round-off is clipped to 0 before the square
    root, so identical vectors give 0 instead of NaN.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise InputError(f"need (N1, D) and (N2, D) arrays with the same D, got {a.shape} and {b.shape}")
    d1 = -2 * np.dot(a, b.T)
    d2 = np.sum(np.square(a), axis=1, keepdims=True)
    d3 = np.sum(np.square(b), axis=1)
    return np.sqrt(np.maximum(d1 + d2 + d3, 0))


# ----------------------------------------------------------------------------- FID

def activation_statistics(x) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of embeddings (N, D): `calculate_activation_statistics`."""
    x = _as_matrix(x, "embeddings", min_rows=2)
    return np.mean(x, axis=0), np.cov(x, rowvar=False)


def frechet_distance_from_stats(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Frechet distance of two Gaussians: the original `calculate_frechet_distance`.

    ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2)). If the product is
    singular (non-finite sqrtm), `eps` is added to both diagonals; a small
    imaginary part from round-off is dropped, a large one is an error.
    """
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape:
        raise InputError(f"mean vectors have different lengths: {mu1.shape} and {mu2.shape}")
    if sigma1.shape != sigma2.shape:
        raise InputError(f"covariances have different shapes: {sigma1.shape} and {sigma2.shape}")
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise InputError(
                f"FID: matrix square root has a large imaginary component "
                f"({np.max(np.abs(covmean.imag)):.3g}); the covariances are degenerate "
                f"(use more samples than embedding dimensions)"
            )
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def frechet_distance(gt, pred, eps: float = 1e-6) -> float:
    """FID between ground-truth and generated motion embeddings, (N1, D) and (N2, D)."""
    gt = _as_matrix(gt, "gt", min_rows=2)
    pred = _as_matrix(pred, "pred", min_rows=2)
    if gt.shape[1] != pred.shape[1]:
        raise InputError(f"gt and pred embeddings differ in dimension: {gt.shape[1]} vs {pred.shape[1]}")
    return frechet_distance_from_stats(*activation_statistics(gt), *activation_statistics(pred), eps=eps)


# ----------------------------------------------------------------------------- diversity

def diversity(x, times: int = 300, seed=None) -> float:
    """Mean distance between `times` random pairs of embeddings (N, D): `calculate_diversity`.

    As the original, needs N > times (T2M-GPT uses times=300, or 100 when N <= 300).
    """
    x = _as_matrix(x, "embeddings")
    if x.shape[0] <= times:
        raise InputError(
            f"diversity with times={times} needs more than {times} embeddings, got {x.shape[0]}; "
            f"lower `times` or evaluate more samples"
        )
    first, second = _pairs(_rng(seed), x.shape[0], times)
    return float(np.linalg.norm(x[first] - x[second], axis=1).mean())


def multimodality(x, times: int = 10, seed=None) -> float:
    """Mean distance between `times` random pairs of motions generated for the same text.

    x: (N_texts, N_samples, D), N_samples > times (T2M-GPT: 30 samples, times=10).
    The same index pairs are used for every text, as in `calculate_multimodality`.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise InputError(f"multimodality needs (N_texts, N_samples, D) embeddings, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise InputError("multimodality embeddings contain NaN or inf values")
    if x.shape[1] <= times:
        raise InputError(
            f"multimodality with times={times} needs more than {times} samples per text, got {x.shape[1]}"
        )
    first, second = _pairs(_rng(seed), x.shape[1], times)
    return float(np.linalg.norm(x[:, first] - x[:, second], axis=2).mean())


# ----------------------------------------------------------------------------- retrieval

def _text_motion(text, motion) -> tuple[np.ndarray, np.ndarray]:
    text, motion = _as_matrix(text, "text"), _as_matrix(motion, "motion")
    _check_same_shape(text, motion, "text and motion embeddings")
    return text, motion


def r_precision(text, motion, top_k: int = 3) -> np.ndarray:
    """Hit counts (top_k,) of one batch: how many texts rank their own motion in the top 1..k.

    Each text i is ranked against all motions of the batch by euclidean distance; motion
    i is its match. Equals the original `calculate_R_precision(..., sum_all=True)[0]`;
    divide the counts summed over batches by the number of texts for R-precision.
    """
    text, motion = _text_motion(text, motion)
    if not 1 <= top_k <= text.shape[0]:
        raise InputError(f"top_k must be in 1..{text.shape[0]} (batch size), got {top_k}")
    ranking = np.argsort(euclidean_distance_matrix(text, motion), axis=1)[:, :top_k]
    hit = ranking == np.arange(text.shape[0])[:, None]
    return np.logical_or.accumulate(hit, axis=1).sum(axis=0)


def batched_r_precision(text, motion, batch_size: int = 32, top_k: int = 3) -> np.ndarray:
    """R-precision fractions (top_k,) over consecutive batches, as the original evaluation.

    The original evaluates batches of 32 from a loader with drop_last=True, so a
    trailing partial batch is dropped here too (R-precision depends on the batch size).
    """
    text, motion = _text_motion(text, motion)
    n_batches = text.shape[0] // batch_size
    if n_batches == 0:
        raise InputError(f"R-precision needs at least batch_size={batch_size} pairs, got {text.shape[0]}")
    counts = sum(
        r_precision(text[i * batch_size:(i + 1) * batch_size], motion[i * batch_size:(i + 1) * batch_size], top_k)
        for i in range(n_batches)
    )
    return counts / (n_batches * batch_size)


def matching_score(text, motion) -> float:
    """MM-Dist: mean euclidean distance between each text and its own motion, (N, D) each.

    The original accumulates the trace of each batch's distance matrix (a sum) and divides
    the total by the number of samples at the end; that is this mean (it does not depend on
    batching). Computed with the same |a|^2 - 2ab + |b|^2 expansion as the original.
    """
    text, motion = _text_motion(text, motion)
    sq = np.sum(np.square(text), axis=1) - 2 * np.sum(text * motion, axis=1) + np.sum(np.square(motion), axis=1)
    return float(np.sqrt(np.maximum(sq, 0)).mean())


# ----------------------------------------------------------------------------- replications

def mean_and_confidence_interval(values) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Mean and 95% confidence half-width 1.96 * std / sqrt(n) over replications (axis 0).

    As the original `get_metric_statistics` (population std, ddof=0). Works for scalar
    metrics (n,) and vector ones such as R-precision (n, 3).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0 or values.shape[0] == 0:
        raise InputError("need a non-empty sequence of per-replication values")
    mean = values.mean(axis=0)
    ci = 1.96 * values.std(axis=0) / np.sqrt(values.shape[0])
    if values.ndim == 1:
        return float(mean), float(ci)
    return mean, ci
