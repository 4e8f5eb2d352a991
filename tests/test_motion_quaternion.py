"""Rotation utilities and kinematics: round trips and invariants (numpy and torch)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from t2mgpt.motion import HUMANML3D, KIT, forward_kinematics, get_offsets_joints, inverse_kinematics
from t2mgpt.motion.kinematics import forward_kinematics_cont6d, gaussian_filter_time
from t2mgpt.motion.quaternion import (
    axis_angle_to_quaternion, cont6d_to_matrix, cont6d_to_quaternion, matrix_to_quaternion, qbetween,
    qfix, qinv, qmul, qrot, quaternion_to_axis_angle, quaternion_to_cont6d, quaternion_to_matrix,
)

fast = settings(max_examples=40, deadline=None)  # per test: no global profile change

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)


def unit_quats(n=8):
    return arrays(np.float64, (n, 4), elements=finite).filter(
        lambda q: (np.linalg.norm(q, axis=-1) > 1e-2).all()).map(
        lambda q: q / np.linalg.norm(q, axis=-1, keepdims=True))


def vectors(n=8):
    return arrays(np.float64, (n, 3), elements=finite)


def same_rotation(q1, q2, atol=1e-9):
    """q and -q are the same rotation."""
    dots = np.abs((q1 * q2).sum(-1))
    np.testing.assert_allclose(dots, 1.0, atol=atol)


@fast
@given(unit_quats())
def test_quaternion_matrix_round_trip(q):
    m = quaternion_to_matrix(q)
    np.testing.assert_allclose(m @ m.swapaxes(-1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-12)
    back = matrix_to_quaternion(m)
    assert (back[:, 0] >= 0).all()
    same_rotation(back, q)


@fast
@given(unit_quats())
def test_quaternion_cont6d_round_trip(q):
    c = quaternion_to_cont6d(q)
    assert c.shape == (8, 6)
    np.testing.assert_allclose(cont6d_to_matrix(c), quaternion_to_matrix(q), atol=1e-12)
    same_rotation(cont6d_to_quaternion(c), q)


@fast
@given(arrays(np.float64, (8, 6), elements=finite))
def test_cont6d_gives_rotations(c):
    x = c[:, :3] / np.maximum(np.linalg.norm(c[:, :3], axis=-1, keepdims=True), 1e-300)
    c = c[(np.linalg.norm(c[:, :3], axis=-1) > 1e-2) & (np.linalg.norm(np.cross(x, c[:, 3:]), axis=-1) > 1e-2)]
    m = cont6d_to_matrix(c)
    np.testing.assert_allclose(m @ m.swapaxes(-1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-9)


@fast
@given(unit_quats(), vectors())
def test_qrot_preserves_norm_and_matches_matrix(q, v):
    r = qrot(q, v)
    np.testing.assert_allclose(np.linalg.norm(r, axis=-1), np.linalg.norm(v, axis=-1), atol=1e-9)
    np.testing.assert_allclose(r, (quaternion_to_matrix(q) @ v[..., None])[..., 0], atol=1e-9)


@fast
@given(unit_quats(), unit_quats(), unit_quats(), vectors())
def test_qmul_group_laws(a, b, c, v):
    np.testing.assert_allclose(qmul(qmul(a, b), c), qmul(a, qmul(b, c)), atol=1e-12)
    np.testing.assert_allclose(qmul(a, qinv(a)), np.tile([1.0, 0, 0, 0], (8, 1)), atol=1e-12)
    # composition: rotating by a*b = rotating by b, then by a
    np.testing.assert_allclose(qrot(qmul(a, b), v), qrot(a, qrot(b, v)), atol=1e-9)


@fast
@given(vectors(), vectors())
def test_qbetween_rotates_direction(u, v):
    ok = (np.linalg.norm(u, axis=-1) > 1e-3) & (np.linalg.norm(v, axis=-1) > 1e-3)
    u, v = u[ok], v[ok]
    q = qbetween(u, v)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(unit(qrot(q, u)), unit(v), atol=1e-6)


def test_qbetween_opposite_vectors_is_a_half_turn():
    u = np.array([[1.0, 0, 0], [0, 0, 2.0], [0.3, -0.4, 0.5]])
    q = qbetween(u, -u)
    assert np.isfinite(q).all()
    np.testing.assert_allclose(qrot(q, u), -u, atol=1e-12)


@fast
@given(arrays(np.float64, (8, 3), elements=st.floats(-3, 3, width=64)))
def test_axis_angle_round_trip(aa):
    q = axis_angle_to_quaternion(aa)
    np.testing.assert_allclose(qrot(q, aa), aa, atol=1e-9)  # the axis is fixed
    aa = aa[np.linalg.norm(aa, axis=-1) < np.pi - 1e-3]  # beyond pi the shorter angle comes back
    q = axis_angle_to_quaternion(aa)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(quaternion_to_axis_angle(q), aa, atol=1e-7)


def test_qfix_removes_sign_flips():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(50, 3, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.cumsum(q * 0.05, axis=0) + q[:1]  # slowly varying
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    flipped = q * rng.choice([-1.0, 1.0], size=(50, 3, 1))
    fixed = qfix(flipped)
    assert ((fixed[1:] * fixed[:-1]).sum(-1) >= 0).all()
    same_rotation(fixed, q)
    np.testing.assert_allclose(qfix(torch.from_numpy(flipped)).numpy(), fixed)


def test_numpy_and_torch_agree():
    rng = np.random.default_rng(1)
    q = rng.normal(size=(2, 5, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    v = rng.normal(size=(2, 5, 3))
    t = lambda x: torch.from_numpy(x)  # noqa: E731
    for fn, args in ((qmul, (q, q[::-1].copy())), (qrot, (q, v)), (qbetween, (v, v[::-1].copy())),
                     (quaternion_to_matrix, (q,)), (quaternion_to_cont6d, (q,)),
                     (matrix_to_quaternion, (quaternion_to_matrix(q),)),
                     (axis_angle_to_quaternion, (v,))):
        out = fn(*(t(a) for a in args))
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
        np.testing.assert_allclose(out.numpy(), fn(*args), atol=1e-12, err_msg=fn.__name__)
    out32 = qrot(t(q).float(), t(v).float())
    assert out32.dtype == torch.float32 and qrot(q.astype(np.float32), v.astype(np.float32)).dtype == np.float32


def test_gaussian_smoothing_equals_scipy():
    from scipy.ndimage import gaussian_filter1d

    x = np.random.default_rng(2).normal(size=(2, 90, 3))
    np.testing.assert_allclose(gaussian_filter_time(x, 20.0),
                               gaussian_filter1d(x, 20, axis=-2, mode="nearest"), atol=1e-12)


joint_clouds = arrays(np.float64, (4, 22, 3), elements=st.floats(-1, 1, width=64))


@pytest.mark.parametrize("smooth", [False, True])
@fast
@given(joints=joint_clouds)
def test_ik_then_fk_reproduces_joints(joints, smooth):
    bones = joints[:, 1:] - joints[:, list(HUMANML3D.parents[1:])]
    if (np.linalg.norm(bones, axis=-1) < 1e-2).any():
        return
    quats = inverse_kinematics(joints, HUMANML3D, smooth_forward=smooth)
    offsets = get_offsets_joints(joints, HUMANML3D)  # per frame: every bone length is kept
    rebuilt = forward_kinematics(quats, joints[:, 0], offsets, HUMANML3D)
    np.testing.assert_allclose(rebuilt, joints, atol=1e-6)
    rebuilt6d = forward_kinematics_cont6d(quaternion_to_cont6d(quats), joints[:, 0], offsets, HUMANML3D)
    np.testing.assert_allclose(rebuilt6d, joints, atol=1e-6)


def test_ik_torch_matches_numpy_and_kit():
    rng = np.random.default_rng(3)
    for sk in (HUMANML3D, KIT):
        joints = rng.normal(size=(2, 30, sk.num_joints, 3))
        quats = inverse_kinematics(joints, sk, smooth_forward=True)
        assert quats.shape == (2, 30, sk.num_joints, 4)
        np.testing.assert_allclose(inverse_kinematics(torch.from_numpy(joints), sk, smooth_forward=True).numpy(),
                                   quats, atol=1e-10)
        offsets = get_offsets_joints(joints, sk)
        np.testing.assert_allclose(forward_kinematics(quats, joints[..., 0, :], offsets, sk), joints, atol=1e-9)
