"""benchmarks/vq_reconstruction.py: how much of a turn and of a kick a reconstruction keeps."""
from __future__ import annotations

import subprocess
import sys
import numpy as np
import pytest

from helpers import BENCHMARKS, SAMPLE_CLIP, load_benchmark


def _bench():
    return load_benchmark("vq_reconstruction")


def standing(frames: int) -> np.ndarray:
    """(T, 22, 3) the first pose of the bundled sample motion, held, feet on the ground."""
    pose = np.load(SAMPLE_CLIP)[0]
    pose = pose - [pose[0, 0], pose[:, 1].min(), pose[0, 2]]
    return np.repeat(pose[None], frames, axis=0).astype(np.float64)


def turning(frames: int, degrees: float) -> np.ndarray:
    """Standing while the body turns `degrees` about the vertical at a steady rate."""
    j = standing(frames)
    a = np.radians(np.linspace(0.0, degrees, frames))[:, None]
    x, z = j[..., 0], j[..., 2]
    return np.stack([x * np.cos(a) + z * np.sin(a), j[..., 1], -x * np.sin(a) + z * np.cos(a)], axis=-1)


def kicking(frames: int, lift: float) -> np.ndarray:
    """Standing, the right foot (ankle 8 and toe 11) raised `lift` metres in the middle second."""
    j = standing(frames)
    mid = slice(frames // 2 - 10, frames // 2 + 10)
    j[mid, [8, 11], 1] += lift
    return j


def test_a_reconstruction_turning_half_as_far_keeps_half_the_turn():
    b = _bench()
    turns, kicks = b.kept([turning(80, 120.0)], [turning(80, 60.0)])
    assert len(turns) == 1 and not kicks
    assert b.turn_slope(turns) == pytest.approx(0.5, abs=0.05)
    assert b.turn_slope(b.kept([turning(80, 120.0)], [turning(80, 120.0)])[0]) == pytest.approx(1.0, abs=1e-9)
    assert not b.kept([turning(80, 30.0)], [turning(80, 30.0)])[0]  # under 60 degrees: not a turning window


def test_a_reconstruction_lifting_the_foot_half_as_high_keeps_half_the_kick():
    b = _bench()
    turns, kicks = b.kept([kicking(80, 0.5)], [kicking(80, 0.25)])
    assert len(kicks) == 1 and not turns
    assert b.kick_ratio(kicks) == pytest.approx(0.5, abs=0.05)
    assert np.isnan(b.kick_ratio([]))


def test_a_missing_dataset_is_a_one_line_error_with_exit_code_2(tmp_path):
    r = subprocess.run([sys.executable, str(BENCHMARKS / "vq_reconstruction.py"), "--data",
                        str(tmp_path / "none"), "--vq", str(tmp_path / "none")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "not found" in r.stderr
