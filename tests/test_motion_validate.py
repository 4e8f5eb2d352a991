"""Bad motion input raises InputError with a message that says what is wrong."""
import numpy as np
import pytest
import torch

from t2mgpt.errors import InputError
from t2mgpt.motion import (
    HUMANML3D, KIT, features_to_joints, get_skeleton, joints_to_features, load_motion,
    validate_features, validate_joints,
)


def test_valid_inputs_return_their_skeleton(ref_motion):
    assert validate_features(ref_motion["vecs"]) is HUMANML3D
    assert validate_features(np.zeros((3, 251), np.float32)) is KIT
    assert validate_features(torch.zeros(2, 3, 263), batched=True) is HUMANML3D
    assert validate_joints(ref_motion["joints"]) is HUMANML3D
    assert validate_joints(np.zeros((5, 21, 3))) is KIT


@pytest.mark.parametrize("arr, kwargs, message", [
    (np.zeros(263), {}, r"shape \(T, D\)"),
    (np.zeros((4, 100)), {}, "matches no skeleton"),
    (np.zeros((4, 251)), {"dim": 263}, "expected 263"),
    (np.zeros((4, 263)), {"skeleton": "kit"}, "kit skeleton"),
    (np.zeros((4, 22, 3)), {}, "looks like joint positions"),
    (np.zeros((2, 4, 263)), {}, r"shape \(T, D\)"),
    (np.zeros((0, 263)), {}, "0 frame"),
    (np.full((4, 263), np.nan), {}, "NaN/inf"),
    (torch.full((4, 263), float("inf")), {}, "NaN/inf"),
    ([[0.0] * 263], {}, "numpy array or torch tensor"),
])
def test_bad_features(arr, kwargs, message):
    with pytest.raises(InputError, match=message):
        validate_features(arr, **kwargs)


@pytest.mark.parametrize("arr, kwargs, message", [
    (np.zeros((4, 263)), {}, "looks like motion features"),
    (np.zeros((4, 22, 2)), {}, r"\(T, J, 3\)"),
    (np.zeros((4, 24, 3)), {}, "got 24 joints"),
    (np.zeros((4, 22, 3)), {"skeleton": "kit"}, "kit skeleton has 21"),
    (np.zeros((1, 22, 3)), {"min_frames": 2}, "at least 2"),
    (np.array([[[np.inf, 0, 0]] * 22] * 3), {}, "NaN/inf"),
])
def test_bad_joints(arr, kwargs, message):
    with pytest.raises(InputError, match=message):
        validate_joints(arr, **kwargs)


def test_converters_validate(ref_motion):
    with pytest.raises(InputError, match="at least 2"):
        joints_to_features(ref_motion["joints"][:1])
    with pytest.raises(InputError, match="matches no skeleton"):
        features_to_joints(np.zeros((4, 262)))
    with pytest.raises(InputError, match="unknown skeleton"):
        joints_to_features(ref_motion["joints"], skeleton="smplx")
    with pytest.raises(InputError, match="unknown skeleton"):
        get_skeleton("h36m")
    with pytest.raises(InputError, match="humanml3d skeleton"):
        features_to_joints(np.zeros((4, 251)), skeleton="humanml3d")
    collapsed = ref_motion["joints"].copy()
    collapsed[:, 4] = collapsed[:, 1]  # left knee on the left hip: a zero-length bone
    with pytest.raises(InputError, match="zero length"):
        joints_to_features(collapsed)


def test_load_motion_kinds(tmp_path, ref_motion):
    np.save(tmp_path / "f.npy", ref_motion["vecs"])
    np.save(tmp_path / "j.npy", ref_motion["joints"])
    np.save(tmp_path / "b.npy", ref_motion["joints"][None])  # (1, T, J, 3) as the original demo saves
    np.save(tmp_path / "flat.npy", ref_motion["joints"].reshape(170, 66))
    np.savez(tmp_path / "k.npz", joints=ref_motion["joints"], text=np.array([1]))
    f = load_motion(tmp_path / "f.npy")
    assert f.kind == "features" and f.skeleton is HUMANML3D and f.data.shape == (170, 263)
    for name in ("j.npy", "b.npy", "flat.npy", "k.npz"):
        m = load_motion(tmp_path / name)
        assert m.kind == "joints" and m.data.shape == (170, 22, 3), name
        np.testing.assert_array_equal(m.data, ref_motion["joints"])


def test_load_motion_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_motion(tmp_path / "missing.npy")
    np.save(tmp_path / "wrong.npy", np.zeros((10, 7)))
    with pytest.raises(InputError, match="neither motion features"):
        load_motion(tmp_path / "wrong.npy")
    np.savez(tmp_path / "two.npz", a=np.zeros(3), b=np.zeros(3))
    with pytest.raises(InputError, match=r"holds arrays \['a', 'b'\]"):
        load_motion(tmp_path / "two.npz")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputError, match="not a plain numeric array"):
        load_motion(tmp_path / "obj.npy")
    (tmp_path / "m.txt").write_text("1 2 3")
    with pytest.raises(InputError, match=".npy or .npz"):
        load_motion(tmp_path / "m.txt")
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(InputError, match="cannot be read"):
        load_motion(tmp_path / "broken.npy")
    np.save(tmp_path / "nan.npy", np.full((5, 263), np.nan))
    with pytest.raises(InputError, match="NaN"):
        load_motion(tmp_path / "nan.npy")
