"""Kinematic checks (t2mgpt.eval.kinematic_checks) on real CMU trials and on synthetic motions.

Real trials: each check must say yes on a trial whose human caption asks for it, no on a plain
walk, and swap sides on the mirrored copy (a left hop mirrored is a right hop).
"""
from __future__ import annotations

import numpy as np
import pytest

from t2mgpt.eval import kinematic_checks as kc
from t2mgpt.motion import mirror_joints
from t2mgpt.prepare import CMUSource
from t2mgpt.prepare.pipeline import trial_joints

TRIALS = {
    "walk": "07_06",  # "walk"
    "backward": "136_29",  # "A person walks backwards."
    "turn_left": "83_38",  # "A person walks ahead and then turns left"
    "jump": "13_39",  # "jump"
    "hop_left": "132_26",  # "Hop on left foot"
    "wave_right": "111_37",  # "A person is waving the right hand."
    "sit": "113_15",  # "Sit in chair and get up"
    "punch": "02_09",  # "A person is doing sidewards punches ..."
}


@pytest.fixture(scope="module")
def real(cmu_dir):
    source = CMUSource(cmu_dir)
    return {name: kc.Kinematics(trial_joints(source, tid)) for name, tid in TRIALS.items()}


def mirrored(k: kc.Kinematics) -> kc.Kinematics:
    return kc.Kinematics(mirror_joints(k.joints, "humanml3d"))


def test_walk_is_a_walk_and_nothing_else(real):
    k = real["walk"]
    assert kc.walks(k, "forward") and not kc.walks(k, "backward")
    assert 0.8 < k.mean_speed() < 2.0  # m/s, a normal walk
    for check in (kc.runs, kc.jumps, kc.sits, kc.picks_up, kc.raises_arms):
        assert not check(k), check.__name__
    for side in kc.SIDES:
        assert not kc.hops(k, side) and not kc.kicks(k, side) and not kc.waves(k, side)
        assert not kc.turns(k, side)


def test_walking_backwards(real):
    k = real["backward"]
    assert kc.walks(k, "backward") and not kc.walks(k, "forward")
    assert kc.walks(mirrored(k), "backward")


def test_turn_left_and_its_mirror_turns_right(real):
    k = real["turn_left"]
    assert kc.turns(k, "left") and not kc.turns(k, "right")
    assert 60 < k.turn_degrees() < 130  # "turn 90 degrees left"
    m = mirrored(k)
    assert kc.turns(m, "right") and not kc.turns(m, "left")


def test_jump(real):
    k = real["jump"]
    assert kc.jumps(k) and not kc.runs(k)
    assert not kc.jumps(real["walk"])


def test_hop_on_the_left_foot_and_its_mirror(real):
    k = real["hop_left"]
    assert kc.hops(k, "left") and not kc.hops(k, "right")
    m = mirrored(k)
    assert kc.hops(m, "right") and not kc.hops(m, "left")


def test_wave_with_the_right_hand_and_its_mirror(real):
    k = real["wave_right"]
    assert kc.waves(k, "right") and not kc.waves(k, "left")
    m = mirrored(k)
    assert kc.waves(m, "left") and not kc.waves(m, "right")


def test_sit_lowers_the_pelvis(real):
    assert kc.sits(real["sit"]) and kc.lowers_pelvis(real["sit"], 0.3)
    assert real["sit"].crouch.max() > 0.3 > real["walk"].crouch.max()


def test_punches(real):
    k = real["punch"]
    assert kc.punches(k, "left") or kc.punches(k, "right")
    assert not (kc.punches(real["walk"], "left") or kc.punches(real["walk"], "right"))


# --- synthetic motions: one real standing pose moved by hand -----------------------------------

@pytest.fixture(scope="module")
def pose(real):
    return real["walk"].joints[0] - real["walk"].joints[0, kc.PELVIS] * [1, 0, 1]  # at the origin, facing +z


def _rotate_y(p: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return p @ np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])  # +angle takes +z to +x


def test_rotating_towards_plus_x_is_a_left_turn(pose):
    # HumanML3D: facing +z, the person's left is +x; turning to face +x is a left
    # (counterclockwise seen from above) turn
    assert pose[kc.L_SHOULDER, 0] > pose[kc.R_SHOULDER, 0]
    motion = np.stack([_rotate_y(pose, a) for a in np.linspace(0, np.pi / 2, 60)])
    k = kc.Kinematics(motion)
    assert k.turn_degrees() == pytest.approx(90, abs=3)
    assert kc.turns(k, "left") and not kc.turns(k, "right")


def test_sliding_forward_left_and_back(pose):
    t = np.linspace(0, 1, 80)[:, None, None]
    for direction, offset in (("forward", [0, 0, 2.0]), ("backward", [0, 0, -2.0]), ("left", [2.0, 0, 0]),
                              ("right", [-2.0, 0, 0])):
        k = kc.Kinematics(pose[None] + t * np.array(offset))
        assert kc.walks(k, direction), direction
        assert k.mean_speed() == pytest.approx(2.0 / (79 / 20), rel=0.01)


def test_counting_jumps(pose):
    def jumping(n):
        frames = [pose] * 20
        for _ in range(n):
            frames += [pose + [0, h, 0] for h in 0.35 * np.sin(np.linspace(0, np.pi, 10))] + [pose] * 15
        return kc.Kinematics(np.stack(frames))

    assert len(jumping(0).jumps()) == 0
    assert len(jumping(1).jumps()) == 1
    assert kc.jumps(jumping(2), count=2) and not kc.jumps(jumping(3), count=2)


def test_bad_shape_is_refused():
    with pytest.raises(ValueError):
        kc.Kinematics(np.zeros((10, 21, 3)))
