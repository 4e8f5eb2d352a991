"""`torchrun --nproc_per_node=2 -m t2mgpt train-vq` on CPU (gloo): rank-0 outputs, identical codebooks."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import make_tiny_dataset
from t2mgpt.utils.io import safe_torch_load


@pytest.mark.timeout(240)
def test_torchrun_two_processes(tmp_path):
    data = make_tiny_dataset(tmp_path / "data", n_motions=20, seed=5)
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "t2mgpt", "train-vq", "--data", str(data), "--out", str(run), "--device", "cpu",
           "--nb-code", "32", "--code-dim", "32", "--width", "32", "--depth", "1", "--batch-size", "8",
           "--window-size", "32", "--warmup-iters", "2", "--iters", "8", "--log-every", "2",
           "--eval-every", "4", "--save-every", "4", "--no-progress"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=220)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("done: 8 updates") == 1  # only rank 0 reports

    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "config.json", "last.pt", "metrics.jsonl",
                                                     "tb", "train.log"]
    assert len(list((run / "tb").iterdir())) == 1  # one TensorBoard writer (rank 0)
    log = (run / "train.log").read_text()
    assert "2 process(es) on cpu" in log and log.count("step 8/8") == 1
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()
             if '"train"' in line]
    assert steps == [2, 4, 6, 8]

    ckpt = safe_torch_load(run / "last.pt")
    assert ckpt["step"] == 8 and ckpt["world_size"] == 2
    assert len(ckpt["rng"]) == 2  # every rank's random state, for an exact resume
    prints = ckpt["quantizer_fingerprints"]
    assert len(prints) == 2 and prints[0] == prints[1]  # bit-identical codebooks on both ranks


@pytest.mark.timeout(600)
def test_torchrun_sigterm_saves_a_consistent_state_and_resumes_exactly(tmp_path):
    import signal
    import time

    data = make_tiny_dataset(tmp_path / "data", n_motions=20, seed=5)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}

    def torchrun(run, *extra):
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                "-m", "t2mgpt", "train-vq", "--data", str(data), "--out", str(run), "--device", "cpu",
                "--nb-code", "32", "--code-dim", "32", "--width", "32", "--depth", "1", "--batch-size", "8",
                "--window-size", "32", "--warmup-iters", "2", "--log-every", "1", "--eval-every", "10",
                "--save-every", "10", "--no-progress", *extra]

    def losses(run):
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        return {r["step"]: r["loss"] for r in rows if r["split"] == "train"}

    proc = subprocess.run(torchrun(tmp_path / "full", "--iters", "30"), env=env, capture_output=True, text=True,
                          timeout=280)
    assert proc.returncode == 0, proc.stderr[-3000:]

    run = tmp_path / "run"
    proc = subprocess.Popen(torchrun(run, "--iters", "100000"), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 200
    while (not (run / "metrics.jsonl").exists() or len(losses(run)) < 3) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # what a scheduler sends; torchrun passes it to both workers
    _, err = proc.communicate(timeout=120)
    ckpt = safe_torch_load(run / "last.pt")
    assert "interrupted by SIGTERM" in (run / "train.log").read_text(), err[-3000:]
    assert ckpt["step"] == max(losses(run)) < 30  # saved at the step boundary both ranks agreed on
    assert ckpt["quantizer_fingerprints"][0] == ckpt["quantizer_fingerprints"][1]

    proc = subprocess.run(torchrun(run, "--iters", "30", "--resume"), env=env, capture_output=True, text=True,
                          timeout=280)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert losses(run) == losses(tmp_path / "full")  # all 30 steps bit-identical
