"""The rigid skeleton fit, the foot contact cleanup and the foot-skating measures.

Checked against independent forward kinematics (scipy), rigid synthetic motions, the real
HumanML3D clip, hand-built foot tracks and motions of the bundled model."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from t2mgpt.errors import InputError
from t2mgpt.motion import HUMANML3D, KIT, default_offsets
from t2mgpt.motion.cleanup import CleanupConfig, clean_feet, two_bone_ik
from t2mgpt.motion.footskate import floor_penetration, skating_ratio
from t2mgpt.motion.postprocess import PostProcessor, concat, postprocess
from t2mgpt.motion.rigid import CONFIG_FRAMES, reference_lengths

PARENTS = np.array(HUMANML3D.parents)


def bone_lengths(joints, skeleton=HUMANML3D):
    parents = np.array(skeleton.parents)
    return np.linalg.norm(joints[:, 1:] - joints[:, parents[1:]], axis=-1)


def scipy_fk(rigid):
    """World positions from the stored rotations with scipy (independent of our quaternion code)."""
    sk, t = rigid.skeleton, rigid.num_frames
    world, pos = [None] * sk.num_joints, [None] * sk.num_joints
    for j in sk.preorder:
        local = Rotation.from_quat(rigid.rotations[:, j][:, [1, 2, 3, 0]])
        p = sk.parents[j]
        if p < 0:
            world[j], pos[j] = local, rigid.root
        else:
            pos[j] = pos[p] + world[p].apply(np.tile(rigid.offsets[j], (t, 1)))
            world[j] = world[p] * local
    return np.stack(pos, axis=1)


def rigid_random_motion(skeleton, frames=60, seed=0):
    """Joints of a rest skeleton with random (also sibling) offsets posed by smooth random rotations."""
    rng = np.random.default_rng(seed)
    rest = skeleton.raw_offsets * rng.uniform(0.05, 0.4, skeleton.num_joints)[:, None]
    rest = rest + rng.normal(0, 0.03, rest.shape)
    rest[0] = 0
    t = np.arange(frames)[:, None] / 20.0
    world, pos = [None] * skeleton.num_joints, [None] * skeleton.num_joints
    for j in skeleton.preorder:
        amp, freq, phase = rng.uniform(0.2, 1.2, 3), rng.uniform(0.1, 0.6, 3), rng.uniform(0, 6.3, 3)
        local = Rotation.from_rotvec(amp * np.sin(2 * np.pi * freq * t + phase))
        p = skeleton.parents[j]
        if p < 0:
            world[j], pos[j] = local, np.stack([2 * t[:, 0], 0.9 + 0 * t[:, 0], -t[:, 0]], axis=1)
        else:
            pos[j] = pos[p] + world[p].apply(np.tile(rest[j], (frames, 1)))
            world[j] = world[p] * local
    return np.stack(pos, axis=1)


def noisy_motion(ref_motion, seed=0, sigma=0.02):
    """The real clip with smooth per-joint noise: bones that change length, as generated ones do."""
    rng = np.random.default_rng(seed)
    joints = ref_motion["joints"].astype(np.float64)
    noise = rng.normal(0, sigma, joints.shape)
    kernel = np.exp(-0.5 * (np.arange(-6, 7) / 3.0) ** 2)
    noise = np.apply_along_axis(lambda x: np.convolve(x, kernel / kernel.sum(), mode="same"), 0, noise)
    return joints + noise * 3


# ---------------------------------------------------------------------------- rigid fit


@pytest.mark.parametrize("skeleton", [HUMANML3D, KIT], ids=["humanml3d", "kit"])
def test_rigid_input_is_reproduced_exactly(skeleton):
    joints = rigid_random_motion(skeleton)
    rigid = postprocess(joints, skeleton, cleanup=False)
    assert np.abs(rigid.joints - joints).max() < 1e-9  # multi-child joints included (Kabsch)
    assert np.abs(scipy_fk(rigid) - rigid.joints).max() < 1e-9
    np.testing.assert_allclose(np.linalg.norm(rigid.rotations, axis=-1), 1.0, atol=1e-12)


def test_real_clip_is_reproduced_with_the_dataset_skeleton(ref_motion):
    joints = ref_motion["joints"]
    rigid = postprocess(joints, "humanml3d", cleanup=False, lengths=reference_lengths(HUMANML3D))
    assert np.linalg.norm(rigid.joints - joints, axis=-1).max() < 1e-4
    np.testing.assert_allclose(rigid.bone_lengths(), np.linalg.norm(default_offsets("humanml3d"), axis=-1), atol=1e-12)


def test_non_rigid_joints_get_one_skeleton(ref_motion):
    joints = noisy_motion(ref_motion)
    raw = bone_lengths(joints)
    assert (raw.max(0) - raw.min(0)).max() > 0.05  # the input's bones stretch by centimetres
    rigid = postprocess(joints, "humanml3d", cleanup=False, lengths=reference_lengths(HUMANML3D))
    fitted = bone_lengths(rigid.joints)
    assert (fitted.max(0) - fitted.min(0)).max() < 1e-9
    np.testing.assert_allclose(fitted[0], reference_lengths(HUMANML3D)[1:], atol=1e-9)
    error = np.linalg.norm(rigid.joints - joints, axis=-1)
    assert error.mean() < 0.03 and error.max() < 0.25
    assert ((rigid.rotations[1:] * rigid.rotations[:-1]).sum(-1) >= 0).all()  # no sign flips


def test_rest_pose_is_a_t_pose(ref_motion):
    rigid = postprocess(noisy_motion(ref_motion), "humanml3d", cleanup=False)
    names, off = HUMANML3D.joint_names, rigid.offsets
    for side, sign in (("left", 1), ("right", -1)):
        for part in ("shoulder", "elbow", "wrist"):
            assert sign * off[names.index(f"{side}_{part}")][0] > 0.99 * np.linalg.norm(off[names.index(f"{side}_{part}")])
        for part in ("knee", "ankle"):
            assert -off[names.index(f"{side}_{part}")][1] > 0.99 * np.linalg.norm(off[names.index(f"{side}_{part}")])
    assert off[names.index("head")][1] > 0.99 * np.linalg.norm(off[names.index("head")])


def test_streaming_equals_one_shot(ref_motion):
    joints = noisy_motion(ref_motion, seed=1)
    channels = np.clip(ref_motion["vecs"][:, -4:], 0, 1)
    joints, channels = joints[:len(channels)], channels
    whole = postprocess(joints, "humanml3d", channels=channels)
    for size in (1, 3, 7):
        post = PostProcessor("humanml3d")
        parts = [post.push(joints[i:i + size], channels[i:i + size]) for i in range(0, len(joints), size)]
        if size < CONFIG_FRAMES:  # the skeleton waits for its first frames, then nothing lags
            assert parts[0].num_frames == 0
        streamed = concat(parts + [post.finish()])
        np.testing.assert_array_equal(streamed.joints, whole.joints)
        np.testing.assert_array_equal(streamed.rotations, whole.rotations)
        np.testing.assert_array_equal(streamed.contacts, whole.contacts)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((1, 22, 3)), "at least 2"),
    (np.full((5, 22, 3), np.nan), "NaN"),
    (np.zeros((5, 19, 3)), "19 joints"),
    (np.zeros((5, 22, 3)), "zero length"),
])
def test_bad_joints(bad, match):
    with pytest.raises(InputError, match=match):
        postprocess(bad)


# ---------------------------------------------------------------------------- foot cleanup


def test_two_bone_ik_reaches_and_keeps_lengths():
    rng = np.random.default_rng(0)
    hip = rng.normal(0, 1, (200, 3))
    knee = hip + rng.normal(0, 1, (200, 3)) * 0.2
    ankle = knee + rng.normal(0, 1, (200, 3)) * 0.2
    target = hip + rng.normal(0, 1, (200, 3)) * 0.2
    new_knee, new_ankle = two_bone_ik(hip, knee, ankle, target)
    upper, lower = np.linalg.norm(knee - hip, axis=-1), np.linalg.norm(ankle - knee, axis=-1)
    np.testing.assert_allclose(np.linalg.norm(new_knee - hip, axis=-1), upper, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(new_ankle - new_knee, axis=-1), lower, atol=1e-9)
    dist = np.linalg.norm(target - hip, axis=-1)
    reachable = (dist < upper + lower - 1e-3) & (dist > np.abs(upper - lower) + 1e-3)
    assert reachable.sum() > 50
    assert np.abs(new_ankle - target)[reachable].max() < 1e-6


def sliding_stance(frames=10, speed=0.7):
    """A standing pose (the bundled clip's first frame, knees slightly bent) gliding forward, feet on
    the floor."""
    pose = default_pose()
    t = np.arange(frames)[:, None, None] / 20.0
    return pose[None] + np.array([0.0, 0.0, speed]) * t


def default_pose():
    from importlib.resources import files

    with (files("t2mgpt.assets") / "sample_motion.npy").open("rb") as f:
        pose = np.load(f)[0].astype(np.float64)
    pose[:, 1] -= pose[:, 1].min()  # lowest joint on the floor
    return pose


def test_planted_feet_stop_sliding():
    joints = sliding_stance()
    channels = np.ones((len(joints), 4))  # the model says: both feet on the ground
    rigid = postprocess(joints, "humanml3d", channels=channels, config=CleanupConfig(release_distance=1.0))
    before, after = skating_ratio(joints), skating_ratio(rigid.joints)
    assert before == pytest.approx(7 / 9) and after == 0.0  # 5-frame means: the first and last pair are slow
    toes = rigid.joints[:, [10, 11]]
    speed = np.linalg.norm(np.diff(toes[..., [0, 2]], axis=0), axis=-1) * 20
    hold = CleanupConfig().blend_frames  # once the pins have taken hold they only creep after the body
    assert speed[hold:].max() <= CleanupConfig().creep_speed + 1e-6
    fitted = bone_lengths(rigid.joints)
    assert (fitted.max(0) - fitted.min(0)).max() < 1e-9
    assert rigid.contacts[1:].all()
    # without contact channels (or with them off) nothing is pinned
    free = postprocess(joints, "humanml3d", channels=np.zeros((len(joints), 4)))
    assert skating_ratio(free.joints) == before and not free.contacts.any()


def test_pins_let_go_smoothly():
    joints = sliding_stance(60)
    rigid = postprocess(joints, "humanml3d", channels=np.ones((60, 4)))  # default: let go after 12 cm
    shift = np.linalg.norm(rigid.joints - postprocess(joints, "humanml3d", cleanup=False).joints, axis=-1)
    assert shift.max() < CleanupConfig().release_distance + 0.02
    assert np.abs(np.diff(shift, axis=0)).max() < 0.05  # no pops: at most 5 cm more or less per frame


def test_feet_stay_above_the_floor():
    joints = default_pose()[None].repeat(20, 0)
    joints[:, :, 1] -= 0.04 * np.sin(np.linspace(0, np.pi, 20))[:, None]  # sinks 4 cm into the floor
    assert floor_penetration(joints)["max"] > 0.035
    rigid = postprocess(joints, "humanml3d", channels=np.zeros((20, 4)))
    assert floor_penetration(rigid.joints)["max"] < 1e-9
    assert rigid.joints[:, [7, 8, 10, 11], 1].min() >= -1e-9


def test_cleanup_leaves_feet_in_the_air_alone(ref_motion):
    joints = ref_motion["joints"].astype(np.float64)
    joints[..., 1] += 0.5  # everything 50 cm up: no contact possible
    np.testing.assert_allclose(clean_feet(joints, "humanml3d", channels=np.ones((len(joints), 4))), joints, atol=1e-12)


# ---------------------------------------------------------------------------- measures


def test_skating_ratio_follows_gmd():
    frames = 21
    joints = np.tile(default_pose(), (frames, 1, 1))
    assert skating_ratio(joints) == 0.0
    moving = joints.copy()
    moving[:, 10, 2] += 0.03 * np.arange(frames)  # left toe slides 3 cm/frame = 0.6 m/s on the floor
    assert skating_ratio(moving) == pytest.approx(16 / 20)  # 5-frame means (zero-padded) are slow at both ends
    slow = joints.copy()
    slow[:, 10, 2] += 0.02 * np.arange(frames)  # 0.4 m/s: not skating
    assert skating_ratio(slow) == 0.0
    lifted = moving.copy()
    lifted[:, 10, 1] += 0.06  # above 5 cm: not in contact
    assert skating_ratio(lifted) == 0.0


# ---------------------------------------------------------------------------- the bundled model


@pytest.fixture(scope="module")
def bundled():
    from t2mgpt.pipeline import T2MGPT

    pipe = T2MGPT.from_pretrained(device="cpu")
    prompts = ["a person walks forward", "a person walks forward and then turns around", "a person jumps",
               "a person boxes"]
    return [m for row in pipe(prompts, num_samples=3, seconds=4, seed=7) for m in row]


def test_generated_motion_is_rigid_and_planted(bundled):
    before, after = [], []
    for m in bundled:
        lengths = bone_lengths(m.joints)
        assert (lengths.max(0) - lengths.min(0)).max() < 1e-3  # under 1 mm (float32 files)
        np.testing.assert_allclose(lengths[0], reference_lengths(HUMANML3D)[1:], atol=1e-5)
        assert np.abs(scipy_fk(m.rigid) - m.joints).max() < 1e-5
        raw = bone_lengths(m.raw_joints)
        assert (raw.max(0) - raw.min(0)).max() > 0.01  # what the network drew is not rigid
        before.append(skating_ratio(m.raw_joints))
        after.append(skating_ratio(m.joints))
        assert floor_penetration(m.joints)["max"] < 1e-6
    assert np.mean(after) <= 0.15 and np.mean(after) < np.mean(before)
