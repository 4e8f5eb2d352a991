"""Evaluation metrics: parity with the original functions (ref_metrics.npz) and invariants."""
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from t2mgpt import metrics as M
from t2mgpt.errors import InputError


@pytest.fixture(scope="module")
def ref(ref_dir):
    return dict(np.load(ref_dir / "ref_metrics.npz"))


# ---------------------------------------------------------------- parity with the original

def test_fid_matches_original(ref):
    assert M.frechet_distance(ref["gt"], ref["pred"]) == pytest.approx(float(ref["fid"]), rel=1e-6)


def test_diversity_matches_original(ref):
    got = M.diversity(ref["pred"], 100, seed=int(ref["diversity_seed"]))
    assert got == pytest.approx(float(ref["diversity"]), rel=1e-6)


def test_r_precision_matches_original(ref):
    text, motion = ref["text"], ref["motion"]
    counts = sum(M.r_precision(text[i:i + 32], motion[i:i + 32], top_k=3) for i in range(0, 96, 32))
    assert counts.shape == (3,) and counts.dtype.kind == "i"
    np.testing.assert_allclose(counts / 96, ref["r_precision_top3"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(M.batched_r_precision(text, motion, 32, 3), ref["r_precision_top3"], atol=1e-12)


def test_matching_score_matches_original(ref):
    assert M.matching_score(ref["text"], ref["motion"]) == pytest.approx(float(ref["matching_score"]), rel=1e-6)


def test_multimodality_matches_original(ref):
    got = M.multimodality(ref["mm_input"], 10, seed=int(ref["multimodality_seed"]))
    assert got == pytest.approx(float(ref["multimodality"]), rel=1e-6)


def test_seeded_draws_equal_global_numpy_calls(ref):
    # the original: np.random.seed(s); two np.random.choice(n, times, replace=False) calls
    x = ref["pred"]
    state = np.random.get_state()
    try:
        np.random.seed(11)
        first = np.random.choice(len(x), 50, replace=False)
        second = np.random.choice(len(x), 50, replace=False)
    finally:
        np.random.set_state(state)
    expected = np.linalg.norm(x[first] - x[second], axis=1).mean()
    assert M.diversity(x, 50, seed=11) == pytest.approx(float(expected), rel=1e-7)
    assert M.diversity(x, 50, seed=np.random.RandomState(11)) == pytest.approx(float(expected), rel=1e-7)


# ---------------------------------------------------------------- invariants

def test_euclidean_distance_matrix_matches_cdist():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    np.testing.assert_allclose(M.euclidean_distance_matrix(a, b), cdist(a, b), rtol=1e-10, atol=1e-10)
    # identical float32 vectors: round-off may make |a|^2 - 2ab + |b|^2 slightly negative;
    # that gives ~0 (float32 cancellation at |x|^2 ~ 3e5), never NaN
    x = rng.normal(size=(6, 32)).astype(np.float32) * 100
    d = M.euclidean_distance_matrix(x, x)
    assert np.isfinite(d).all() and np.allclose(np.diag(d), 0, atol=1.0)


def test_fid_of_shifted_copy_is_squared_shift():
    x = np.random.default_rng(1).normal(size=(500, 8))
    assert M.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    shift = np.arange(8) * 0.1
    assert M.frechet_distance(x, x + shift) == pytest.approx(float(shift @ shift), rel=1e-6)


def test_r_precision_perfect_and_matching_zero():
    x = np.random.default_rng(2).normal(size=(32, 16))
    np.testing.assert_array_equal(M.r_precision(x, x, top_k=3), [32, 32, 32])
    assert M.matching_score(x, x) == pytest.approx(0.0, abs=1e-6)
    y = x + 1.0  # every pair 4 apart (sqrt(16))
    assert M.matching_score(x, y) == pytest.approx(4.0, rel=1e-9)


def test_r_precision_counts_are_cumulative():
    rng = np.random.default_rng(3)
    text, motion = rng.normal(size=(32, 8)), rng.normal(size=(32, 8))
    counts = M.r_precision(text, motion, top_k=5)
    assert np.all(np.diff(counts) >= 0)
    ranks = np.argsort(cdist(text, motion), axis=1)
    expected = [(ranks[:, :k] == np.arange(32)[:, None]).any(axis=1).sum() for k in range(1, 6)]
    np.testing.assert_array_equal(counts, expected)


def test_batched_r_precision_drops_partial_batch():
    rng = np.random.default_rng(4)
    text, motion = rng.normal(size=(70, 8)), rng.normal(size=(70, 8))
    np.testing.assert_allclose(M.batched_r_precision(text, motion, 32),
                               M.batched_r_precision(text[:64], motion[:64], 32))


def test_multimodality_uses_same_pairs_for_every_text():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 12, 6))
    both = M.multimodality(x, 5, seed=7)
    parts = [M.multimodality(x[i:i + 1], 5, seed=7) for i in range(4)]
    assert both == pytest.approx(np.mean(parts), rel=1e-12)


def test_mean_and_confidence_interval():
    vals = [1.0, 2.0, 3.0, 4.0]
    mean, ci = M.mean_and_confidence_interval(vals)
    assert mean == 2.5 and ci == pytest.approx(1.96 * np.std(vals) / 2)
    means, cis = M.mean_and_confidence_interval([[0.1, 0.2, 0.3], [0.3, 0.4, 0.5]])
    np.testing.assert_allclose(means, [0.2, 0.3, 0.4])
    np.testing.assert_allclose(cis, 1.96 * 0.1 / np.sqrt(2) * np.ones(3))


# ---------------------------------------------------------------- input validation

def test_shape_mismatch_raises():
    a, b = np.zeros((32, 8)), np.zeros((32, 9))
    with pytest.raises(InputError, match="same shape"):
        M.r_precision(a, b)
    with pytest.raises(InputError, match="same shape"):
        M.matching_score(a, np.zeros((31, 8)))
    with pytest.raises(InputError, match="dimension"):
        M.frechet_distance(a, b)
    with pytest.raises(InputError, match="2-D"):
        M.diversity(np.zeros(10))
    with pytest.raises(InputError, match="N_texts, N_samples, D"):
        M.multimodality(np.zeros((10, 4)))


def test_too_few_samples_raise():
    with pytest.raises(InputError, match="more than 300 embeddings"):
        M.diversity(np.zeros((300, 4)), 300)
    with pytest.raises(InputError, match="more than 10 samples per text"):
        M.multimodality(np.zeros((3, 10, 4)), 10)
    with pytest.raises(InputError, match="batch_size=32"):
        M.batched_r_precision(np.zeros((20, 4)), np.zeros((20, 4)), 32)
    with pytest.raises(InputError, match="at least 2"):
        M.frechet_distance(np.zeros((1, 4)), np.zeros((5, 4)))


def test_nan_raises():
    x = np.ones((400, 4))
    x[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        M.diversity(x, 10)
