"""glTF (.glb) export and rig presets: read back with pygltflib and our own forward kinematics
(scipy), checked by the Khronos glTF validator (npm `gltf-validator`, installed by .ci/run)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pygltflib
import pytest
from scipy.spatial.transform import Rotation
from test_bvh import read_bvh

from t2mgpt.cli import main
from t2mgpt.errors import InputError
from t2mgpt.export import MotionData, get_format
from t2mgpt.motion import HUMANML3D, KIT
from t2mgpt.motion.postprocess import postprocess

VALIDATOR = Path(__file__).parent / "validate_gltf.js"


def read_glb(data: bytes):
    """(joints (T, J, 3) by FK of the animated nodes, node names, GLTF2, times) of a GLB."""
    gltf = pygltflib.GLTF2.load_from_bytes(data)
    blob = gltf.binary_blob()

    def array(index):
        acc = gltf.accessors[index]
        view = gltf.bufferViews[acc.bufferView]
        dtype = {pygltflib.FLOAT: np.float32, pygltflib.UNSIGNED_SHORT: np.uint16,
                 pygltflib.UNSIGNED_INT: np.uint32}[acc.componentType]
        width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc.type]
        raw = np.frombuffer(blob, dtype, acc.count * width, view.byteOffset + (acc.byteOffset or 0))
        return raw.reshape(acc.count, width) if width > 1 else raw

    skin = gltf.skins[0]
    anim = gltf.animations[0]
    times = None
    translation, rotation = {}, {}
    for ch in anim.channels:
        sampler = anim.samplers[ch.sampler]
        times = array(sampler.input)
        (translation if ch.target.path == "translation" else rotation)[ch.target.node] = array(sampler.output)
    parents = {c: i for i, n in enumerate(gltf.nodes) for c in (n.children or [])}
    t = len(times)
    world, pos = {}, {}
    for node in _preorder(gltf, skin.joints[0]):
        n = gltf.nodes[node]
        local_t = translation.get(node, np.tile(n.translation or [0, 0, 0], (t, 1)))
        local_r = Rotation.from_quat(rotation.get(node, np.tile(n.rotation or [0, 0, 0, 1], (t, 1))))  # x, y, z, w
        p = parents.get(node)
        if p is None or p not in pos:
            pos[node], world[node] = local_t.astype(np.float64), local_r
        else:
            pos[node] = pos[p] + world[p].apply(local_t)
            world[node] = world[p] * local_r
    joints = np.stack([pos[j] for j in skin.joints], axis=1)
    return joints, [gltf.nodes[j].name for j in skin.joints], gltf, times, array


def _preorder(gltf, root):
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(gltf.nodes[node].children or []))
    return out


def validate(path: Path) -> dict:
    """The Khronos validator's report (numErrors, numWarnings, messages) of a glTF file."""
    node = shutil.which("node")
    root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True).stdout.strip() if node else ""
    if not node or not (Path(root) / "gltf-validator").is_dir():
        if os.environ.get("CI"):
            pytest.fail("the Khronos glTF validator is not installed (npm install -g gltf-validator)")
        pytest.skip("the Khronos glTF validator is not installed (npm install -g gltf-validator)")
    out = subprocess.run([node, str(VALIDATOR), root, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def motion(ref_motion):
    """The real clip, cleaned and fitted as a generated motion would be."""
    rigid = postprocess(ref_motion["joints"][:60], "humanml3d", channels=np.clip(ref_motion["vecs"][:60, -4:], 0, 1))
    return MotionData(text="a person walks", joints=rigid.joints, fps=20.0, skeleton="humanml3d", rigid=rigid)


@pytest.mark.parametrize("rig", ["smpl", "mixamo", "ue5"])
def test_glb_reproduces_the_motion_and_is_valid(motion, rig, tmp_path):
    path = get_format("glb").save(motion, tmp_path / "m.glb", rig=rig)
    joints, names, gltf, times, array = read_glb(path.read_bytes())
    assert np.linalg.norm(joints - motion.joints, axis=-1).max() < 1e-5
    np.testing.assert_allclose(times, np.arange(60) / 20.0, atol=1e-6)
    assert len(names) == 22 and len(set(names)) == 22
    if rig == "mixamo":
        assert names[:4] == ["mixamorig:Hips", "mixamorig:LeftUpLeg", "mixamorig:RightUpLeg", "mixamorig:Spine"]
    # the character: a skinned mesh whose vertices are bound to skin joints with weights summing to 1
    prim = gltf.meshes[0].primitives[0]
    assert array(prim.attributes.POSITION).shape[0] > 1000
    weights, skin_joints = array(prim.attributes.WEIGHTS_0), array(prim.attributes.JOINTS_0)
    np.testing.assert_allclose(weights.sum(1), 1.0)
    assert skin_joints.max() < 22
    report = validate(path)
    assert report["errors"] == 0, report["messages"]
    assert report["warnings"] == 0, report["messages"]


def test_rig_presets_change_names_and_rest_pose_only(motion, tmp_path):
    bvh = {rig: get_format("bvh").to_bytes(motion, rig=rig).decode() for rig in ("smpl", "mixamo", "ue5")}
    assert "ROOT pelvis" in bvh["smpl"] and "ROOT mixamorig:Hips" in bvh["mixamo"] and "ROOT pelvis" in bvh["ue5"]
    assert "JOINT upperarm_l" in bvh["ue5"] and "JOINT mixamorig:LeftForeArm" in bvh["mixamo"]
    for rig, text in bvh.items():
        mocap_names = [line.split()[1] for line in text.splitlines() if line.strip().startswith(("ROOT", "JOINT"))]
        skeleton = HUMANML3D if rig == "smpl" else _renamed(mocap_names, rig)
        back, _ = read_bvh(text, skeleton)
        assert np.linalg.norm(back - motion.joints, axis=-1).max() < 1e-4
    # rest poses: T-pose (smpl, mixamo), A-pose (ue5): the left upper arm points 45 degrees down
    elbow = {rig: _offset(text, {"smpl": "left_elbow", "mixamo": "mixamorig:LeftForeArm", "ue5": "lowerarm_l"}[rig])
             for rig, text in bvh.items()}
    assert abs(elbow["smpl"][1]) < 1e-6 and np.allclose(elbow["smpl"], elbow["mixamo"])
    assert elbow["ue5"][0] == pytest.approx(-elbow["ue5"][1]) and elbow["ue5"][0] > 0


def _renamed(names, rig):
    from dataclasses import replace

    from t2mgpt.export._rigs import _NAMES

    return replace(HUMANML3D, joint_names=_NAMES[rig])


def _offset(text, name):
    lines = text.splitlines()
    i = next(k for k, line in enumerate(lines) if line.split()[-1:] == [name])
    return np.array([float(v) for v in lines[i + 2].split()[1:]])


def test_export_command_converts_any_motion_file(ref_motion, tmp_path, capsys):
    np.save(tmp_path / "f.npy", ref_motion["vecs"][:40])
    assert main(["export", str(tmp_path / "f.npy"), "-o", str(tmp_path / "f.npz")]) == 0
    assert main(["export", str(tmp_path / "f.npz"), "-o", str(tmp_path / "f.glb"), "--rig", "mixamo"]) == 0
    assert main(["export", str(tmp_path / "f.npy"), "-o", str(tmp_path / "f2.npy")]) == 0
    joints, names, *_ = read_glb((tmp_path / "f.glb").read_bytes())
    assert names[0] == "mixamorig:Hips"
    assert np.linalg.norm(joints - np.load(tmp_path / "f2.npy"), axis=-1).max() < 1e-5


@pytest.mark.parametrize("case, match", [
    ("rig", "unknown rig 'blender'; choose from smpl, mixamo, ue5"), ("kit_mixamo", "22-joint HumanML3D"), ("nan", "NaN"), ("few", "at least 2"),
    ("folder", "is a folder"), ("unwritable", "cannot write"),
])
def test_bad_input_is_one_line_and_writes_nothing(case, match, ref_motion, tmp_path, capsys):
    src = tmp_path / "in.npy"
    data = {"nan": np.full((10, 22, 3), np.nan), "few": ref_motion["joints"][:1],
            "kit_mixamo": np.random.default_rng(0).normal(0, 0.3, (10, 21, 3))}.get(case, ref_motion["joints"][:10])
    np.save(src, data)
    out = {"folder": tmp_path / "dir.glb", "unwritable": Path("/proc/t2mgpt-test.glb")}.get(case, tmp_path / "out.glb")
    if case == "folder":
        out.mkdir()
    rig = {"rig": "blender", "kit_mixamo": "mixamo"}.get(case, "smpl")
    assert main(["export", str(src), "-o", str(out), "--rig", rig]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(match, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.npy"] + (["dir.glb"] if case == "folder" else []))


def test_python_api_rejects_unknown_rigs_and_other_skeletons(motion):
    with pytest.raises(InputError, match="unknown rig 'maya'"):
        get_format("glb").to_bytes(motion, rig="maya")
    kit = postprocess(np.random.default_rng(1).normal(0, 0.3, (8, 21, 3)), KIT, cleanup=False)
    kit_motion = MotionData(text="", joints=kit.joints, fps=20.0, skeleton="kit", rigid=kit)
    joints, names, *_ = read_glb(get_format("glb").to_bytes(kit_motion))  # smpl works on any skeleton
    assert np.linalg.norm(joints - kit.joints, axis=-1).max() < 1e-5 and names[0] == "root"


def test_web_downloads_take_a_rig(tmp_path):
    from fastapi.testclient import TestClient
    from tiny_model import make_tiny_model_dir

    from t2mgpt.serve import create_app

    with TestClient(create_app(make_tiny_model_dir(tmp_path / "tiny"), device="cpu"), base_url="http://127.0.0.1") as c:
        sample = c.post("/api/generate", json={"text": "a person walks", "seconds": 0.8, "seed": 1}).json()["samples"][0]
        url = sample["downloads"]["glb"]
        names = {rig: read_glb(c.get(f"{url}?rig={rig}").content)[1][0] for rig in ("smpl", "mixamo", "ue5")}
        assert names == {"smpl": "pelvis", "mixamo": "mixamorig:Hips", "ue5": "pelvis"}
        assert read_glb(c.get(url).content)[1][0] == "pelvis"
        assert "ROOT mixamorig:Hips" in c.get(sample["downloads"]["bvh"] + "?rig=mixamo").text
        assert c.get(f"{url}?rig=maya").status_code == 422
        plain = c.get(sample["downloads"]["npy"] + "?rig=ue5")  # formats without a rig ignore it
        assert plain.status_code == 200 and plain.content == c.get(sample["downloads"]["npy"]).content


def test_generate_writes_the_rig_it_is_asked_for(tmp_path, capsys):
    from tiny_model import make_tiny_model_dir

    tiny = make_tiny_model_dir(tmp_path / "tiny")
    args = ["generate", "a person walks", "--model", str(tiny), "--device", "cpu", "--seconds", "0.8", "--seed", "2",
            "--format", "bvh,glb,npy", "--out-dir", str(tmp_path / "out")]
    assert main(args + ["--rig", "maya"]) == 2
    assert "unknown rig 'maya'" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert main(args + ["--rig", "UE5"]) == 0
    out = tmp_path / "out"
    assert "JOINT upperarm_l" in (out / "a_person_walks_0.bvh").read_text()
    joints, names, *_ = read_glb((out / "a_person_walks_0.glb").read_bytes())
    assert "thigh_l" in names and np.linalg.norm(joints - np.load(out / "a_person_walks_0.npy"), axis=-1).max() < 1e-5
