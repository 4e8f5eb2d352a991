"""`t2mgpt train-vq` on a tiny synthetic dataset: learning, checkpoints, exact resume, run-folder safety."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from helpers import make_tiny_dataset
from t2mgpt.cli import main
from t2mgpt.utils.io import safe_torch_load

TINY = ["--nb-code", "32", "--code-dim", "32", "--width", "32", "--depth", "1", "--batch-size", "8",
        "--window-size", "32", "--lr", "2e-3", "--warmup-iters", "5",
        "--device", "cpu", "--no-progress"]



@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny", n_motions=20, seed=3)


def train(data, out, *extra: str) -> int:
    return main(["train-vq", "--data", str(data), "--out", str(out), *TINY, *extra])


def train_losses(run_dir) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if r["split"] == "train"}


def test_trains_logs_and_checkpoints(data, tmp_path):
    from t2mgpt.tokenizer.vqvae import VQVAE

    run = tmp_path / "run"
    assert train(data, run, "--iters", "60", "--log-every", "10", "--eval-every", "30", "--save-every", "30") == 0
    losses = list(train_losses(run).values())
    assert len(losses) == 6 and losses[-1] < 0.9 * losses[0]  # it learns
    assert list((run / "tb").glob("events.out.tfevents.*"))
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["nb_code"] == 32 and cfg["model"]["output_emb_width"] == 32  # --code-dim sets both
    assert cfg["model"]["input_dim"] == 263 and cfg["train"]["batch_size"] == 8

    ckpt = safe_torch_load(run / "last.pt")  # weights_only=True
    assert ckpt["step"] == 60 and ckpt["config"] == cfg["model"] and ckpt["train_config"] == cfg["train"]
    assert ckpt["data"] == {"epoch": 60 // (12 // 8), "index": 0} and len(ckpt["rng"]) == 1
    assert set(ckpt["optimizer"]["state"]) and ckpt["scheduler"]["last_epoch"] == 60
    best = safe_torch_load(run / "best.pt")
    assert best["best"]["step"] in (30, 60) and best["step"] == best["best"]["step"]
    val = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"val"' in line]
    assert [v["step"] for v in val] == [0, 30, 60] and 0 < val[-1]["usage"] <= 1
    assert val[-1]["recons"] < 0.92 * val[0]["recons"]  # better than the untrained model (step 0)
    assert best["best"]["val_recons"] == pytest.approx(min(v["recons"] for v in val[1:]))

    # the checkpoint is a VQ-VAE file: the model loads and encodes straight from it
    model = VQVAE.load(run / "best.pt").eval()
    x = torch.randn(2, 32, 263)
    assert model.encode(x).shape == (2, 8)
    torch.testing.assert_close(ckpt["mean"], torch.from_numpy(__import__("numpy").load(data / "Mean.npy")))


def test_resume_matches_uninterrupted_run_exactly(data, tmp_path):
    common = ["--log-every", "1", "--eval-every", "6", "--save-every", "3"]
    assert train(data, tmp_path / "full", "--iters", "12", *common) == 0
    assert train(data, tmp_path / "split", "--iters", "6", *common) == 0
    # resume may extend --iters; everything else must match
    assert train(data, tmp_path / "split", "--iters", "12", "--resume", *common) == 0
    full, split = train_losses(tmp_path / "full"), train_losses(tmp_path / "split")
    assert list(full) == list(range(1, 13)) and split == full  # bit-for-bit
    a, b = (safe_torch_load(tmp_path / r / "last.pt") for r in ("full", "split"))
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert a["data"] == b["data"] and torch.equal(a["rng"][0]["torch"], b["rng"][0]["torch"])


def test_run_folder_is_never_clobbered(data, tmp_path, capsys):
    run = tmp_path / "run"
    assert train(data, run, "--iters", "2", "--eval-every", "2", "--save-every", "2") == 0
    before = (run / "last.pt").read_bytes()
    capsys.readouterr()
    assert train(data, run, "--iters", "2", "--lr", "5e-4") == 2
    err = capsys.readouterr().err
    assert "already holds a training run with a different config" in err and "lr: 0.002 -> 0.0005" in err
    assert train(data, run, "--iters", "2", "--eval-every", "2", "--save-every", "2") == 2
    assert "--resume" in capsys.readouterr().err
    assert train(data, run, "--iters", "4", "--lr", "5e-4", "--resume") == 2
    assert "cannot resume" in capsys.readouterr().err
    assert (run / "last.pt").read_bytes() == before


def test_failed_save_keeps_previous_checkpoint(data, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    assert train(data, run, "--iters", "2", "--save-every", "2", "--val-split", "") == 0
    before = (run / "last.pt").read_bytes()

    def broken_save(obj, f, *a, **k):  # writes half a file, then the disk "fills up"
        f.write(b"PK\x03\x04 half written")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    capsys.readouterr()
    assert train(data, run, "--iters", "4", "--save-every", "2", "--val-split", "", "--resume") == 2
    monkeypatch.undo()
    err = capsys.readouterr().err.strip()
    last = err.splitlines()[-1]  # after the log lines: one error line, no traceback
    assert "Traceback" not in err and last.startswith("t2mgpt train-vq: error: cannot write")
    assert "No space left on device" in last and "continue with --resume (last.pt is intact)" in last
    assert (run / "last.pt").read_bytes() == before  # the old checkpoint survives intact
    assert safe_torch_load(run / "last.pt")["step"] == 2
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []  # no temp file left


def test_config_file_flags_and_schedule(data, tmp_path):
    from t2mgpt.cli import build_parser
    from t2mgpt.commands.train_vq import resolve_configs
    from t2mgpt.losses import RECONS_LOSSES
    from t2mgpt.tokenizer.config import VQVAEConfig
    from t2mgpt.train.common import warmup_multistep
    from t2mgpt.train.vq_config import MODEL_FLAGS
    from t2mgpt.train import vq_config

    # the torch-free flag list mirrors the model config
    defaults = VQVAEConfig()
    assert {f.name for f in MODEL_FLAGS} == {f.name for f in dataclasses.fields(VQVAEConfig)} - {"beta"}
    assert all(f.default == getattr(defaults, f.name) for f in MODEL_FLAGS if f.name != "input_dim")
    assert vq_config.RECONS_LOSSES == RECONS_LOSSES

    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"model": {"width": 64, "nb_code": 16}, "train": {"iters": 7, "lr": 0.5}}))
    args = build_parser().parse_args(["train-vq", "--data", str(data), "--out", "x", "--config", str(cfg),
                                      "--lr", "0.25", "--norm", "none", "--betas", "0.8", "0.9"])
    model, train_cfg = resolve_configs(args)
    assert (model.width, model.nb_code, model.input_dim, model.norm) == (64, 16, 263, None)
    assert (train_cfg.iters, train_cfg.lr, train_cfg.betas) == (7, 0.25, (0.8, 0.9))

    f = warmup_multistep(4, [10, 20], 0.1)
    assert [f(s) for s in (0, 1, 3, 9)] == [0.25, 0.5, 1.0, 1.0]
    assert f(10) == pytest.approx(0.1) and f(25) == pytest.approx(0.01)


def test_failure_before_training_leaves_no_run(data, tmp_path, capsys):
    run = tmp_path / "run"
    assert train(data, run, "--iters", "2", "--batch-size", "64") == 2  # more than the 12 train motions
    assert "fewer than one batch of 64" in capsys.readouterr().err
    assert not (run / "config.json").exists()
    assert train(data, run, "--iters", "1", "--val-split", "") == 0  # the folder is still free
    with pytest.raises(SystemExit):  # unknown flags are refused by argparse
        train(data, tmp_path / "r2", "--nb-codes", "8")


def test_fid_validation_with_a_trained_evaluator_keeps_best_fid(data, tmp_path, capsys):
    import math
    import warnings

    from t2mgpt.eval import load_evaluator

    ev = tmp_path / "ev"
    assert main(["train-evaluator", "--data", str(data), "--out", str(ev), "--epochs", "1", "--embed-dim", "8",
                 "--batch-size", "8", "--no-progress"]) == 0
    assert load_evaluator(ev).config.dim_embed == 8
    capsys.readouterr()
    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny split: singular covariances
        assert train(data, run, "--iters", "4", "--log-every", "2", "--eval-every", "2", "--save-every", "4",
                     "--evaluator", str(ev)) == 0
    assert "best FID" in capsys.readouterr().out
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    fid = {r["step"]: r for r in rows if r["split"] == "eval"}
    assert list(fid) == [2, 4] and all(math.isfinite(r["fid"]) and 0 <= r["top1"] <= 1 for r in fid.values())
    assert "top1_real" in fid[2] and fid[2]["fid"] != fid[4]["fid"]  # the model changed between the two
    best_step = min(fid, key=lambda s: fid[s]["fid"])
    best = safe_torch_load(run / "best_fid.pt")
    last = safe_torch_load(run / "last.pt")
    assert best["step"] == best_step and best["best"]["fid"] == fid[best_step]["fid"]
    assert set(best) == set(last) and best["kind"] == last["kind"]  # the same checkpoint format as best.pt
    assert "eval @ 4: FID" in (run / "train.log").read_text()

    # a missing evaluator fails before the run folder is made; --glove alone is refused
    assert train(data, tmp_path / "r2", "--iters", "2", "--evaluator", str(tmp_path / "missing")) == 2
    assert "evaluator" in capsys.readouterr().err and not (tmp_path / "r2" / "config.json").exists()
    assert train(data, tmp_path / "r3", "--iters", "2", "--glove", str(tmp_path)) == 2
    assert "--evaluator" in capsys.readouterr().err


def _state(path, prefix: str) -> dict:
    return {k: v for k, v in safe_torch_load(path)["model"].items() if k.startswith(prefix)}


def test_decoder_only_keeps_the_codes_and_resumes_exactly(data, tmp_path, capsys):
    """--decoder-only --init-from: encoder and codebook bit-identical (so every motion keeps its
    codes), only the decoder learns, with a bounded look-ahead; resumable like every run."""
    from t2mgpt.data.humanml3d import HumanML3DDataset
    from t2mgpt.tokenizer.receptive_field import receptive_field
    from t2mgpt.tokenizer.vqvae import VQVAE

    src = tmp_path / "src"
    assert train(data, src, "--iters", "20", "--eval-every", "20", "--save-every", "20") == 0
    common = ["--init-from", str(src), "--decoder-only", "--decoder-lookahead", "1", "--log-every", "1",
              "--eval-every", "6", "--save-every", "3"]
    assert train(data, tmp_path / "full", "--iters", "12", *common) == 0
    cfg = json.loads((tmp_path / "full" / "config.json").read_text())
    assert cfg["model"]["decoder_lookahead"] == 1 and cfg["model"]["nb_code"] == 32  # sizes from --init-from
    assert cfg["train"]["decoder_only"] is True
    before, after = src / "best.pt", tmp_path / "full" / "last.pt"
    for part in ("encoder.", "quantizer."):
        a, b = _state(before, part), _state(after, part)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), part
    dec_a, dec_b = _state(before, "decoder."), _state(after, "decoder.")
    assert dec_a.keys() == dec_b.keys() and not all(torch.equal(dec_a[k], dec_b[k]) for k in dec_a)

    old, new = VQVAE.load(before).eval(), VQVAE.load(after).eval()
    assert receptive_field(new.decoder, 4).right <= 1 and receptive_field(old.decoder, 4).right > 1
    ds = HumanML3DDataset(data, "train", texts=False)
    for i in range(len(ds)):
        x = torch.from_numpy(ds.normalize(ds[i].motion)).float()[None]
        assert torch.equal(old.encode(x), new.encode(x))
    ckpt = safe_torch_load(after)
    from t2mgpt.train.gpt_task import vq_fingerprint
    assert ckpt["codes_from"]["sha256"] == vq_fingerprint(VQVAE.load(before))

    # resume: 6 updates, then 6 more, equal 12 in one go
    assert train(data, tmp_path / "split", "--iters", "6", *common) == 0
    assert train(data, tmp_path / "split", "--iters", "12", "--resume", *common) == 0
    assert train_losses(tmp_path / "split") == train_losses(tmp_path / "full")
    a, b = (safe_torch_load(tmp_path / r / "last.pt")["model"] for r in ("full", "split"))
    assert all(torch.equal(a[k], b[k]) for k in a)

    # the encoder and codebook are --init-from's: other sizes are refused
    capsys.readouterr()
    assert train(data, tmp_path / "bad", "--iters", "2", *common, "--dilation-growth-rate", "2") == 2
    assert "dilation_growth_rate" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    assert train(data, tmp_path / "bad", "--iters", "2", "--decoder-only") == 2
    assert "init_from" in capsys.readouterr().err
