"""`t2mgpt generate` and `t2mgpt models` end to end with the tiny model."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace

import imageio.v2 as imageio
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bvh import read_bvh
from tiny_model import make_tiny_model_dir

from t2mgpt import export
from t2mgpt.cli import main
from t2mgpt.motion import HUMANML3D, features_to_joints
from t2mgpt.export.files import plan_outputs, slugify

SAFE = re.compile(r"^[a-z0-9_-]{1,60}$")



@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("models") / "tiny")


def generate(tiny_dir, out, *args):
    return main(["generate", *args, "--model", str(tiny_dir), "--out-dir", str(out), "--device", "cpu"])


def files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_end_to_end_every_format(tiny_dir, tmp_path, capsys):
    out = tmp_path / "outputs"
    assert generate(tiny_dir, out, "a person jumps", "--format", "mp4,bvh,npy,json", "--seed", "0",
                    "--seconds", "2") == 0
    assert files(out) == ["a_person_jumps_0.bvh", "a_person_jumps_0.json", "a_person_jumps_0.mp4",
                          "a_person_jumps_0.npy"]
    printed = capsys.readouterr().out
    assert f"wrote 4 file(s) to {out}/" in printed and "2.0 s, seed 0" in printed

    joints = np.load(out / "a_person_jumps_0.npy")
    assert joints.shape == (40, 22, 3) and joints.dtype == np.float32

    doc = json.loads((out / "a_person_jumps_0.json").read_text())
    assert doc["text"] == "a person jumps" and doc["fps"] == 20.0 and doc["seed"] == 0
    assert doc["num_frames"] == 40 and len(doc["tokens"]) == 10 and doc["duration"] == 2.0
    np.testing.assert_allclose(doc["joints"], joints, atol=5e-4 + 1e-7)  # millimetres
    assert all(round(v, 3) == v for v in np.ravel(doc["joints"]))

    reader = imageio.get_reader(out / "a_person_jumps_0.mp4", format="ffmpeg")
    assert reader.get_meta_data()["fps"] == 20.0
    assert sum(1 for _ in reader) == 40
    reader.close()

    bvh_joints, mocap = read_bvh((out / "a_person_jumps_0.bvh").read_text(), HUMANML3D)
    assert mocap.nframes == 40 and mocap.frame_time == pytest.approx(0.05)
    assert np.linalg.norm(bvh_joints - joints, axis=-1).max() < 0.01  # within 1 cm

    # same seed, same motion: the files hold what the pipeline generates
    from t2mgpt import T2MGPT

    motion = T2MGPT.from_pretrained(tiny_dir, device="cpu")(["a person jumps"], seconds=2, seed=0)[0][0]
    np.testing.assert_array_equal(motion.joints, joints)
    np.testing.assert_allclose(features_to_joints(motion.features), motion.raw_joints, atol=1e-5)


def test_never_overwrites_without_flag(tiny_dir, tmp_path, capsys):
    out = tmp_path / "o"
    assert generate(tiny_dir, out, "a person waves", "-n", "2", "--format", "npy,json", "--seed", "1",
                    "--seconds", "1") == 0
    before = {n: (out / n).read_bytes() for n in files(out)}
    assert len(before) == 4
    assert generate(tiny_dir, out, "a person waves", "-n", "2", "--format", "npy,json", "--seed", "2") == 2
    assert "already exist" in capsys.readouterr().err
    assert {n: (out / n).read_bytes() for n in files(out)} == before
    # every target is checked before anything is written: one existing file stops the whole run
    assert generate(tiny_dir, out, "a person sits", "a person waves", "--format", "npy,json") == 2
    assert "a_person_waves_0" in capsys.readouterr().err
    assert files(out) == sorted(before)
    assert generate(tiny_dir, out, "a person waves", "-n", "2", "--format", "npy,json", "--seed", "2",
                    "--overwrite") == 0
    assert files(out) == sorted(before)
    assert (out / "a_person_waves_0.npy").read_bytes() != before["a_person_waves_0.npy"]


def test_unsafe_prompts_give_safe_unique_names(tiny_dir, tmp_path):
    prompts = ["../../etc/passwd", "/abs/path\\win..", "a\x00b", "Ünïcødé 走る person", "走る",
               "x" * 500, "A person  jumps!", "a person jumps", "-rf --force", ".", "..", "CON"]
    out = tmp_path / "out"
    assert generate(tiny_dir, out, *prompts, "--format", "npy", "--seconds", "0.4", "--seed", "0") == 0
    names = files(out)
    assert len(names) == len(prompts)  # one per prompt, none overwritten by another
    assert [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != out] == []
    for name in names:
        stem = name[:-len("_0.npy")]
        assert name.endswith("_0.npy") and re.fullmatch(r"[a-z0-9_-]+", stem) and len(stem) <= 62
    assert "etc_passwd_0.npy" in names and "unicode_person_0.npy" in names and "motion_0.npy" in names
    assert "a_person_jumps_0.npy" in names and "a_person_jumps-2_0.npy" in names
    assert not any(n.startswith(("-", ".")) for n in names)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_slugify_is_always_safe(text):
    slug = slugify(text)
    assert SAFE.match(slug) and not slug.startswith(("-", "_")) and ".." not in slug
    paths = plan_outputs([text, text], 2, ["npy", "bvh"], "out")
    flat = [p for prompt in paths for sample in prompt for p in sample.values()]
    assert len(set(flat)) == len(flat) and all(str(p.parent) == "out" for p in flat)


def test_failure_midway_leaves_nothing(tiny_dir, tmp_path, monkeypatch):
    calls = []

    def broken_bvh(motion, path, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise RuntimeError("renderer crashed")
        path.write_text("partial")

    monkeypatch.setitem(export._FORMATS, "bvh", replace(export.get_format("bvh"), encode=None, write=broken_bvh))
    out = tmp_path / "new" / "dir"
    with pytest.raises(RuntimeError, match="renderer crashed"):
        generate(tiny_dir, out, "a person walks", "-n", "3", "--format", "npy,bvh,json", "--seconds", "0.4")
    assert len(calls) == 2
    assert not (tmp_path / "new").exists()  # folders made by the run are gone too
    # into an existing folder with other files: those stay, nothing of the run remains
    out = tmp_path / "keep"
    out.mkdir()
    (out / "mine.txt").write_text("x")
    calls.clear()
    with pytest.raises(RuntimeError):
        generate(tiny_dir, out, "a person walks", "-n", "3", "--format", "npy,bvh", "--seconds", "0.4")
    assert files(out) == ["mine.txt"]


def test_many_prompts_run_in_batches_with_the_same_seeds(tiny_dir, tmp_path):
    prompts = ["a person walks", "a person runs", "a person hops", "a person crawls", "a person swims"]
    for name, batch in (("one", "64"), ("split", "4")):  # 5 x 2 motions: 1 batch, or 3 batches of <= 2 prompts
        assert generate(tiny_dir, tmp_path / name, *prompts, "-n", "2", "--seed", "7", "--format", "json",
                        "--batch-size", batch) == 0
    assert files(tmp_path / "one") == files(tmp_path / "split") and len(files(tmp_path / "one")) == 10
    for n in files(tmp_path / "one"):
        a, b = (json.loads((tmp_path / d / n).read_text()) for d in ("one", "split"))
        assert a["seed"] == b["seed"] and a["tokens"] == b["tokens"]
    seeds = sorted(json.loads((tmp_path / "one" / n).read_text())["seed"] for n in files(tmp_path / "one"))
    assert seeds == list(range(7, 17))


def test_truncation_warning_is_one_line(tiny_dir, tmp_path, capsys):
    assert generate(tiny_dir, tmp_path / "o", "walk " * 100, "--format", "npy", "--seconds", "0.4") == 0
    err = capsys.readouterr().err
    assert "t2mgpt generate: warning: text #0 has 100 words" in err and "warnings.warn" not in err


def test_prompt_file_and_output_listing(tiny_dir, tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# my prompts\na person walks\n\n  a person turns around  \n", encoding="utf-8")
    out = tmp_path / "o"
    assert generate(tiny_dir, out, "a person bows", "--file", str(prompts), "--format", "json",
                    "--greedy", "--seconds", "0.4") == 0
    assert files(out) == ["a_person_bows_0.json", "a_person_turns_around_0.json", "a_person_walks_0.json"]
    assert json.loads((out / "a_person_turns_around_0.json").read_text())["text"] == "a person turns around"
    printed = capsys.readouterr().out
    assert "'a person turns around' #0: 0.4 s -> a_person_turns_around_0.json" in printed


@pytest.mark.parametrize("args, message", [
    (["--format", "mp4,avi"], "unknown output format 'avi'"),
    (["--format", ","], "no output format"),
    (["-n", "0"], "num-samples must be at least 1"),
    (["-n", "70"], "num-samples 70 is over the batch size of 64"),
    (["--batch-size", "0"], "batch-size must be at least 1"),
    (["--seconds", "301"], "over the limit of 300 s"),
    (["--seconds", "0.1"], "between 0.2 and 10"),
    (["--temperature", "0"], "temperature"),
    (["--guidance-scale", "-2"], "guidance_scale"),
    (["--device", "cuda:9"], "CUDA|device"),
    (["--file", "missing.txt"], "prompt file missing.txt not found"),
    (["--model", "no-such-model"], "unknown model 'no-such-model'"),
])
def test_cli_errors(tiny_dir, tmp_path, capsys, args, message):
    out = tmp_path / "o"
    argv = ["generate", "a person walks", "--model", str(tiny_dir), "--out-dir", str(out), "--format", "npy", *args]
    assert main(argv) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists()


def test_cli_needs_a_prompt(tiny_dir, tmp_path, capsys):
    assert main(["generate", "--model", str(tiny_dir), "--out-dir", str(tmp_path)]) == 2
    assert "at least one prompt" in capsys.readouterr().err
    assert main(["generate", "  ", "--model", str(tiny_dir), "--out-dir", str(tmp_path)]) == 2
    assert "prompt #1 is empty" in capsys.readouterr().err


def test_models_command(tiny_dir, tmp_path, monkeypatch, capsys):
    import shutil

    from t2mgpt.io import lookup

    monkeypatch.setenv("T2MGPT_HOME", str(tmp_path))
    monkeypatch.setattr(lookup, "bundled_models_dir", lambda: tmp_path / "none")
    assert main(["models"]) == 0
    assert "no models installed" in capsys.readouterr().out
    shutil.copytree(tiny_dir, tmp_path / "models" / "walker")
    (tmp_path / "models" / "broken").mkdir()
    (tmp_path / "models" / "broken" / "config.json").write_text("{}")
    assert main(["models"]) == 0
    table = capsys.readouterr().out
    assert re.search(r"walker\s+local\s+hashing \(32-d\)\s+humanml3d\s+[\d.]+ KB\s+" + re.escape(str(tmp_path)), table)
    assert "broken" in table and "unreadable" in table
    assert main(["models", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed["walker"]["text_encoder"] == "hashing" and listed["walker"]["dataset"] == "humanml3d"
    assert listed["walker"]["size_bytes"] > 0 and listed["broken"]["error"]
    # a saved model is usable by name
    assert main(["generate", "a person walks", "--model", "walker", "--out-dir", str(tmp_path / "o"),
                 "--format", "npy", "--seconds", "0.4", "--device", "cpu"]) == 0
    assert files(tmp_path / "o") == ["a_person_walks_0.npy"]


def test_help_does_not_import_torch():
    code = ("import argparse, sys\n"
            "from t2mgpt.commands import generate, import_official, models\n"
            "for m in (generate, import_official, models): m.add_arguments(argparse.ArgumentParser())\n"
            "print(any(m in sys.modules for m in ('torch', 'transformers', 'matplotlib')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_models_command_does_not_import_torch(tiny_dir, tmp_path):
    import os
    import shutil

    shutil.copytree(tiny_dir, tmp_path / "models" / "walker")
    code = ("import sys; from t2mgpt.cli import main; main(['models', '--json']); "
            "print(any(m in sys.modules for m in ('torch', 'transformers')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "T2MGPT_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    listing, torch_imported = result.stdout.rsplit("\n", 2)[:2]
    assert torch_imported == "False"
    walker = [m for m in json.loads(listing) if m["name"] == "walker"]
    assert walker and walker[0]["text_encoder"] == "hashing" and walker[0]["error"] is None


def test_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["generate", "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "--out-dir" in text and "t2mgpt-cmu-demo" in text and "bvh, gif, glb, json, mp4, npy, npz" in text
