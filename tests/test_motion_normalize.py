"""Normaliser with the published HumanML3D statistics."""
import numpy as np
import pytest
import torch

from t2mgpt.errors import InputError
from t2mgpt.motion import Normalizer


def test_humanml3d_statistics_are_the_published_ones(ref_dir):
    norm = Normalizer.humanml3d()
    assert norm.dim == 263
    np.testing.assert_array_equal(norm.mean, np.load(ref_dir / "humanml3d_Mean.npy"))
    np.testing.assert_array_equal(norm.std, np.load(ref_dir / "humanml3d_Std.npy"))


def test_round_trip_numpy_and_torch(ref_motion):
    norm = Normalizer.humanml3d()
    vecs = ref_motion["vecs"]
    z = norm.normalize(vecs)
    np.testing.assert_allclose(z, (vecs - norm.mean) / norm.std, rtol=1e-6)
    np.testing.assert_allclose(norm.denormalize(z), vecs, atol=1e-5)
    zt = norm.normalize(torch.from_numpy(vecs).double()[None])
    assert zt.dtype == torch.float64 and zt.shape == (1, 170, 263)
    np.testing.assert_allclose(zt[0].numpy(), z, atol=1e-5)
    np.testing.assert_allclose(norm.denormalize(zt)[0].numpy(), vecs, atol=1e-5)


def test_from_files_and_errors(tmp_path, ref_dir):
    norm = Normalizer.from_files(ref_dir / "humanml3d_Mean.npy", ref_dir / "humanml3d_Std.npy", dim=263)
    assert norm.dim == 263
    with pytest.raises(InputError, match="not found"):
        Normalizer.from_files(tmp_path / "Mean.npy", ref_dir / "humanml3d_Std.npy")
    np.save(tmp_path / "m2.npy", np.zeros((2, 263)))
    with pytest.raises(InputError, match="1-D"):
        Normalizer.from_files(tmp_path / "m2.npy", ref_dir / "humanml3d_Std.npy")
    np.save(tmp_path / "m251.npy", np.zeros(251))
    with pytest.raises(InputError, match="expected 263"):
        Normalizer.from_files(tmp_path / "m251.npy", ref_dir / "humanml3d_Std.npy", dim=263)
    with pytest.raises(InputError, match="same length"):
        Normalizer.from_files(tmp_path / "m251.npy", ref_dir / "humanml3d_Std.npy")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(InputError, match="cannot read"):
        Normalizer.from_files(tmp_path / "bad.npy", ref_dir / "humanml3d_Std.npy")
    with pytest.raises(InputError, match="non-positive"):
        Normalizer(np.zeros(3), np.array([1.0, 0.0, 1.0]))
    with pytest.raises(InputError, match="does not match"):
        norm.normalize(np.zeros((4, 251)))
