"""Parity of the motion representation with the original HumanML3D processing code."""
import numpy as np
import pytest
import torch

from t2mgpt.motion import (
    HUMANML3D, canonicalize_joints, default_offsets, feature_layout, features_to_joints,
    features_to_joints_rot, joints_to_features, retarget_joints,
)


def test_shipped_offsets_are_the_fixture_target(ref_motion):
    np.testing.assert_array_equal(default_offsets("humanml3d"), ref_motion["tgt_offsets"])


def test_features_from_joints_match_original(ref_motion):
    feats = joints_to_features(ref_motion["joints"], feet_threshold=float(ref_motion["feet_thre"]))
    assert feats.shape == (169, 263) and feats.dtype == np.float32
    np.testing.assert_allclose(feats, ref_motion["features_from_joints"], atol=1e-4, rtol=0)


def test_features_from_moved_joints_match_original(ref_motion):
    feats = joints_to_features(ref_motion["moved_joints"])
    np.testing.assert_allclose(feats, ref_motion["features_from_moved"], atol=1e-4, rtol=0)


def test_recover_from_ric_matches_original(ref_motion):
    np.testing.assert_allclose(features_to_joints(ref_motion["vecs"]), ref_motion["recovered_from_vecs"],
                               atol=1e-5, rtol=0)
    np.testing.assert_allclose(features_to_joints(ref_motion["features_from_moved"]),
                               ref_motion["recovered_from_moved"], atol=1e-5, rtol=0)


def test_first_frame_matches_published_features(ref_motion):
    # frame 0 of the published new_joint_vecs pins the first-frame root convention
    feats = joints_to_features(ref_motion["joints"])
    np.testing.assert_allclose(feats[0], ref_motion["vecs"][0], atol=1e-5, rtol=0)


def test_round_trip_within_a_millimetre(ref_motion):
    joints = ref_motion["joints"]
    # the features describe the retargeted motion in the canonical frame
    canonical = canonicalize_joints(retarget_joints(joints.astype(np.float64), HUMANML3D, default_offsets("humanml3d")))
    recovered = features_to_joints(joints_to_features(joints))
    assert recovered.shape == (169, 22, 3)
    err = np.linalg.norm(recovered - canonical[:-1], axis=-1)
    assert err.max() < 1e-3
    # new_joints are already retargeted and canonical: the round trip returns them
    assert np.linalg.norm(recovered - joints[:-1], axis=-1).max() < 1e-3


def test_moved_round_trip_is_invariant(ref_motion):
    recovered = features_to_joints(joints_to_features(ref_motion["moved_joints"]))
    assert np.linalg.norm(recovered - ref_motion["joints"][:-1], axis=-1).max() < 1e-3


def test_rot_path_close_to_ric_path(ref_motion):
    ric = features_to_joints(ref_motion["vecs"])
    rot = features_to_joints_rot(ref_motion["vecs"])
    assert rot.shape == ric.shape
    # measured 1.5e-6 m: the 6D rotations and offsets rebuild the same skeleton
    assert np.abs(rot - ric).max() < 1e-4


def test_torch_numpy_batched_dtypes(ref_motion):
    vecs = ref_motion["vecs"]
    batch = np.stack([vecs, vecs[::-1].copy()])
    expected = features_to_joints(batch.astype(np.float64))
    assert expected.dtype == np.float64 and expected.shape == (2, 170, 22, 3)
    np.testing.assert_allclose(expected[0], features_to_joints(vecs), atol=1e-5)
    for dtype, tol in ((torch.float32, 1e-5), (torch.float64, 1e-12)):
        out = features_to_joints(torch.from_numpy(batch).to(dtype))
        assert isinstance(out, torch.Tensor) and out.dtype == dtype
        np.testing.assert_allclose(out.numpy(), expected, atol=tol)
        out_rot = features_to_joints_rot(torch.from_numpy(batch).to(dtype))
        np.testing.assert_allclose(out_rot.numpy(), features_to_joints_rot(batch.astype(np.float64)), atol=tol)


def test_torch_path_differentiable(ref_motion):
    x = torch.from_numpy(ref_motion["vecs"][:20]).requires_grad_()
    features_to_joints_rot(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_layout_matches_order():
    layout = feature_layout("humanml3d")
    assert (layout.ric, layout.rot, layout.local_velocity, layout.foot_contacts) == (
        slice(4, 67), slice(67, 193), slice(193, 259), slice(259, 263))
    assert feature_layout("kit").dim == 251


def test_foot_contacts_follow_threshold(ref_motion):
    joints = ref_motion["joints"]
    contacts = joints_to_features(joints, feet_threshold=0.002)[:, -4:]
    assert set(np.unique(contacts)) <= {0.0, 1.0} and 0 < contacts.mean() < 1
    assert joints_to_features(joints, feet_threshold=1e9)[:, -4:].min() == 1
    assert joints_to_features(joints, feet_threshold=0.0)[:, -4:].max() == 0


def synthetic_motion(skeleton, frames=60, seed=0):
    """A rigid-skeleton motion: smooth random local rotations, a walking root, by FK."""
    from t2mgpt.motion import forward_kinematics, get_skeleton
    from t2mgpt.motion.quaternion import axis_angle_to_quaternion

    sk = get_skeleton(skeleton)
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, frames)[:, None, None]
    amp, freq, phase = rng.uniform(0, 0.5, (3, 1, sk.num_joints, 3))
    angles = amp * np.sin((1 + 2 * freq) * t + 6 * phase)  # (T, J, 3)
    angles[:, 0] = [0, 1, 0] * np.linspace(0, 1.5, frames)[:, None]  # root turns about y
    offsets = sk.raw_offsets * rng.uniform(0.1, 0.4, (sk.num_joints, 1))
    root = np.stack([np.linspace(0, 1, frames), np.full(frames, 1.0), np.linspace(0, 2, frames)], -1)
    return forward_kinematics(axis_angle_to_quaternion(angles), root, offsets, sk)


def test_kit_needs_target_offsets_or_no_retarget():
    from t2mgpt.errors import InputError
    from t2mgpt.motion import KIT, get_offsets_joints

    joints = synthetic_motion("kit")
    with pytest.raises(InputError, match="target_offsets"):
        joints_to_features(joints, "kit")
    feats = joints_to_features(joints, "kit", retarget=False)
    assert feats.shape == (59, KIT.feature_dim)
    # a rigid motion retargeted onto its own skeleton is unchanged
    same = joints_to_features(joints, "kit", target_offsets=get_offsets_joints(joints[0], "kit"))
    np.testing.assert_allclose(same, feats, atol=1e-4)
    recovered = features_to_joints(feats)
    np.testing.assert_allclose(recovered, canonicalize_joints(joints, "kit")[:-1], atol=1e-5)
    # KIT ships no offsets: the rot path measures bone lengths from the ric positions
    np.testing.assert_allclose(features_to_joints_rot(feats), recovered, atol=1e-4)
