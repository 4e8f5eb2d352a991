"""`torchrun --nproc_per_node=2 -m t2mgpt generate --file prompts.txt` on CPU (gloo): the prompts
are shared between the ranks, every motion is written once into one folder, and the files are
those of the same run in one process (same seeds)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from tiny_model import make_tiny_model_dir

from t2mgpt.commands.generate import prompt_shard

PROMPTS = ["a person walks forward", "# a comment", "a person jumps", "", "a person turns left",
           "a person sits down", "a person waves", "a person walks forward"]


@pytest.mark.parametrize("n, world", [(0, 2), (1, 2), (5, 2), (7, 3), (8, 4), (3, 5)])
def test_shards_cover_every_prompt_once(n, world):
    shards = [prompt_shard(n, r, world) for r in range(world)]
    assert [i for lo, hi in shards for i in range(lo, hi)] == list(range(n))
    assert max(hi - lo for lo, hi in shards) - min(hi - lo for lo, hi in shards) <= 1


@pytest.mark.timeout(300)
def test_torchrun_generate_shards_prompts(tmp_path):
    model = make_tiny_model_dir(tmp_path / "tiny")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS) + "\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    args = ["generate", "--file", str(prompts), "--model", str(model), "-n", "2", "--seconds", "2", "--seed", "5",
            "--format", "npy", "--device", "cpu", "--batch-size", "4"]
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "t2mgpt", *args, "--out-dir", str(tmp_path / "ddp")],
                         env=env, capture_output=True, text=True, timeout=280)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one = subprocess.run([sys.executable, "-m", "t2mgpt", *args, "--out-dir", str(tmp_path / "one")],
                         env=env, capture_output=True, text=True, timeout=120)
    assert one.returncode == 0, one.stderr[-3000:]

    files = sorted(p.name for p in (tmp_path / "ddp").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "one").iterdir())
    assert len(files) == 6 * 2  # 6 prompts (the repeated one gets its own names) x 2 samples, no gaps
    for name in files:
        np.testing.assert_allclose(np.load(tmp_path / "ddp" / name), np.load(tmp_path / "one" / name), atol=1e-5)
    assert ddp.stdout.count("wrote 12 file(s)") == 1 and "2 processes" in ddp.stdout  # rank 0 reports all
    assert ddp.stdout.count(" -> ") == 12
