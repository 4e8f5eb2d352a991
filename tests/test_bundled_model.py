"""The bundled demo model t2mgpt-cmu-demo: shipped, found by default, licensed, and moving as told.

These tests load the real weights (float16 on disk, 6.5 M parameters) and the offline MiniLM
encoder; nothing is downloaded. The behaviour checks are loose physical ones over six samples
(a walk travels and boxing stays put, a jump leaves the ground, a turn changes the heading,
sitting lowers the pelvis), so that they hold for any decent retraining, not just these weights.
"""
import json

import numpy as np
import pytest

from t2mgpt.cli import main
from t2mgpt.io.lookup import DEFAULT_MODEL, bundled_models_dir, list_models
from t2mgpt.pipeline import T2MGPT

FOLDER = bundled_models_dir() / DEFAULT_MODEL


@pytest.fixture(scope="module")
def pipe():
    return T2MGPT.from_pretrained(device="cpu")  # no name: the bundled default


def test_bundled_folder_is_complete_and_small():
    files = {str(p.relative_to(FOLDER)): p.stat().st_size for p in FOLDER.rglob("*") if p.is_file()}
    assert {"config.json", "vqvae.safetensors", "gpt.safetensors", "README.md", "critic/evaluator.safetensors"} <= set(files)
    assert sum(files.values()) <= 40e6, "the bundled models may take 40 MB at most"
    config = json.loads((FOLDER / "config.json").read_text())
    assert config["text_encoder"]["name"] == "minilm-sides" and config["dataset"] == "humanml3d"
    assert config["sampling"] == {"guidance_scale": 3.0, "candidates": 8}  # version 5: best of 8 with its critic


def test_model_card_has_licence_evaluation_and_limits():
    card = " ".join((FOLDER / "README.md").read_text(encoding="utf-8").split())  # unwrap lines
    for needle in ("mocap.cs.cmu.edu", "NSF EIA-0196217", "may not be resold", "Plappert", "| Real motion |",
                   "| Generated |", "| Real motion, shuffled text |", "| Random training motion |", "top-1 0.133",
                   "cannot do well", "import-official"):
        assert needle in card, needle


def test_evaluation_table_shows_text_following(pipe):
    """The card's table: R-precision far above chance and above the text-blind baselines."""
    rows = {}
    for line in pipe.config.card.evaluation.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) > 3 and "±" in cells[1]:
            rows[cells[0]] = [float(c.split("±")[0]) for c in cells[1:]]
    gen, blind = rows["Generated"], rows["Random training motion"]
    assert gen[1] > 2 / 32 and gen[1] > blind[1] + 0.02, "top-1 well above chance and the text-blind baseline"
    assert gen[0] < blind[0], "FID below that of random real training motions"


def test_listed_and_used_by_default(tmp_path, capsys):
    assert [e.source for e in list_models() if e.name == DEFAULT_MODEL][:1] == ["bundled"]
    assert main(["models"]) == 0
    assert f"{DEFAULT_MODEL} (default)" in capsys.readouterr().out
    out = tmp_path / "out"
    assert main(["generate", "a person walks forward", "--seconds", "2", "--seed", "0", "--format", "npy,bvh",
                 "--out-dir", str(out), "--device", "cpu"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a_person_walks_forward_0.bvh", "a_person_walks_forward_0.npy"]
    assert np.load(out / "a_person_walks_forward_0.npy").shape == (40, 22, 3)


def _travel(joints):  # horizontal distance covered by the root (m)
    return float(np.linalg.norm(np.diff(joints[:, 0, [0, 2]], axis=0), axis=1).sum())


def _lift(joints):  # highest rise of the lower of the two feet above its starting height (m)
    feet = joints[:, [10, 11], 1].min(axis=1)
    return float(feet.max() - np.median(feet[:5]))


def _heading_range(joints):  # how far the hips' facing turns over the motion (degrees)
    across = joints[:, 2] - joints[:, 1]  # left hip -> right hip
    angle = np.unwrap(np.arctan2(across[:, 2], across[:, 0]))
    return float(np.degrees(angle.max() - angle.min()))


def _drop(joints):  # how far the pelvis goes below its starting height (m)
    return float(joints[:5, 0, 1].mean() - joints[:, 0, 1].min())


def test_motions_follow_simple_prompts(pipe):
    walk, box, jump = pipe(["a person walks forward", "a person is boxing", "a person jumps up and down"],
                             num_samples=6, seconds=4, seed=0)
    for m in walk + box + jump:
        assert m.joints.shape == (80, 22, 3) and np.isfinite(m.joints).all()
        height = np.median(m.joints[:, 15, 1] - m.joints[:, [10, 11], 1].min(axis=1))
        assert 1.2 < height < 2.0, f"head {height:.2f} m above the feet: a human-sized body"
    walk_travel = np.median([_travel(m.joints) for m in walk])
    box_travel = np.median([_travel(m.joints) for m in box])
    assert 1.5 < walk_travel < 8.0, f"a 4 s walk covers 1.5-8 m, got {walk_travel:.2f}"
    assert box_travel < walk_travel / 2, (box_travel, walk_travel)
    assert max(_lift(m.joints) for m in jump) > 0.1, "a jump leaves the ground"
    assert np.median([_lift(m.joints) for m in jump]) > np.median([_lift(m.joints) for m in walk])


def test_turning_and_sitting(pipe):
    turn, walk, sit = pipe(["a person turns around", "a person walks forward", "a person sits down"],
                           num_samples=6, seconds=4, seed=0)
    turn_deg = np.median([_heading_range(m.joints) for m in turn])
    walk_deg = np.median([_heading_range(m.joints) for m in walk])
    assert turn_deg > 60 and turn_deg > 3 * walk_deg, (turn_deg, walk_deg)
    sit_drop = np.median([_drop(m.joints) for m in sit])
    walk_drop = np.median([_drop(m.joints) for m in walk])
    assert sit_drop > 0.15 and sit_drop > 3 * walk_drop, (sit_drop, walk_drop)
