"""Stick-figure rendering (t2mgpt.render) and the `t2mgpt render` command."""
from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from t2mgpt.cli import main
from t2mgpt.errors import InputError, T2MGPTError
from t2mgpt.motion import KIT, Normalizer
from t2mgpt.render import painter, render_frames, render_motion, render_strip, style

SMALL = dict(width=96, height=80)


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    with (files("t2mgpt.assets") / "sample_motion.npy").open("rb") as f:
        return np.load(f)  # (170, 22, 3)


@pytest.fixture(scope="module")
def clip(sample) -> np.ndarray:
    return sample[40:52]  # 12 frames, mid-walk


def _dir_listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _colour_mask(img: np.ndarray, colour, tol: float = 60.0) -> np.ndarray:
    return np.linalg.norm(img.astype(np.float32) - np.array(colour, np.float32), axis=-1) < tol


# ---- output files --------------------------------------------------------------------------

def test_mp4_is_playable_h264(tmp_path, clip):
    out = render_motion(clip, tmp_path / "walk.mp4", title="a person walks", **SMALL)
    reader = imageio.get_reader(out, format="ffmpeg")
    meta = reader.get_meta_data()
    frames = [f for f in reader]
    reader.close()
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    assert meta["fps"] == 20.0
    assert len(frames) == len(clip)
    assert frames[0].shape == (80, 96, 3)
    # Decoded video matches the rendered frames (up to H.264 loss).
    rendered = render_frames(clip, title="a person walks", **SMALL)
    assert np.abs(frames[5].astype(int) - rendered[5]).mean() < 4.0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # a normal new file, not the private temp


def test_mp4_odd_size_is_made_even(tmp_path, clip):
    out = render_motion(clip[:4], tmp_path / "odd.mp4", width=75, height=61)
    reader = imageio.get_reader(out, format="ffmpeg")
    assert reader.get_meta_data()["size"] == (76, 62)
    reader.close()


def test_gif_frames_and_timing(tmp_path, clip):
    out = render_motion(clip, tmp_path / "walk.gif", fps=10, **SMALL)
    frames = imageio.mimread(out)
    assert len(frames) == len(clip)
    assert frames[0].shape[:2] == (80, 96)
    from PIL import Image

    with Image.open(out) as im:
        assert im.info["duration"] == 100 and im.info["loop"] == 0


def test_frames_and_torch_input(clip):
    frames = render_frames(torch.from_numpy(clip), **SMALL)
    assert frames.shape == (len(clip), 80, 96, 3) and frames.dtype == np.uint8
    assert (frames[0] != frames[-1]).any()  # the person moves
    np.testing.assert_array_equal(frames, render_frames(clip, **SMALL))  # deterministic


def test_strip_png(tmp_path, sample):
    out = tmp_path / "strip.png"
    strip = render_strip(sample, out, n=4, title="a person walks forward and back", width=64, height=80)
    assert strip.shape[1] == 4 * 64 and strip.shape[0] > 80  # title band above the panels
    np.testing.assert_array_equal(imageio.imread(out)[..., :3], strip)


# ---- the picture is right ------------------------------------------------------------------

def test_person_is_upright_and_not_mirrored(sample):
    """Image content alone: arms above legs, head (trunk colour) on top, and seen from the
    front the person's left side (blue) is on the image's right."""
    t = 110  # standing on the way back, facing the start direction
    img = render_frames(sample[t - 1:t + 1], camera="fixed", azimuth=0, elevation=10,
                        width=240, height=240, floor=False, trajectory=False, timeline=False)[-1]
    rows, cols = np.indices(img.shape[:2])
    c = style.LIMB_COLOURS
    left_leg, right_leg = _colour_mask(img, c["left", "leg"]), _colour_mask(img, c["right", "leg"])
    left_arm, right_arm = _colour_mask(img, c["left", "arm"]), _colour_mask(img, c["right", "arm"])
    trunk = _colour_mask(img, c["center", "trunk"])
    for mask in (left_leg, right_leg, left_arm, right_arm, trunk):
        assert mask.sum() > 20
    legs, arms = left_leg | right_leg, left_arm | right_arm
    assert rows[arms].mean() < rows[legs].mean() - 20
    assert rows[trunk].min() < rows[arms].min()  # head outline / neck on top
    assert rows[legs].max() > rows[trunk].max()  # feet at the bottom
    # The first frame of this clip faces the camera at azimuth 0; so does frame 110 (walked back).
    assert cols[left_leg | left_arm].mean() > cols[right_leg | right_arm].mean()


def test_drawing_follows_the_camera(sample):
    """Head above feet in the projection, and ink where the projected joints are."""
    p = painter(sample, "title", **SMALL, timeline=False)
    skel = p.skeleton
    for t in (0, 60, 120, 169):
        px, depth = p.camera.project(p.joints[t], t)
        assert (depth > 0).all()
        head = px[style.head_joint(skel)]
        feet = px[[skel.foot_left[0], skel.foot_right[0]]]
        assert head[1] < feet[:, 1].min()
        # Everything stays inside the frame (below the title band).
        assert (px[:, 0] > 0).all() and (px[:, 0] < 96).all() and (px[:, 1] < 80).all()
        img = np.asarray(p(t)).astype(int)
        bg = np.asarray(p.static.reduce(p.k)).astype(int)
        head_r = p.camera.focal * 0.1 * p.unit / depth[style.head_joint(skel)]
        for j, (x, y) in enumerate(px.round().astype(int)):
            # Joints under the head (a white disc) are hidden by it: look for its rim there.
            r = round(head_r) + 1 if np.hypot(*(px[j] - head)) <= head_r else 1
            patch = np.abs(img[y - r:y + r + 1, x - r:x + r + 1] - bg[y - r:y + r + 1, x - r:x + r + 1])
            assert patch.sum(-1).max() > 60, (t, j)


def test_kit_skeleton_in_millimetres():
    """Another skeleton and unit: the figure is framed the same way (scale from bone lengths)."""
    pos = np.zeros((KIT.num_joints, 3))
    lengths = {6: 280, 7: 250, 9: 280, 10: 250, 12: 420, 13: 420, 17: 420, 18: 420,
               14: 60, 15: 90, 19: 60, 20: 90}
    for j, parent in enumerate(KIT.parents):
        if parent >= 0:
            pos[j] = pos[parent] + KIT.raw_offsets[j] * lengths.get(j, 140)
    t = np.linspace(0, 1, 8)[:, None, None]
    joints = pos[None] + t * np.array([300.0, 0, 0])  # (8, 21, 3) drifting 30 cm, in mm
    frames = render_frames(joints, skeleton="kit", **SMALL)
    ink = (np.abs(frames[0].astype(int) - frames[0, 0, 0]).sum(-1) > 60)
    rows = np.nonzero(ink.any(1))[0]
    assert rows.max() - rows.min() > 0.5 * 80  # a person filling the frame, not a dot


@pytest.mark.timeout(30)
def test_long_travel_path_behind_the_camera(sample):
    """A root path that passes behind the eye is clipped, not projected to huge pixels."""
    joints = sample[:12].copy()
    joints[..., [0, 2]] += np.linspace(0, 30, 12)[:, None, None] * np.array([0.3, 1.0])
    frames = render_frames(joints, azimuth=180, **SMALL)
    assert frames.shape == (12, 80, 96, 3)
    p = painter(joints, azimuth=180, **SMALL)
    lines = p.camera.polylines(p.root_path, 0, near=0.3)
    assert lines and all(np.abs(line).max() < 1e5 for line in lines)


def test_title_wrapping():
    fnt = style.font(20)
    text = "a person walks forward then turns around " * 6
    lines = style.wrap_text(text, fnt, 200, max_lines=3)
    assert len(lines) == 3 and lines[-1].endswith("\u2026")
    assert all(fnt.getlength(line) <= 200 for line in lines)
    assert style.wrap_text("jump", fnt, 200, 3) == ["jump"]


# ---- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("joints, message", [
    (np.zeros((10, 22, 2)), "shape"),
    (np.zeros((10, 23, 3)), "joints"),
    (np.zeros((1, 22, 3)), "at least 2"),
    (np.full((10, 22, 3), np.nan), "NaN"),
])
def test_bad_joints(tmp_path, joints, message):
    with pytest.raises(InputError, match=message):
        render_motion(joints, tmp_path / "x.mp4")
    assert _dir_listing(tmp_path) == []


def test_bad_options(tmp_path, clip):
    with pytest.raises(InputError, match="unknown skeleton"):
        render_motion(clip, tmp_path / "x.gif", skeleton="smplx")
    with pytest.raises(InputError, match="camera"):
        render_motion(clip, tmp_path / "x.gif", camera="orbit")
    with pytest.raises(InputError, match=r"\.mp4"):
        render_motion(clip, tmp_path / "x.avi")
    with pytest.raises(InputError, match="does not exist"):
        render_motion(clip, tmp_path / "missing" / "x.mp4")
    with pytest.raises(InputError, match="PNG"):
        render_strip(clip, tmp_path / "x.jpg")
    assert _dir_listing(tmp_path) == []


def test_ffmpeg_failure_leaves_nothing(tmp_path, clip, monkeypatch):
    import imageio_ffmpeg

    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Unknown encoder libx264' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: str(fake))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(T2MGPTError, match="ffmpeg failed.*Unknown encoder"):
        render_motion(clip, out / "x.mp4", **SMALL)
    assert _dir_listing(out) == []


def test_crash_mid_render_leaves_nothing(tmp_path, clip, monkeypatch):
    from t2mgpt.render.frame import FramePainter

    draw = FramePainter.__call__

    def flaky(self, t):
        if t == 5:
            raise RuntimeError("boom")
        return draw(self, t)

    monkeypatch.setattr(FramePainter, "__call__", flaky)
    for name in ("x.mp4", "x.gif"):
        with pytest.raises(RuntimeError, match="boom"):
            render_motion(clip, tmp_path / name, **SMALL)
    assert _dir_listing(tmp_path) == []


# ---- command line --------------------------------------------------------------------------

def _cli(*argv) -> int:
    return main(["render", *map(str, argv), "--size", "64"])


def test_cli_joints_mp4(tmp_path, clip, capsys):
    np.save(tmp_path / "m.npy", clip)
    out = tmp_path / "m.mp4"
    assert _cli(tmp_path / "m.npy", "-o", out, "--title", "walking") == 0
    assert str(out) in capsys.readouterr().out
    assert len(imageio.mimread(out, format="ffmpeg")) == len(clip)


def test_cli_features_and_normalized_match_joints(tmp_path, ref_motion, capsys):
    vecs, joints = ref_motion["vecs"][:12], ref_motion["joints"][:12]
    np.save(tmp_path / "joints.npy", joints)
    np.save(tmp_path / "feats.npy", vecs)
    np.save(tmp_path / "norm.npy", Normalizer.humanml3d().normalize(vecs))
    assert _cli(tmp_path / "joints.npy", "-o", tmp_path / "j.gif") == 0
    assert _cli(tmp_path / "feats.npy", "-o", tmp_path / "f.gif") == 0
    assert _cli(tmp_path / "norm.npy", "-o", tmp_path / "n.gif", "--normalized") == 0
    assert "look normalised" not in capsys.readouterr().err
    assert _cli(tmp_path / "norm.npy", "-o", tmp_path / "forgot.gif") == 0  # renders, with a hint
    assert "--normalized" in capsys.readouterr().err
    j, f, n = (np.stack(imageio.mimread(tmp_path / name)).astype(int) for name in ("j.gif", "f.gif", "n.gif"))
    assert j.shape == (12, 64, 64, 3)
    assert np.abs(f - j).mean() < 0.5  # features -> joints (ric) reproduces the clip
    assert np.abs(n - j).mean() < 0.5
    # With explicit statistics files too.
    np.save(tmp_path / "mean.npy", Normalizer.humanml3d().mean)
    np.save(tmp_path / "std.npy", Normalizer.humanml3d().std)
    assert _cli(tmp_path / "norm.npy", "-o", tmp_path / "m.gif", "--normalized",
                "--mean", tmp_path / "mean.npy", "--std", tmp_path / "std.npy") == 0
    assert np.abs(np.stack(imageio.mimread(tmp_path / "m.gif")).astype(int) - j).mean() < 0.5


def test_cli_sample(tmp_path, capsys):
    out = tmp_path / "sample.gif"
    assert _cli("--sample", "-o", out) == 0
    assert "170 frames" in capsys.readouterr().out
    assert len(imageio.mimread(out)) == 170


def test_cli_refuses_to_overwrite(tmp_path, clip, capsys):
    np.save(tmp_path / "m.npy", clip)
    out = tmp_path / "m.gif"
    out.write_bytes(b"keep me")
    assert _cli(tmp_path / "m.npy", "-o", out) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    assert _cli(tmp_path / "m.npy", "-o", out, "--overwrite") == 0
    assert len(imageio.mimread(out)) == len(clip)


@pytest.mark.parametrize("array, extra, message", [
    (np.zeros((12, 22, 2)), [], "neither"),
    (np.zeros((12, 100)), [], "neither"),
    (np.full((12, 263), np.nan), [], "NaN"),
    (np.zeros((1, 22, 3)), [], "at least 2"),
    ("clip", ["--skeleton", "smplx"], "unknown skeleton"),
    ("clip", ["--normalized"], "features only"),
    ("feats1", [], "at least 2"),
    ("kitfeats", ["--normalized"], "--mean"),
])
def test_cli_bad_input(tmp_path, clip, capsys, array, extra, message):
    arrays = {"clip": clip, "feats1": np.zeros((1, 263)), "kitfeats": np.zeros((12, 251))}
    data = arrays[array] if isinstance(array, str) else array
    np.save(tmp_path / "m.npy", data)
    out = tmp_path / "out"
    out.mkdir()
    assert _cli(tmp_path / "m.npy", "-o", out / "m.mp4", *extra) == 2
    err = capsys.readouterr().err
    assert "error:" in err and message in err
    assert _dir_listing(out) == []


@pytest.mark.parametrize("argv, message", [
    (["MISSING", "-o", "OUT/x.mp4"], "not found"),
    (["MOTION", "-o", "OUT/x.avi"], ".mp4"),
    (["MOTION", "-o", "OUT/nope/x.mp4"], "does not exist"),
    (["-o", "OUT/x.mp4"], "--sample"),
    (["MOTION", "--sample", "-o", "OUT/x.mp4"], "--sample"),
])
def test_cli_bad_paths(tmp_path, clip, capsys, argv, message):
    np.save(tmp_path / "m.npy", clip)
    out = tmp_path / "out"
    out.mkdir()
    subst = {"MISSING": tmp_path / "missing.npy", "MOTION": tmp_path / "m.npy"}
    argv = [str(subst.get(a, a)).replace("OUT", str(out)) for a in argv]
    assert _cli(*argv) == 2
    assert message in capsys.readouterr().err
    assert _dir_listing(out) == []


def test_cli_unwritable_folder(tmp_path, clip, capsys, monkeypatch):
    np.save(tmp_path / "m.npy", clip)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Simulated (chmod does not stop root, who may run the tests).
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    assert _cli(tmp_path / "m.npy", "-o", locked / "x.mp4") == 2
    assert "permission denied" in capsys.readouterr().err
    assert _dir_listing(locked) == []
