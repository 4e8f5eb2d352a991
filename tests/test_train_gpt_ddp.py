"""`torchrun --nproc_per_node=2 -m t2mgpt train-gpt` on CPU (gloo): rank-0 outputs, both ranks' states saved."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from helpers import make_tiny_dataset
from t2mgpt.cli import main
from t2mgpt.utils.io import safe_torch_load


@pytest.mark.timeout(240)
def test_torchrun_two_processes(tmp_path):
    data = make_tiny_dataset(tmp_path / "data", n_motions=16, seed=5)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["train-vq", "--data", str(data), "--out", str(tmp_path / "vq"), "--nb-code", "32", "--code-dim",
                     "32", "--width", "32", "--depth", "1", "--batch-size", "8", "--window-size", "32", "--iters", "2",
                     "--warmup-iters", "1", "--val-split", "", "--device", "cpu", "--no-progress"]) == 0
    finally:
        torch.set_num_threads(n)
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "t2mgpt", "train-gpt", "--data", str(data), "--vq", str(tmp_path / "vq"), "--out", str(run),
           "--text-encoder", "hashing", "--clip-dim", "32", "--embed-dim", "32", "--num-layers", "1", "--n-head", "2",
           "--batch-size", "8", "--iters", "8", "--log-every", "2", "--eval-every", "4", "--save-every", "4",
           "--device", "cpu", "--no-progress"]  # no --tokens: rank 0 encodes the codes into RUN/tokens
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=220)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("done: 8 updates") == 1  # only rank 0 reports

    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "config.json", "last.pt", "metrics.jsonl", "tb",
                                                     "text_features.safetensors", "tokens", "train.log"]
    assert len(list((run / "tb").iterdir())) == 1  # one TensorBoard writer (rank 0)
    log = (run / "train.log").read_text()
    assert "2 process(es) on cpu" in log and log.count("step 8/8") == 1
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["split"] == "train"] == [2, 4, 6, 8]
    assert [r["step"] for r in rows if r["split"] == "val"] == [0, 4, 8]

    ckpt = safe_torch_load(run / "last.pt")
    assert ckpt["step"] == 8 and ckpt["world_size"] == 2
    assert len(ckpt["rng"]) == 2  # every rank's random state, for an exact resume
    assert not torch.equal(ckpt["rng"][0]["torch"], ckpt["rng"][1]["torch"])  # ranks corrupt differently
    per_epoch = ckpt["num_entries"] // 8  # global batches per epoch (drop_last)
    assert ckpt["data"]["epoch"] * per_epoch + ckpt["data"]["index"] == 8  # one position for both ranks
