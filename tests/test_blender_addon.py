"""The Blender add-on (blender/t2mgpt_addon), installed from its zip into headless Blender,
against a live `t2mgpt serve` (tiny model): it reports an unreachable server in the UI, adds
animated armatures whose bones follow the motions the server made, and animates a selected
armature that uses the Mixamo bone names. Needs Blender (see test_blender.py)."""
from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_blender import blender
from helpers import live_server
from tiny_model import make_tiny_model_dir

ADDON = Path(__file__).resolve().parents[1] / "blender" / "t2mgpt_addon"
SESSION = Path(__file__).parent / "blender" / "addon_session.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from t2mgpt.serve import create_app

    app = create_app(make_tiny_model_dir(tmp_path_factory.mktemp("addon") / "tiny"), device="cpu")
    with live_server(app) as url:
        yield url


def addon_zip(folder: Path) -> Path:
    """The add-on as a user installs it: a zip holding the t2mgpt_addon folder."""
    path = folder / "t2mgpt_addon.zip"
    with zipfile.ZipFile(path, "w") as z:
        for f in ADDON.rglob("*.py"):
            z.write(f, f.relative_to(ADDON.parent))
    return path


def joints_of(server: str, motion_id: str) -> np.ndarray:
    import urllib.request

    with urllib.request.urlopen(f"{server}/api/motions/{motion_id}.npy", timeout=60) as r:
        return np.load(io.BytesIO(r.read()))


def test_addon_generates_into_the_scene(server, tmp_path):
    exe = blender()
    out = tmp_path / "session.json"
    run = subprocess.run([exe, "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(SESSION), "--",
                          str(addon_zip(tmp_path)), server, str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(out.read_text())

    # a server that is not running: one report in the UI, nothing created
    offline = result["offline"]
    assert offline["result"] == ["CANCELLED"] and offline["objects"] == 0
    assert len(offline["reports"]) == 1 and "cannot reach t2mgpt" in offline["reports"][0]
    assert "t2mgpt serve" in offline["reports"][0]

    # two samples -> two animated armatures at 20 fps whose joints are the server's motions
    new = result["new"]
    assert new["result"] == ["FINISHED"] and new["fps"] == 20 and new["frame_end"] == 40
    assert len(new["armatures"]) == 2
    for arm in new["armatures"]:
        joints = joints_of(server, arm["info"]["id"])
        heads = np.array(arm["heads"]) - [1.2 * new["armatures"].index(arm), 0, 0]  # placed side by side
        assert heads.shape == joints.shape == (40, 22, 3)
        assert np.linalg.norm(heads - joints, axis=-1).max() < 0.01

    # the motion applied to the selected Mixamo armature (rolled bones): same joint positions
    apply = result["apply"]
    assert apply["result"] == ["FINISHED"] and apply["armatures"] == 1  # the helper import is removed again
    joints = joints_of(server, apply["info"]["id"])
    error = np.linalg.norm(np.array(apply["heads"]) - joints, axis=-1)
    assert error.max() < 0.01, error.max()

    # an armature without supported bone names: a report, no change
    assert result["unsupported"]["result"] == ["CANCELLED"]
    assert "Mixamo" in " ".join(result["unsupported"]["reports"])
