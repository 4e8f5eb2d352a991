"""The export registry (t2mgpt.export): a new output format is one new file, and every entry
point (generate --format, t2mgpt export, GeneratedMotion.save, web downloads) sees it."""
from __future__ import annotations

import csv
import io
import json
import sys
import textwrap

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tiny_model import make_tiny_model_dir

from t2mgpt import export
from t2mgpt.cli import main
from t2mgpt.errors import InputError
from t2mgpt.pipeline import T2MGPT
from t2mgpt.serve import create_app

# A whole output format, as a user would add it: this text is the entire new file.
CSV_MODULE = '''
"""CSV: one row per frame, x y z of every joint in metres."""
import numpy as np

from t2mgpt.export import Format, Option, register


def encode(motion, decimals=4):
    joints = np.asarray(motion.joints).reshape(len(motion.joints), -1)
    rows = [",".join(f"{v:.{decimals}f}" for v in row) for row in joints]
    return ("\\n".join(rows) + "\\n").encode("ascii")


FORMAT = register(Format(
    name="csv", suffixes=(".csv",), media_type="text/csv", description="joints per frame (CSV)",
    encode=encode, options=(Option("decimals", "csv: digits after the point", parse=int),),
))
'''


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="module")
def pipe(tiny_dir):
    return T2MGPT.from_pretrained(tiny_dir, device="cpu")


@pytest.fixture
def csv_format(tmp_path, monkeypatch):
    """Drop CSV_MODULE as a file into the package's search path (as if saved in src/t2mgpt/export)."""
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "csvjoints.py").write_text(textwrap.dedent(CSV_MODULE))
    export.formats()  # the shipped ones, registered before the copy that the test may extend
    monkeypatch.setattr(export, "_FORMATS", dict(export._FORMATS))
    monkeypatch.setattr(export, "__path__", [*export.__path__, str(folder)])
    yield
    sys.modules.pop("t2mgpt.export.csvjoints", None)


def read_csv(data: str) -> np.ndarray:
    return np.array([[float(v) for v in row] for row in csv.reader(io.StringIO(data))])


def test_a_new_format_is_one_file(csv_format, tiny_dir, pipe, ref_motion, tmp_path, capsys):
    assert "csv" in export.names() and export.format_of("a.CSV").name == "csv"

    # t2mgpt generate --format
    assert main(["generate", "a person walks", "--model", str(tiny_dir), "--device", "cpu", "--seed", "1",
                 "--seconds", "0.8", "--format", "csv,npy", "--out-dir", str(tmp_path / "gen")]) == 0
    joints = np.load(tmp_path / "gen" / "a_person_walks_0.npy")
    table = read_csv((tmp_path / "gen" / "a_person_walks_0.csv").read_text())
    np.testing.assert_allclose(table.reshape(joints.shape), joints, atol=5e-5)

    # t2mgpt export: a motion file to the new format, with the format's own option as a flag
    np.save(tmp_path / "ref.npy", ref_motion["joints"][:30])
    assert main(["export", str(tmp_path / "ref.npy"), "-o", str(tmp_path / "ref.csv"), "--decimals", "2"]) == 0
    table = read_csv((tmp_path / "ref.csv").read_text())
    np.testing.assert_allclose(table.reshape(30, 22, 3), ref_motion["joints"][:30], atol=0.005 + 1e-9)
    assert "--decimals" in capsys.readouterr().out + _help("export")

    # GeneratedMotion.save
    m = pipe(["a person jumps"], seconds=0.8, seed=2)[0][0]
    table = read_csv(m.save(tmp_path / "m.csv", decimals=6).read_text())
    np.testing.assert_allclose(table.reshape(m.joints.shape), m.joints, atol=5e-7)

    # the web download, listed in the response, /api/info and the OpenAPI schema
    with TestClient(create_app(pipe), base_url="http://127.0.0.1") as c:
        sample = c.post("/api/generate", json={"text": "a person jumps", "seconds": 0.8, "seed": 2}).json()["samples"][0]
        assert sample["downloads"]["csv"] == f"/api/motions/{sample['id']}.csv"
        r = c.get(sample["downloads"]["csv"])
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert r.headers["content-disposition"] == 'attachment; filename="a_person_jumps_0.csv"'
        np.testing.assert_allclose(read_csv(r.text).reshape(m.joints.shape), m.joints, atol=5e-5)
        assert "csv" in c.get("/api/info").json()["formats"]
        schema = c.get("/openapi.json").json()
        path = schema["paths"]["/api/motions/{motion_id}.{fmt}"]["get"]
        assert schema["components"]["schemas"]["Format"]["enum"] == ["bvh", "csv", "glb", "json", "mp4", "npy", "npz"]
        assert "text/csv" in path["responses"]["200"]["content"]


def _help(command: str) -> str:
    buf = io.StringIO()
    stdout, sys.stdout = sys.stdout, buf
    try:
        with pytest.raises(SystemExit):
            main([command, "--help"])
    finally:
        sys.stdout = stdout
    return buf.getvalue()


def test_a_broken_format_module_breaks_only_itself(tmp_path, monkeypatch, capsys):
    """A format whose library is missing is left out, says why when asked for, and clashing
    option flags stay Python-only: the CLI keeps working."""
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "fbx.py").write_text("import fbx_sdk_that_is_not_installed\n")
    (folder / "clash.py").write_text(textwrap.dedent('''
        from t2mgpt.export import Format, Option, register
        register(Format(name="clash", suffixes=(".clash",), media_type="x/y", description="clash",
                        encode=lambda motion, fps=None: b"", options=(Option("fps", "taken"),)))
    '''))
    export.formats()
    monkeypatch.setattr(export, "_FORMATS", dict(export._FORMATS))
    monkeypatch.setattr(export, "_BROKEN", {})
    monkeypatch.setattr(export, "__path__", [*export.__path__, str(folder)])
    try:
        assert "clash" in export.names()
        with pytest.raises(InputError, match="could not be loaded: No module named 'fbx_sdk_that_is_not_installed'"):
            export.get_format("fbx")
        np.save(tmp_path / "m.npy", np.load(export.__path__[0] + "/../assets/sample_motion.npy")[:10])
        assert main(["export", str(tmp_path / "m.npy"), "-o", str(tmp_path / "m.json")]) == 0
        assert main(["export", str(tmp_path / "m.npy"), "-o", str(tmp_path / "m.fbx")]) == 2
        err = capsys.readouterr().err
        assert "cannot tell the output format" in err and "fbx_sdk_that_is_not_installed" in err
    finally:
        sys.modules.pop("t2mgpt.export.clash", None)


def test_bytes_and_files_agree_for_every_format(pipe, tmp_path):
    """What the web serves (bytes) is what the CLI and .save write (files), for every format
    whose output is deterministic (videos are encoded twice, so they are only checked to decode)."""
    import imageio.v2 as imageio

    m = pipe(["a person walks"], seconds=0.8, seed=0)[0][0]
    for fmt in export.formats():
        options = {"width": 64, "height": 64} if fmt.renders else {}
        path = m.save(tmp_path / f"m{fmt.suffix}", **options)
        data = fmt.to_bytes(m, **options)
        if fmt.renders:
            assert len(imageio.mimread(path)) == m.num_frames == len(imageio.mimread(io.BytesIO(data), fmt.name))
        else:
            assert path.read_bytes() == data, fmt.name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"m{f.suffix}" for f in export.formats())


def test_options_and_names_are_checked(pipe, tmp_path):
    m = pipe(["a person walks"], seconds=0.8, seed=0)[0][0]
    with pytest.raises(InputError, match="bvh takes rig, rotation_order, scale; got width"):
        m.save(tmp_path / "m.bvh", width=3)
    with pytest.raises(InputError, match="json takes no options; got scale"):
        m.save(tmp_path / "m.json", scale=2.0)
    with pytest.raises(InputError, match="unknown output format 'fbx'; choose from bvh, gif, glb, json, mp4, npy, npz"):
        m.save(tmp_path / "m.bvh", "fbx")
    m.save(tmp_path / "m.txt", "json")  # an explicit format beats the suffix
    assert json.loads((tmp_path / "m.txt").read_text())["text"] == "a person walks"
    assert list(tmp_path.iterdir()) == [tmp_path / "m.txt"]
    with pytest.raises(ValueError, match="registered twice"):
        export.register(export.Format(name="bvh", suffixes=(".bvh2",), media_type="x/y", description="other",
                                      encode=lambda motion: b""))
    with pytest.raises(ValueError, match="already belongs to 'npy'"):
        export.register(export.Format(name="npy2", suffixes=(".npy",), media_type="x/y", description="other",
                                      encode=lambda motion: b""))
    assert "npy2" not in export.names()


def test_export_command_writes_every_format(ref_motion, tmp_path, capsys):
    np.save(tmp_path / "f.npy", ref_motion["vecs"][:40])  # features: npy can hold them too
    for name, extra in (("json", ["--text", "a person walks"]), ("npy", ["--what", "features"]),
                        ("gif", ["--width", "64", "--height", "64"]), ("bvh", ["--scale", "cm"])):
        out = tmp_path / f"out.{name}"
        assert main(["export", str(tmp_path / "f.npy"), "-o", str(out), *extra]) == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "out.json").read_text())["text"] == "a person walks"
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), ref_motion["vecs"][:40].astype(np.float32))
    assert "OFFSET" in (tmp_path / "out.bvh").read_text()
    # a flag of another format is refused before anything is written
    assert main(["export", str(tmp_path / "f.npy"), "-o", str(tmp_path / "x.json"), "--scale", "cm"]) == 2
    assert "--scale do(es) not apply to json output" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
