"""BVH export: read the files back with independent parsers (`bvh`, `bvhio`), run our own small
forward kinematics (scipy Euler angles) and get the original joint positions back."""
from __future__ import annotations

import numpy as np
import pytest
from bvh import Bvh
from scipy.spatial.transform import Rotation

from t2mgpt.export.bvh import bvh_string, euler_angles, joints_to_animation, write_bvh
from t2mgpt.cli import main
from t2mgpt.errors import InputError
from t2mgpt.motion import HUMANML3D, KIT, Normalizer, default_offsets, features_to_joints

CM = 0.01


# ---------------------------------------------------------------------------- independent FK


def fk(parents, offsets, local, root_pos):
    """World joint positions (T, J, 3): world_p + R_world_p @ offset, R_world = R_world_p * local.

    `local` is a list of scipy Rotations (each over T frames); joints are in topological order.
    """
    positions, world = [None] * len(parents), [None] * len(parents)
    for j, p in enumerate(parents):
        if p < 0:
            positions[j], world[j] = root_pos + offsets[j], local[j]
        else:
            positions[j] = positions[p] + world[p].apply(np.tile(offsets[j], (len(root_pos), 1)))
            world[j] = world[p] * local[j]
    return np.stack(positions, axis=1)


def read_bvh(text: str, skeleton):
    """Parse with the `bvh` package; return (joints (T, J, 3) in skeleton order, parsed Bvh)."""
    mocap = Bvh(text)
    names = mocap.get_joints_names()
    assert sorted(names) == sorted(skeleton.joint_names)
    order = [names.index(n) for n in skeleton.joint_names]
    for name, p in zip(skeleton.joint_names, skeleton.parents):  # the skeleton's hierarchy
        parent = mocap.joint_parent(name)
        assert (parent is None) if p < 0 else parent.name == skeleton.joint_names[p]
    parents = [mocap.joint_parent_index(n) for n in names]
    frames = np.array(mocap.frames, dtype=np.float64)  # (T, channels), joints in file order
    assert frames.shape[0] == mocap.nframes
    offsets, local, root_pos, column = [], [], None, 0
    for n in names:
        channels = mocap.joint_channels(n)
        values = frames[:, column:column + len(channels)]
        column += len(channels)
        rot = [c for c in channels if c.endswith("rotation")]
        angles = values[:, [channels.index(c) for c in rot]]
        local.append(Rotation.from_euler("".join(c[0] for c in rot), angles, degrees=True))  # intrinsic
        offsets.append(np.array(mocap.joint_offset(n)))
        if "Xposition" in channels:
            root_pos = values[:, [channels.index(c) for c in ("Xposition", "Yposition", "Zposition")]]
    joints = fk(parents, offsets, local, root_pos)
    return joints[:, order], mocap


def smooth_random_motion(skeleton, frames=120, seed=0, spin_turns=2.0):
    """Joints from random smooth local rotations of a rest skeleton, spinning about y and walking away."""
    rng = np.random.default_rng(seed)
    lengths = rng.uniform(0.05, 0.4, skeleton.num_joints)
    rest = skeleton.raw_offsets * lengths[:, None] + rng.normal(0, 0.02, (skeleton.num_joints, 3))
    rest[0] = 0
    t = np.arange(frames)[:, None] / 20.0
    local = []
    for j in range(skeleton.num_joints):
        amp, freq, phase = rng.uniform(0.2, 0.9, 3), rng.uniform(0.1, 0.5, 3), rng.uniform(0, 6.3, 3)
        local.append(Rotation.from_rotvec(amp * np.sin(2 * np.pi * freq * t + phase)))
    yaw = Rotation.from_euler("y", 2 * np.pi * spin_turns * t / t[-1])
    local[0] = yaw * local[0]
    root = np.stack([3 * t[:, 0] + 40, 1.0 + 0.1 * np.sin(t[:, 0]), -25 - t[:, 0]], axis=1)
    return fk(skeleton.parents, rest, local, root)


def max_error(a, b) -> float:
    return float(np.linalg.norm(a - b, axis=-1).max())


def turned(joints, degrees, shift):
    rot = Rotation.from_euler("y", degrees, degrees=True)
    return rot.apply(joints.reshape(-1, 3)).reshape(joints.shape) + np.asarray(shift)


# ---------------------------------------------------------------------------- round trips


def test_real_clip_round_trip(ref_motion, tmp_path):
    joints = ref_motion["joints"]  # (170, 22, 3)
    path = write_bvh(tmp_path / "clip.bvh", joints, "humanml3d", fps=20)
    back, mocap = read_bvh(path.read_text(), HUMANML3D)
    assert mocap.nframes == 170 and abs(mocap.frame_time - 0.05) < 1e-9
    assert back.shape == joints.shape
    assert max_error(back, joints) < CM  # measured: ~2.5e-6 m


def test_bvhio_reads_the_same_positions(ref_motion, tmp_path):
    bvhio = pytest.importorskip("bvhio")
    joints = ref_motion["joints"]
    write_bvh(tmp_path / "clip.bvh", joints)
    root = bvhio.readAsHierarchy(str(tmp_path / "clip.bvh"))
    for frame in (0, 85, 169):
        root.loadPose(frame)
        world = {j.Name: np.array(j.PositionWorld) for j, _, _ in root.layout()}
        got = np.stack([world[n] for n in HUMANML3D.joint_names])
        assert max_error(got, joints[frame]) < CM


@pytest.mark.parametrize("degrees, shift", [(90, (0, 0, 0)), (180, (120.0, 0.0, -75.0)),
                                            (-90, (-30.0, 2.0, 55.0))])
@pytest.mark.parametrize("order", ["auto", "ZYX"])
def test_sideways_backwards_far_away(ref_motion, degrees, shift, order):
    # ZYX puts the yaw in the middle: gimbal lock when the body faces sideways
    joints = turned(ref_motion["joints"][::4], degrees, shift)
    back, _ = read_bvh(bvh_string(joints, rotation_order=order), HUMANML3D)
    assert max_error(back, joints) < CM


@pytest.mark.parametrize("skeleton", [HUMANML3D, KIT], ids=["humanml3d", "kit"])
def test_synthetic_spinning_motion(skeleton):
    joints = smooth_random_motion(skeleton)
    text = bvh_string(joints, skeleton)
    back, mocap = read_bvh(text, skeleton)
    assert max_error(back, joints) < CM
    # Euler channels are continuous: no 360-degree wraps or Euler flips between frames
    values = np.array(mocap.frames, dtype=np.float64)[:, 3:]
    assert np.abs(np.diff(values, axis=0)).max() < 45.0
    # the root yaw accumulates two full turns instead of wrapping
    assert np.ptp(values[:, :3], axis=0).max() > 600


@pytest.mark.parametrize("order", ["ZXY", "ZYX", "YXZ"])
def test_euler_angles_are_continuous_through_gimbal_lock(order):
    # two and a half turns about the middle axis (through +-90 degrees) while the others wobble
    t = np.linspace(0, 1, 200)
    truth = Rotation.from_euler(order, np.stack([0.3 * np.sin(7 * t), 5 * np.pi * t, 0.2 * np.cos(5 * t)], 1))
    quats = truth.as_quat()[:, [3, 0, 1, 2]]
    angles = euler_angles(quats, order)
    assert np.abs(np.diff(angles, axis=0)).max() < 0.3
    assert np.allclose((Rotation.from_euler(order, angles) * truth.inv()).magnitude(), 0, atol=1e-6)


def test_centimetres(ref_motion):
    joints = ref_motion["joints"][:40]
    metres, _ = read_bvh(bvh_string(joints), HUMANML3D)
    cm, _ = read_bvh(bvh_string(joints, scale=100.0), HUMANML3D)
    np.testing.assert_allclose(cm / 100.0, metres, atol=1e-5)
    assert max_error(cm / 100.0, joints) < CM


def test_fixed_order_is_stated_per_joint(ref_motion):
    text = bvh_string(ref_motion["joints"][:10], rotation_order="zxy")
    rot_lines = [line.split()[-3:] for line in text.splitlines() if line.strip().startswith("CHANNELS")]
    assert len(rot_lines) == 22 and all(r == ["Zrotation", "Xrotation", "Yrotation"] for r in rot_lines)


def test_rest_pose_is_a_t_pose_with_dataset_bone_lengths(ref_motion):
    anim = joints_to_animation(ref_motion["joints"], "humanml3d")
    off = anim.offsets
    names = HUMANML3D.joint_names
    tgt = default_offsets("humanml3d")  # the HumanML3D target skeleton
    np.testing.assert_allclose(np.linalg.norm(off, axis=-1), np.linalg.norm(tgt, axis=-1), atol=1e-5)
    for side, sign in (("left", 1), ("right", -1)):
        for part in ("shoulder", "elbow", "wrist"):  # arms straight out sideways
            d = off[names.index(f"{side}_{part}")]
            assert sign * d[0] > 0.99 * np.linalg.norm(d)
        for part in ("knee", "ankle"):  # legs straight down
            d = off[names.index(f"{side}_{part}")]
            assert -d[1] > 0.99 * np.linalg.norm(d)
        assert sign * off[names.index(f"{side}_hip")][0] > 0
    assert off[names.index("head")][1] > 0.99 * np.linalg.norm(off[names.index("head")])
    leaves = [j for j in range(22) if j not in HUMANML3D.parents]
    assert sorted(np.flatnonzero(np.abs(anim.end_sites).sum(-1))) == sorted(leaves)


def test_two_frames_and_torch_input(ref_motion):
    import torch

    joints = ref_motion["joints"][:2]
    back, mocap = read_bvh(bvh_string(torch.from_numpy(joints)), HUMANML3D)
    assert mocap.nframes == 2 and max_error(back, joints) < CM
    with pytest.raises(InputError, match="at least 2 are needed"):  # one frame is no motion
        bvh_string(joints[:1])


@pytest.mark.parametrize("bad, match", [
    (np.zeros((10, 22)), "shape"),
    (np.zeros((10, 23, 3)), "joints"),
    (np.zeros((0, 22, 3)), "frame"),
    (np.full((5, 22, 3), np.nan), "NaN"),
])
def test_bad_joints(bad, match):
    with pytest.raises(InputError, match=match):
        bvh_string(bad)


def test_bad_options(ref_motion):
    joints = ref_motion["joints"][:5]
    with pytest.raises(InputError, match="rotation order"):
        bvh_string(joints, rotation_order="XXY")
    with pytest.raises(InputError, match="fps"):
        bvh_string(joints, fps=0)
    with pytest.raises(InputError, match="scale"):
        bvh_string(joints, scale=-1)
    with pytest.raises(InputError, match="21"):
        bvh_string(joints[:, :21], "humanml3d")


# ---------------------------------------------------------------------------- CLI


def test_cli_features(ref_motion, tmp_path, capsys):
    vecs = ref_motion["vecs"]  # (170, 263)
    np.save(tmp_path / "m.npy", vecs)
    out = tmp_path / "m.bvh"
    assert main(["export", str(tmp_path / "m.npy"), "-o", str(out), "--no-cleanup"]) == 0
    assert str(out) in capsys.readouterr().out
    back, mocap = read_bvh(out.read_text(), HUMANML3D)
    assert max_error(back, ref_motion["joints"]) < CM
    assert max_error(back, features_to_joints(vecs)) < CM
    # with the foot cleanup (the default for features) the BVH is the cleaned motion of the .npy
    assert main(["export", str(tmp_path / "m.npy"), "-o", str(tmp_path / "c.bvh")]) == 0
    assert main(["export", str(tmp_path / "m.npy"), "-o", str(tmp_path / "c.npy")]) == 0
    back, _ = read_bvh((tmp_path / "c.bvh").read_text(), HUMANML3D)
    assert max_error(back, np.load(tmp_path / "c.npy")) < 1e-4


def test_cli_normalized_features_in_cm(ref_motion, tmp_path, capsys):
    vecs = ref_motion["vecs"][:60]
    np.save(tmp_path / "z.npy", Normalizer.humanml3d().normalize(vecs))
    out = tmp_path / "z.bvh"
    # forgetting --normalized gets a warning
    assert main(["export", str(tmp_path / "z.npy"), "-o", str(out)]) == 0
    assert "--normalized" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "z.npy"), "-o", str(out), "--normalized",
                 "--scale", "cm", "--fps", "30", "--overwrite", "--no-cleanup"]) == 0
    assert "--normalized" not in capsys.readouterr().err
    back, mocap = read_bvh(out.read_text(), HUMANML3D)
    assert abs(mocap.frame_time - 1 / 30) < 1e-7
    assert max_error(back / 100.0, ref_motion["joints"][:60]) < CM


def test_cli_joints_and_overwrite(ref_motion, tmp_path, capsys):
    np.save(tmp_path / "j.npy", ref_motion["joints"])
    out = tmp_path / "j.bvh"
    out.write_text("keep me")
    assert main(["export", str(tmp_path / "j.npy"), "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_text() == "keep me"
    assert main(["export", str(tmp_path / "j.npy"), "-o", str(out), "--overwrite"]) == 0
    back, _ = read_bvh(out.read_text(), HUMANML3D)
    assert max_error(back, ref_motion["joints"]) < CM


@pytest.mark.parametrize("case", ["suffix", "nan", "shape", "missing", "no_folder",
                                  "normalized_joints", "few"])
def test_cli_errors(case, ref_motion, tmp_path, capsys):
    src, out = tmp_path / "in.npy", tmp_path / "out.bvh"
    data = {"nan": np.full((10, 22, 3), np.nan), "shape": np.zeros((10, 7)),
            "few": np.zeros((0, 263), np.float32)}.get(case, ref_motion["joints"][:10])
    if case != "missing":
        np.save(src, data)
    args = ["export", str(src), "-o", str(out)]
    if case == "suffix":
        out = tmp_path / "out.txt"
        args[-1] = str(out)
    if case == "no_folder":
        out = tmp_path / "nope" / "out.bvh"
        args[-1] = str(out)
    if case == "normalized_joints":
        args.append("--normalized")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.suffix != ".npy"] == []  # no temp files left
