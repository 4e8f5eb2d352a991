"""A tampered config.json is refused with one line before anything big is allocated (issue 13):
each variant is loaded in a child process with 3 GB of address space and a time limit."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from t2mgpt.cli import main
from tiny_model import make_tiny_model_dir

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from t2mgpt import T2MGPT
    from t2mgpt.errors import T2MGPTError
    folder, cases = sys.argv[1], json.load(open(sys.argv[2]))
    for name, text in cases:
        open(folder + "/config.json", "w").write(text)
        start = time.time()
        try:
            T2MGPT.from_pretrained(folder, device="cpu")
            outcome, message = "loaded", ""
        except T2MGPTError as e:
            outcome, message = "refused", str(e)
        except BaseException as e:  # a crash: what the test must never see
            outcome, message = "crashed", f"{type(e).__name__}: {e}"[:300]
        print(json.dumps([name, outcome, message, time.time() - start]), flush=True)
""")


def _variants(config: dict) -> list[tuple[str, str]]:
    out = []

    def put(name, path, value):
        c = json.loads(json.dumps(config))
        d = c
        for key in path[:-1]:
            d = d[key]
        d[path[-1]] = value
        out.append((name, json.dumps(c)))

    for key, values in {
        "nb_code": [10**7, 10**9, 0, -1, 512.0, "512", True, None, [512]],
        "width": [10**6, 4096], "depth": [10**6], "down_t": [100, 0], "code_dim": [10**9],
        "output_emb_width": [10**9], "input_dim": [10**9], "dilation_growth_rate": [10**6, 16],
        "quantizer": ["nope", 3], "activation": [5], "norm": ["XX"], "mu": ["x", float("nan"), 1e308],
        "stride_t": [10**6], "surprise": [{"nested": 1}],
    }.items():
        for v in values:
            put(f"vqvae.{key}={v!r:.20}", ["vqvae", key], v)
    for key, values in {
        "num_vq": [10**7, 10**9], "block_size": [10**9, 10**6, 1], "num_layers": [10**6, 128],
        "embed_dim": [10**6, 8192], "n_head": [0, 10**6, 3], "fc_rate": [10**6], "clip_dim": [10**9],
        "drop_out_rate": [5, "x"], "surprise": [1],
    }.items():
        for v in values:
            put(f"gpt.{key}={v!r:.20}", ["gpt", key], v)
    both = json.loads(json.dumps(config))  # consistent, within bounds, but not these weights
    both["vqvae"]["nb_code"] = both["gpt"]["num_vq"] = 65536
    out.append(("nb_code=num_vq=65536", json.dumps(both)))
    for path, values in {
        ("text_encoder", "path"): [5, ["a"], {"a": 1}], ("text_encoder", "name"): [5, "gpt-9"],
        ("text_encoder", "dim"): ["32", 10**9, 32.5], ("text_encoder",): ["hashing", 5],
        ("dataset",): [5, "cmu", None], ("fps",): ["20", -1, 1e308, float("inf")],
        ("unit_length",): ["4", 10**9], ("normalization",): [[], {"mean": 5}, {"mean": "../../x.npy"}],
        ("card",): [[1], {"metrics": [1]}, {"name": 5}, {"metrics": {"a": {"b": 1}}}],
        ("format_version",): ["1", 2], ("vqvae",): [[], "x"], ("gpt",): [None],
        ("sampling",): [[], {"guidance_scale": "3"}, {"guidance_scale": -1}, {"guidance_scale": float("nan")},
                        {"guidance_scale": 1e9}, {"guidance_scale": True}, {"guidance_scale": 3.0}],
    }.items():
        for v in values:
            put(f"{'.'.join(path)}={v!r:.20}", list(path), v)
    out.append(("nested 100000 deep", "[" * 100_000 + "]" * 100_000))
    out.append(("card nested 100000 deep", json.dumps(config)[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}"))
    out.append(("a list", "[1, 2]"))
    out.append(("2 MB", json.dumps({**config, "pad": "x" * (2 << 20)})))
    out.append(("not JSON", "{'format': "))
    return out


def test_tampered_configs_neither_crash_nor_hang(tmp_path):
    folder = make_tiny_model_dir(tmp_path / "m")
    variants = _variants(json.loads((folder / "config.json").read_text()))
    (tmp_path / "cases.json").write_text(json.dumps(variants))
    result = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(tmp_path / "cases.json")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r[0] for r in rows] == [name for name, _ in variants]  # every case finished
    crashed = [r for r in rows if r[1] == "crashed"]
    loaded = [r[0] for r in rows if r[1] == "loaded"]
    slow = [r[0] for r in rows if r[3] > 20]
    assert crashed == [] and slow == []
    # within bounds (the weights' shapes do not depend on them)
    assert loaded == ["vqvae.dilation_growth_rate=16", "sampling={'guidance_scale': 3"]
    assert all("\n" not in r[2] and len(r[2]) < 600 for r in rows if r[1] == "refused")
    assert len(rows) >= 80, len(rows)


def test_tampered_config_on_the_command_line(tmp_path, capsys, monkeypatch):
    folder = make_tiny_model_dir(tmp_path / "models" / "deep")
    config = json.loads((folder / "config.json").read_text())
    config["gpt"]["num_layers"] = 10**6
    (folder / "config.json").write_text(json.dumps(config))
    assert main(["generate", "a walk", "--model", str(folder), "--out-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "gpt.num_layers must be in 1..128" in err and "\n" not in err
    (folder / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    monkeypatch.setenv("T2MGPT_HOME", str(tmp_path))
    assert main(["models"]) == 0  # listed as unreadable, not a RecursionError
    assert "nested too deeply" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["models", "--no-such-flag"])
