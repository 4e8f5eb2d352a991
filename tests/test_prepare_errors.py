"""`t2mgpt prepare` under accident and bad input: a full or read-only disk (real tmpfs mounts),
wrong types in the source files, and bad trials among good ones (skipped, reported, and fatal
only when nothing usable is left)."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from helpers import fill_disk

from t2mgpt.cli import main
from t2mgpt.data.humanml3d import read_split
from t2mgpt.prepare import CMUSource, cmu_joint_map

GOOD = ["08_07", "14_37"]  # train (2.6 s), test (4.3 s)


@pytest.fixture(scope="module")
def cmu(cmu_dir):
    return CMUSource(cmu_dir)


def cmu_copy(cmu, folder, arrays: dict, records: list[dict] | None = None):
    """A cmu_ml-like folder holding `arrays` (id -> joints) and the real records of those ids."""
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "joints20.npz", **arrays)
    records = records or [dict(cmu.records[i], id=i) for i in arrays]
    (folder / "captions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def generic_copy(cmu, folder, arrays: dict, scale: float = 1.0):
    """A generic source folder (CMU skeleton, 12 fps) holding `arrays`, all in the train split."""
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "motions.npz", **arrays)
    (folder / "joint_map.json").write_text(json.dumps(dict(cmu_joint_map().to_dict(), scale=scale)))
    (folder / "captions.jsonl").write_text("".join(
        json.dumps({"id": i, "split": "train", "captions": [{"text": "a person walks"}]}) + "\n" for i in arrays))
    return folder


def prepare(kind: str, src, out, *extra) -> int:
    return main(["prepare", kind, "--src", str(src), "--out", str(out), "--quiet", *extra])


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    last = err.splitlines()[-1]
    assert "Traceback" not in err and last.startswith("t2mgpt prepare: error:"), err
    return last


def source(kind, cmu, folder, ids):
    arrays = {i: cmu.load(i).joints.astype(np.float32) for i in ids}
    return cmu_copy(cmu, folder, arrays) if kind == "cmu" else generic_copy(cmu, folder, arrays)


# --- the output disk ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["cmu", "generic"])
def test_full_disk_is_one_line_and_leaves_no_folder(kind, cmu, mount, tmp_path, capsys):
    src = source(kind, cmu, tmp_path / "src", GOOD)
    disk = mount("size=256k")
    fill_disk(disk)
    assert prepare(kind, src, disk / "hml") == 2
    err = one_line_error(capsys)
    assert "No space left on device" in err and "was removed" in err
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]  # no half-built folder, no temp files


def test_disk_full_midway_keeps_finished_trials_and_the_rerun_continues(cmu, mount, tmp_path, capsys):
    # trial a (2.6 s, ~140 KB with its mirror) fits in 300 KB, trial b (10 s, ~530 KB) does not
    src = generic_copy(cmu, tmp_path / "src", {"a": cmu.load("08_07").joints, "b": cmu.load("06_12").joints})
    disk = mount("size=300k")
    out = disk / "hml"
    assert prepare("generic", src, out) == 2
    err = one_line_error(capsys)
    assert "No space left on device" in err and "run the same command again" in err
    assert (out / ".prepare" / "a.json").is_file() and not (out / ".prepare" / "b.json").exists()
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]  # no partial files
    subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)
    assert prepare("generic", src, out) == 0
    summary = json.loads((out / "prepare_summary.json").read_text())
    assert summary["trials_skipped"] == 1 and read_split(out, "train") == ["a", "b", "Ma", "Mb"]


@pytest.mark.parametrize("kind", ["cmu", "generic"])
def test_read_only_output_is_one_line(kind, cmu, mount, tmp_path, capsys):
    src = source(kind, cmu, tmp_path / "src", GOOD)
    disk = mount("ro,size=64k")
    assert prepare(kind, src, disk / "hml") == 2
    assert "Read-only file system" in one_line_error(capsys)
    assert list(disk.iterdir()) == []


# --- wrong types in the source files -----------------------------------------------------

@pytest.mark.parametrize("change, message", [
    ({"fps": "twelve"}, "fps must be a positive number of frames per second, got 'twelve'"),
    ({"fps": 0}, "fps must be a positive number"),
    ({"captions": "a person walks"}, "'captions' must be a list"),
    ({"captions": ["a person walks"]}, "'captions' must be a list"),
])
def test_cmu_record_of_wrong_type_is_one_line(change, message, cmu, tmp_path, capsys):
    records = [dict(cmu.records[i], id=i) for i in GOOD]
    records[0].update(change)
    src = cmu_copy(cmu, tmp_path / "src", {i: cmu.load(i).joints for i in GOOD}, records)
    assert prepare("cmu", src, tmp_path / "out") == 2
    assert message in one_line_error(capsys)
    assert not (tmp_path / "out").exists()


def test_generic_record_fps_of_wrong_type_is_one_line(cmu, tmp_path, capsys):
    src = generic_copy(cmu, tmp_path / "src", {"a": cmu.load("08_07").joints})
    (src / "captions.jsonl").write_text(json.dumps({"id": "a", "fps": "twelve"}) + "\n")
    assert prepare("generic", src, tmp_path / "out") == 2
    assert "fps must be a positive number of frames per second, got 'twelve'" in one_line_error(capsys)


@pytest.mark.parametrize("kind", ["cmu", "generic"])
def test_integer_joints_are_converted(kind, cmu, tmp_path):
    """Integer positions (here millimetres) are numbers: the same motion as the float array."""
    mm = {i: np.round(cmu.load(i).joints * 1000).astype(np.int32) for i in GOOD}
    metres = {i: a / 1000.0 for i, a in mm.items()}
    if kind == "cmu":  # the CMU map has no scale: integers are taken as metres, so use metres * 1
        mm = {i: np.round(a).astype(np.int32) for i, a in mm.items()}
        metres = {i: a.astype(np.float64) for i, a in mm.items()}
        src_int, src_float = cmu_copy(cmu, tmp_path / "i", mm), cmu_copy(cmu, tmp_path / "f", metres)
    else:
        src_int, src_float = generic_copy(cmu, tmp_path / "i", mm, 0.001), generic_copy(cmu, tmp_path / "f", metres)
    assert prepare(kind, src_int, tmp_path / "oi") == prepare(kind, src_float, tmp_path / "of") == 0
    for i in GOOD:
        a, b = (np.load(tmp_path / o / "new_joint_vecs" / f"{i}.npy") for o in ("oi", "of"))
        assert np.abs(a - b).max() < 1e-4


# --- bad trials among good ones ----------------------------------------------------------

def test_bad_trials_are_skipped_reported_and_summarised(cmu, tmp_path, capsys, caplog):
    arrays = {i: cmu.load(i).joints for i in GOOD}
    bad = {"05_03": arrays["08_07"][:, :5],                         # wrong shape (aborted the run before)
           "05_15": np.full_like(arrays["08_07"], np.nan),          # NaN
           "05_16": arrays["08_07"][:3],                            # 3 frames
           "02_04": arrays["08_07"].astype(np.complex64),           # not real numbers
           "03_01": np.zeros((0, 20, 3), np.float32),               # empty
           "01_02": arrays["08_07"].astype(np.int32)}               # metres cut to integers: no bones
    src = cmu_copy(cmu, tmp_path / "src", {**arrays, **bad})
    out = tmp_path / "out"
    assert prepare("cmu", src, out) == 0
    assert "Traceback" not in capsys.readouterr().err
    err = caplog.text
    for tid in bad:  # every bad trial named, with its reason
        assert f"skipped trial {tid}:" in err
    assert "skipped 6 of 8 trials: " in err
    summary = json.loads((out / "prepare_summary.json").read_text())
    assert summary["trials_without_clips"] == 6
    assert summary["trials_without_clips_by_reason"] == {
        "bad source data": 2, "NaN/inf in the source joints": 1, "too short": 2,
        "feature extraction failed: the joints give undefined rotations": 1}
    assert read_split(out, "train") == ["08_07", "M08_07"] and read_split(out, "test") == ["14_37", "M14_37"]


def test_nothing_usable_is_one_line_naming_the_reasons(cmu, tmp_path, capsys):
    joints = cmu.load("08_07").joints
    src = cmu_copy(cmu, tmp_path / "src", {"08_07": joints[:, :5], "14_37": joints[:3]})
    assert prepare("cmu", src, tmp_path / "out") == 2
    err = one_line_error(capsys)
    assert "no usable clip" in err and "skipped 2 of 2 trials: 1 bad source data, 1 too short" in err
    assert not (tmp_path / "out").exists()
