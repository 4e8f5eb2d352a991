"""benchmarks/side_margin.py: the GPT's preference for a caption over its left/right swap."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import load_benchmark
from tiny_model import make_tiny_model_dir


def _bench():
    return load_benchmark("side_margin")


@pytest.fixture
def data(tmp_path):
    """Four motions: two whole clips captioned with a side, one with a time span, one without."""
    root = tmp_path / "data"
    (root / "texts").mkdir(parents=True)
    (root / "new_joint_vecs").mkdir()
    rng = np.random.default_rng(0)
    caps = {"000": "a person turns left#a/DET#0.0#0.0", "001": "a person kicks with the right leg#a/DET#0.0#0.0",
            "002": "a person walks#a/DET#0.0#0.0\na person turns right#a/DET#1.0#3.0", "003": None}
    for mid, text in caps.items():
        np.save(root / "new_joint_vecs" / f"{mid}.npy", rng.normal(0, 0.1, (80, 263)).astype(np.float32))
        if text:
            (root / "texts" / f"{mid}.txt").write_text(text + "\n")
    (root / "train.txt").write_text("".join(m + "\n" for m in caps))
    return root


def test_side_margins_read_the_captions_and_score_both_sides(tmp_path, data):
    model = make_tiny_model_dir(tmp_path / "m")
    got = _bench().side_margins(str(model), data)
    assert set(got) == {"a person turns left", "a person kicks with the right leg", "a person turns right", "_overall"}
    assert got["a person turns right"]["motions"] == 1  # the 2 s span, not the whole clip "walks"
    assert all(np.isfinite(r["margin"]) and r["margin"] != 0 for k, r in got.items() if k != "_overall")


def test_a_text_blind_gpt_has_no_side_margin(tmp_path, data):
    """Zero text projection: the codes are equally likely under any caption, so every margin is 0."""
    from t2mgpt.io.folder import load_model_folder, save_model_folder

    folder = make_tiny_model_dir(tmp_path / "m")
    config, vq, gpt, norm = load_model_folder(folder)
    with torch.no_grad():
        gpt.cond_emb.weight.zero_()
    save_model_folder(tmp_path / "blind", config, vq, gpt, norm)
    got = _bench().side_margins(str(tmp_path / "blind"), data)
    assert all(abs(r["margin"]) < 1e-4 for k, r in got.items() if k != "_overall")


def test_a_dataset_without_sided_captions_is_a_one_line_error(tmp_path, data, capsys):
    for f in (data / "texts").glob("*.txt"):
        f.write_text("a person walks#a/DET#0.0#0.0\n")
    model = make_tiny_model_dir(tmp_path / "m")
    assert _bench().main(["--model", str(model), "--data", str(data)]) == 2
    assert "prepare --auto-captions" in capsys.readouterr().err


def test_a_missing_model_or_split_is_a_one_line_error(tmp_path, data, capsys):
    model = make_tiny_model_dir(tmp_path / "m")
    assert _bench().main(["--model", str(tmp_path / "nowhere"), "--data", str(data)]) == 2
    assert _bench().main(["--model", str(model), "--data", str(data), "--split", "val"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)
