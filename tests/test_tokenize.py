"""`t2mgpt tokenize`: whole motions (and missing mirrors) -> cached code indices."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers import make_tiny_dataset
from t2mgpt.cli import main
from t2mgpt.data.humanml3d import HumanML3DDataset
from t2mgpt.tokenizer.vqvae import VQVAE
from t2mgpt.motion import mirror_features
from t2mgpt.prepare.text import swap_left_right

TINY = ["--nb-code", "32", "--code-dim", "32", "--width", "32", "--depth", "1", "--batch-size", "4",
        "--window-size", "32", "--device", "cpu", "--no-progress", "--iters", "6", "--warmup-iters", "2",
        "--eval-every", "3", "--save-every", "3"]



@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("tok")
    data = make_tiny_dataset(root / "data", n_motions=10, seed=4, min_frames=30, max_frames=90)
    assert main(["train-vq", "--data", str(data), "--out", str(root / "run"), *TINY]) == 0
    return data, root / "run"


def _expected(model, motion, mean, std):
    n = len(motion) // 4 * 4
    x = torch.from_numpy(((motion[:n] - mean) / std)[None].astype(np.float32))
    return model.encode(x).numpy()


def test_tokenize_encodes_motions_and_missing_mirrors(trained, tmp_path):
    data, run = trained
    out = tmp_path / "codes"
    assert main(["tokenize", "--data", str(data), "--vq", str(run), "--out", str(out), "--device", "cpu"]) == 0
    model = VQVAE.load(run / "best.pt").eval()
    manifest = json.loads((out / "tokenize.json").read_text())
    assert manifest["complete"] and manifest["vq"].endswith("best.pt") and manifest["frames_per_code"] == 4
    total = 0
    for split in ("train", "val", "test"):
        ds = HumanML3DDataset(data, split, texts=False)
        keep = [(i, m) for i, m in zip(ds.ids, ds.motions) if 40 <= len(m) < 200]  # the original's limits
        ids = (out / f"{split}.txt").read_text().split()
        assert ids == [v for i, _ in keep for v in (i, "M" + i)]  # each clip and its mirror
        for mid, motion in keep:
            codes = np.load(out / f"{mid}.npy")
            assert codes.dtype == np.int64 and codes.shape == (1, len(motion) // 4)
            np.testing.assert_array_equal(codes, _expected(model, motion, ds.mean, ds.std))
            mirrored = np.load(out / f"M{mid}.npy")
            np.testing.assert_array_equal(mirrored, _expected(model, mirror_features(motion), ds.mean, ds.std))
            caps = (out / "texts" / f"M{mid}.txt").read_text().splitlines()
            src = (data / "texts" / f"{mid}.txt").read_text().splitlines()
            assert caps == [swap_left_right(c) for c in src]
        total += len(keep)
    assert manifest["mirrors_made"] == sum(manifest["splits"].values()) // 2 and total > 0
    assert swap_left_right("a man kicks with his left leg#left/ADJ leg/NOUN#0#0") == \
        "a man kicks with his right leg#right/ADJ leg/NOUN#0#0"


def test_mirrored_captions_swap_the_turning_sense_too(trained, tmp_path):
    """A mirrored motion that turned clockwise turns counterclockwise: its caption must say so."""
    data, run = trained
    mid = HumanML3DDataset(data, "train", texts=False).ids[0]
    (data / "texts" / f"{mid}.txt").write_text(
        "a person turns clockwise on the left foot#a/DET person/NOUN turn/VERB clockwise/ADV on/ADP "
        "the/DET left/ADJ foot/NOUN#0.0#0.0\n"
        "Someone spins counter-clockwise, then anticlockwise#someone/PRON spin/VERB#0.0#0.0\n", encoding="utf-8")
    out = tmp_path / "codes"
    assert main(["tokenize", "--data", str(data), "--vq", str(run), "--out", str(out), "--device", "cpu",
                 "--splits", "train"]) == 0
    assert (out / "texts" / f"M{mid}.txt").read_text(encoding="utf-8").splitlines() == [
        "a person turns counterclockwise on the right foot#a/DET person/NOUN turn/VERB counterclockwise/ADV "
        "on/ADP the/DET right/ADJ foot/NOUN#0.0#0.0",
        "Someone spins clockwise, then clockwise#someone/PRON spin/VERB#0.0#0.0",
    ]


def test_dataset_mirrors_are_used_not_remade(tmp_path):
    data = make_tiny_dataset(tmp_path / "data", n_motions=6, seed=6, mirrored=True, min_frames=45)
    model = VQVAE(nb_code=16, code_dim=16, output_emb_width=16, width=16, depth=1)
    model.save(tmp_path / "vq.pt")
    out = tmp_path / "codes"
    assert main(["tokenize", "--data", str(data), "--vq", str(tmp_path / "vq.pt"), "--out", str(out),
                 "--splits", "train", "--device", "cpu"]) == 0
    manifest = json.loads((out / "tokenize.json").read_text())
    assert manifest["mirrors_made"] == 0 and not (out / "texts").exists()
    ids = (out / "train.txt").read_text().split()
    assert ids == (data / "train.txt").read_text().split()  # the dataset's own M<id> files
    ds = HumanML3DDataset(data, "train", texts=False)
    for mid, motion in zip(ds.ids, ds.motions):
        np.testing.assert_array_equal(np.load(out / f"{mid}.npy"), _expected(model, motion, ds.mean, ds.std))


def test_original_checkpoint_and_errors(trained, tmp_path, capsys):
    data, run = trained
    model = VQVAE.load(run / "last.pt").eval()
    torch.save({"net": model.original_state_dict()}, tmp_path / "net_last.pth")  # the original's format
    out = tmp_path / "codes"
    assert main(["tokenize", "--data", str(data), "--vq", str(tmp_path / "net_last.pth"), "--out", str(out),
                 "--splits", "val", "--no-mirror", "--device", "cpu"]) == 0
    ds = HumanML3DDataset(data, "val", texts=False)
    ids = (out / "val.txt").read_text().split()
    assert ids and all(not i.startswith("M") for i in ids)
    for mid, motion in zip(ds.ids, ds.motions):
        if mid in ids:
            np.testing.assert_array_equal(np.load(out / f"{mid}.npy"), _expected(model, motion, ds.mean, ds.std))

    capsys.readouterr()
    assert main(["tokenize", "--data", str(data), "--vq", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "not found" in capsys.readouterr().err
    other = VQVAE(input_dim=251, nb_code=16, code_dim=16, output_emb_width=16, width=16, depth=1)
    other.save(tmp_path / "kit.pt")
    assert main(["tokenize", "--data", str(data), "--vq", str(tmp_path / "kit.pt"), "--out",
                 str(tmp_path / "c2"), "--device", "cpu"]) == 2
    assert "263-dim features but the VQ-VAE expects 251" in capsys.readouterr().err
    assert main(["tokenize", "--data", str(data), "--vq", str(tmp_path / "kit.pt"), "--out", str(out),
                 "--device", "cpu"]) == 2  # out holds codes of another VQ-VAE
    assert "another VQ-VAE" in capsys.readouterr().err
