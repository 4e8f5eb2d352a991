"""The authoring commands: `generate --timeline`, `continue`, `inbetween` (issue 15.6)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from tiny_model import make_tiny_model_dir

from t2mgpt.authoring.smoothness import boundary_smoothness
from t2mgpt.cli import main


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("models") / "tiny")


def run(tiny_dir, *args):
    return main([*args, "--model", str(tiny_dir)])


def test_timeline_continue_and_inbetween_write_files(tiny_dir, tmp_path):
    out = tmp_path / "o"
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"segments": [{"text": "a person walks forward", "seconds": 6},
                                             {"text": "a person sits down", "seconds": 6}],
                                "path": [[2.0, 0.0, 0.5]]}))
    assert run(tiny_dir, "generate", "--timeline", str(plan), "--format", "npy,bvh,json", "--seed", "0",
               "--out-dir", str(out)) == 0
    doc = json.loads((out / "plan_0.json").read_text())
    assert doc["num_frames"] == 240 and [s["start"] for s in doc["segments"]] == [0, 120]
    given = np.load(out / "plan_0.npy")
    assert run(tiny_dir, "continue", str(out / "plan_0.bvh"), "a person jumps", "--seconds", "2", "--format", "npy",
               "--seed", "0", "--out-dir", str(out)) == 0
    cont = np.load(out / "plan_0_then_a_person_jumps_0.npy")
    assert cont.shape == (279, 22, 3) and np.abs(cont[:240] - given).max() < 0.01
    assert max(boundary_smoothness(cont, [240])) <= 1.75
    assert run(tiny_dir, "inbetween", str(out / "plan_0.npy"), str(out / "plan_0.npy"), "a person turns",
               "--seconds", "2", "--format", "npy", "--seed", "0", "--end-position", "1", "2",
               "--out-dir", str(out)) == 0
    between = np.load(out / "plan_0_to_plan_0_0.npy")
    np.testing.assert_array_equal(between[:240], given)
    np.testing.assert_allclose(between[280, 0, [0, 2]], [1.0, 2.0], atol=0.02)
    assert run(tiny_dir, "generate", "a person walks", "--seconds", "31", "--format", "npy",
               "--out-dir", str(out)) == 0
    assert np.load(out / "a_person_walks_0.npy").shape == (620, 22, 3)


@pytest.mark.parametrize("args, message", [
    (["generate", "--timeline", "PLAN"], "the timeline is empty"),
    (["generate", "--timeline", "PLAN", "a person walks"], "give no TEXT"),
    (["generate", "--timeline", "missing.json"], "timeline file missing.json not found"),
    (["continue", "missing.npy", "a person jumps"], "motion file not found"),
    (["continue", "WRONG", "a person jumps"], "holds a kit motion"),
    (["continue", "NAN", "a person jumps"], "NaN"),
    (["continue", "GOOD", "a person jumps", "--seconds", "0"], "--seconds must be at least 0.2"),
    (["continue", "GOOD", "a person jumps", "--seconds", "1000"], "over the limit of 300 s"),
    (["inbetween", "GOOD", "SHORT", "a person turns"], "end motion: joint positions have 3 frame.*at least 5"),
    (["inbetween", "GOOD", "GOOD", "a person turns", "--candidates", "0"], "--candidates must be between"),
])
def test_errors_are_one_line_and_write_nothing(tiny_dir, tmp_path, capsys, args, message):
    files = {"PLAN": tmp_path / "plan.json", "WRONG": tmp_path / "kit.npy", "NAN": tmp_path / "nan.npy",
             "GOOD": tmp_path / "good.npy", "SHORT": tmp_path / "short.npy"}
    files["PLAN"].write_text("[]")
    np.save(files["WRONG"], np.zeros((40, 251), np.float32))
    np.save(files["NAN"], np.full((40, 263), np.nan, np.float32))
    np.save(files["GOOD"], np.load(tiny_dir / "mean.npy")[None].repeat(40, 0))
    np.save(files["SHORT"], np.zeros((3, 22, 3), np.float32))
    args = [str(files.get(a, a)) for a in args]
    assert run(tiny_dir, *args, "--out-dir", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(message, err), err
    assert not (tmp_path / "o").exists()
