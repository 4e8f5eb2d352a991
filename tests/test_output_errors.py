"""Output paths under accident and bad input: a full disk (a real, tiny tmpfs), degenerate
motions, absurd coordinates and lengths. Each: one line, exit 2, nothing half-written."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import fill_disk
from tiny_model import make_tiny_model_dir

from t2mgpt.cli import main

SAMPLE = np.load(os.path.join(os.path.dirname(__file__), "..", "src", "t2mgpt", "assets", "sample_motion.npy"))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture
def full_disk(mount):
    """A 256 KB tmpfs filled to the last byte (mount needs root; skipped without it)."""
    disk = mount("size=256k")
    (disk / "out").mkdir()
    fill_disk(disk)
    return disk / "out"


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"t2mgpt {command}: error:") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("fmt", ["bvh", "npy", "json", "gif"])
def test_generate_to_a_full_disk(fmt, tiny_dir, full_disk, capsys):
    code = main(["generate", "a person walks", "-n", "2", "--seconds", "0.8", "--seed", "0", "--format", fmt,
                 "--model", str(tiny_dir), "--out-dir", str(full_disk), "--device", "cpu"])
    assert code == 2
    assert "No space left on device" in _one_line_error(capsys, "generate")
    assert list(full_disk.iterdir()) == []  # no temporary or partial files


@pytest.mark.parametrize("fmt", ["bvh", "npy", "json", "gif"])
def test_export_to_a_full_disk(fmt, full_disk, tmp_path, capsys):
    np.save(tmp_path / "m.npy", SAMPLE[:40])
    assert main(["export", str(tmp_path / "m.npy"), "-o", str(full_disk / f"m.{fmt}")]) == 2
    assert "No space left on device" in _one_line_error(capsys, "export")
    assert list(full_disk.iterdir()) == []


def test_render_and_save_to_a_full_disk(tiny_dir, full_disk, tmp_path, capsys):
    from t2mgpt.errors import OutputError
    from t2mgpt.pipeline import T2MGPT

    np.save(tmp_path / "m.npy", SAMPLE[:20])
    assert main(["render", str(tmp_path / "m.npy"), "-o", str(full_disk / "m.mp4"), "--size", "64"]) == 2
    assert "No space left on device" in _one_line_error(capsys, "render")
    m = T2MGPT.from_pretrained(tiny_dir, device="cpu")(["a person jumps"], seconds=0.8, seed=0)[0][0]
    with pytest.raises(OutputError, match="No space left on device"):
        m.save(full_disk / "m.bvh")
    assert list(full_disk.iterdir()) == []


def test_a_real_process_on_a_full_disk(full_disk, tmp_path):
    np.save(tmp_path / "m.npy", SAMPLE[:40])
    r = subprocess.run([sys.executable, "-m", "t2mgpt", "export", str(tmp_path / "m.npy"), "-o",
                        str(full_disk / "m.bvh")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "No space left on device" in r.stderr and "Traceback" not in r.stderr
    assert list(full_disk.iterdir()) == []


def test_evaluate_json_out_to_a_full_disk(full_disk, tmp_path, capsys):
    from helpers import make_tiny_dataset

    from t2mgpt.eval import EvaluatorTrainConfig, train_evaluator

    make_tiny_dataset(tmp_path / "data", n_motions=40, split_fractions=(0.4, 0.2))
    small = dict(dim_embed=16, dim_word=16, dim_text_hidden=16, dim_movement_enc_hidden=16,
                 dim_movement_latent=16, dim_motion_hidden=16)
    train_evaluator(tmp_path / "data", tmp_path / "ev", EvaluatorTrainConfig(epochs=1, batch_size=16, eval_batch_size=8,
                                                                             val_draws=1, test_draws=1),
                    small, progress=False, log_fn=lambda s: None)
    out = full_disk / "result.json"
    assert main(["evaluate", "--baseline", "train-motions", "--data", str(tmp_path / "data"), "--evaluator",
                 str(tmp_path / "ev"), "--batch-size", "8", "--replications", "1", "--device", "cpu",
                 "--no-progress", "--json-out", str(out)]) == 2
    assert "No space left on device" in _one_line_error(capsys, "evaluate")
    assert list(full_disk.iterdir()) == []


# ------------------------------------------------------------------------------ degenerate motions


@pytest.mark.parametrize("case", ["zero_joints", "zero_features"])
def test_export_of_a_collapsed_motion(case, tmp_path, capsys):
    data = np.zeros((10, 22, 3), np.float32) if case == "zero_joints" else np.zeros((10, 263), np.float32)
    np.save(tmp_path / "m.npy", data)
    assert main(["export", str(tmp_path / "m.npy"), "-o", str(tmp_path / "m.bvh")]) == 2
    assert "every bone has zero length" in _one_line_error(capsys, "export")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npy"]


def test_one_zero_length_bone_still_exports(tmp_path):
    """A single collapsed bone is a valid (odd) motion: it exports, with that joint unrotated."""
    from t2mgpt.export.bvh import joints_to_animation

    joints = SAMPLE[:20].astype(np.float64)
    joints[:, 16] = joints[:, 13]  # left shoulder on the collar in every frame
    anim = joints_to_animation(joints)
    assert np.isfinite(anim.rotations).all()
    np.testing.assert_allclose(np.linalg.norm(anim.rotations, axis=-1), 1.0, atol=1e-9)


def test_render_of_absurd_coordinates(tmp_path, capsys):
    np.save(tmp_path / "m.npy", SAMPLE[:20] * 1e30)
    assert main(["render", str(tmp_path / "m.npy"), "-o", str(tmp_path / "m.gif")]) == 2
    assert "reach" in _one_line_error(capsys, "render")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npy"]


def test_render_has_a_frame_limit(tmp_path, capsys, monkeypatch):
    from t2mgpt.render import frame

    painted = []
    monkeypatch.setattr(frame.FramePainter, "__call__", lambda self, t: painted.append(t))
    np.save(tmp_path / "m.npy", np.take(SAMPLE, np.arange(100_000), axis=0, mode="wrap"))
    assert main(["render", str(tmp_path / "m.npy"), "-o", str(tmp_path / "m.mp4")]) == 2
    assert "100000 frames, over the limit of 6000" in _one_line_error(capsys, "render")
    assert painted == []  # refused before drawing a single frame, not after an unbounded render
    monkeypatch.undo()
    np.save(tmp_path / "s.npy", SAMPLE[:30])
    assert main(["render", str(tmp_path / "s.npy"), "-o", str(tmp_path / "s.gif"), "--max-frames", "20",
                 "--size", "64"]) == 2
    assert "over the limit of 20" in _one_line_error(capsys, "render")
    assert main(["render", str(tmp_path / "s.npy"), "-o", str(tmp_path / "s.gif"), "--max-frames", "30",
                 "--size", "64"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npy", "s.gif", "s.npy"]
