"""Training that is stopped or fails: exact resume after SIGINT / SIGTERM / kill -9, orphan temp
files, a diverging loss, a full or read-only disk, a model too large to allocate."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from helpers import make_tiny_dataset
from t2mgpt.cli import main
from t2mgpt.utils.io import safe_torch_load

TINY = ["--nb-code", "32", "--code-dim", "32", "--width", "32", "--depth", "1", "--batch-size", "8",
        "--window-size", "32", "--lr", "2e-3", "--warmup-iters", "5", "--device", "cpu", "--no-progress"]
CADENCE = ["--log-every", "1", "--eval-every", "20", "--save-every", "10"]
ITERS = 60  # the reference run; the interrupted one is resumed up to here


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny", n_motions=20, seed=3)


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    run = tmp_path_factory.mktemp("ref") / "run"
    assert train(data, run, "--iters", str(ITERS), *CADENCE) == 0
    return run


def train(data, out, *extra: str) -> int:
    return main(["train-vq", "--data", str(data), "--out", str(out), *TINY, *extra])


def train_rows(run_dir) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [r for r in map(json.loads, lines) if r["split"] == "train"]


def losses(run_dir) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in train_rows(run_dir)}


def start_and_stop(data, run, sig: int, after_rows: int) -> subprocess.CompletedProcess:
    """Start a long train-vq in a subprocess; send `sig` once `after_rows` steps are logged."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "t2mgpt", "train-vq", "--data", str(data), "--out", str(run), *TINY, *CADENCE,
           "--iters", "100000"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(train_rows(run)) < after_rows and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "kill-9"])
def test_resume_after_a_signal_is_bit_identical(data, reference, tmp_path, sig):
    run = tmp_path / "run"
    proc = start_and_stop(data, run, sig, after_rows=5 if sig != signal.SIGKILL else 12)
    ckpt = safe_torch_load(run / "last.pt")
    logged = max(losses(run))
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL and ckpt["step"] % 10 == 0  # the last periodic save
    else:
        # stopped at a step boundary: the checkpoint holds exactly the last logged step, saved on the signal
        assert proc.returncode == 128 + sig, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr and f"interrupted by {signal.Signals(sig).name}" in proc.stderr
        assert ckpt["step"] == logged and "continue with --resume" in proc.stderr.splitlines()[-1]
    assert 0 < ckpt["step"] < ITERS, "the run must stop before the reference ends to test anything"
    assert train(data, run, "--iters", str(ITERS), "--resume", *CADENCE) == 0
    resumed, full = losses(run), losses(reference)
    assert list(resumed) == list(range(1, ITERS + 1))
    same = sum(resumed[s] == full[s] for s in full)
    assert same == ITERS, f"{same} of {ITERS} steps identical after {signal.Signals(sig).name} at step {ckpt['step']}"
    a, b = safe_torch_load(run / "last.pt"), safe_torch_load(reference / "last.pt")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])  # codebook EMA sums included
    assert a["data"] == b["data"]


def test_orphan_temp_checkpoints_are_removed_on_start(data, tmp_path):
    run = tmp_path / "run"
    assert train(data, run, "--iters", "2", "--val-split", "") == 0
    orphan = run / ".last.pt.k1ll3d.tmp.pt"  # what a kill -9 during a save leaves
    orphan.write_bytes(b"PK\x03\x04 half written")
    assert train(data, run, "--iters", "3", "--val-split", "", "--resume") == 0
    assert not orphan.exists() and safe_torch_load(run / "last.pt")["step"] == 3


def test_non_finite_loss_stops_with_exit_2_and_keeps_the_last_good_checkpoint(data, tmp_path, capsys):
    run = tmp_path / "run"
    code = train(data, run, "--iters", "200", "--lr", "1e10", "--log-every", "1", "--save-every", "1",
                 "--val-split", "")
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("t2mgpt train-vq: error: training diverged: the loss is not finite at step") and "--lr" in last
    ckpt = safe_torch_load(run / "last.pt")
    assert 0 < ckpt["step"] < 200 and f"last.pt (step {ckpt['step']}) is kept" in last
    assert all(torch.isfinite(t).all() for t in ckpt["model"].values())


@pytest.mark.parametrize("flags, message", [
    (["--nb-code", "1e9"], "vqvae.nb_code must be in 1..65536, got 1000000000"),  # integers may be written 1e9
    (["--width", "4096", "--depth", "32", "--dilation-growth-rate", "1"], "GB to train"),  # within bounds, too big
])
def test_model_too_large_is_refused_before_allocating(data, tmp_path, capsys, flags, message):
    run = tmp_path / "run"
    assert train(data, run, "--iters", "2", *flags) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert message in err and not run.exists()


def test_full_disk_is_one_line_and_leaves_no_run_folder(data, mount, capsys):
    run = mount("size=256k") / "run"  # room for config.json and the logs, not for a checkpoint
    assert train(data, run, "--iters", "4", "--save-every", "2", "--val-split", "") == 2
    err = capsys.readouterr().err.strip()
    last = err.splitlines()[-1]
    assert "Traceback" not in err and last.startswith("t2mgpt train-vq: error: cannot write")
    assert "No space left on device" in last and "run the command again" in last
    assert not run.exists()  # nothing half-built left behind


def test_read_only_disk_is_one_line(data, mount, capsys):
    ro = mount("size=1m,ro")
    assert train(data, ro / "run", "--iters", "2", "--val-split", "") == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert err.startswith("t2mgpt train-vq: error: cannot write") and "Read-only file system" in err
