"""`torchrun --nproc_per_node=2 -m t2mgpt generate --file ...` on CPU (gloo): the prompts are shared
between the processes, with the same files and motions as one process makes."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tiny_model import make_tiny_model_dir
from t2mgpt.commands.generate import prompt_batches, shard

PROMPTS = ["a person walks forward", "a person jumps", "someone turns around", "a man kicks",
           "a woman sits down"]


@pytest.mark.parametrize("n, world", [(5, 2), (7, 3), (2, 4), (0, 2), (64, 5)])
def test_shards_cover_every_prompt_once_in_order(n, world):
    shards = [shard(n, r, world) for r in range(world)]
    assert [i for first, last in shards for i in range(first, last)] == list(range(n))
    sizes = [last - first for first, last in shards]
    assert max(sizes) - min(sizes) <= 1
    first, last = shards[-1]
    assert all(first <= a < b <= last for a, b in prompt_batches(n, 1, 2, first, last))


@pytest.mark.timeout(300)
def test_torchrun_two_processes_write_what_one_process_writes(tmp_path):
    model = make_tiny_model_dir(tmp_path / "tiny")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS) + "\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["-m", "t2mgpt", "generate", "--file", str(prompts), "--model", str(model), "--device", "cpu",
            "--seed", "3", "--seconds", "1", "--batch-size", "2", "--format", "npy,json"]
    one = subprocess.run([sys.executable, *args, "--out-dir", str(tmp_path / "one")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          *args, "--out-dir", str(tmp_path / "two")], env=env, capture_output=True, text=True,
                         timeout=240)
    assert two.returncode == 0, two.stderr[-3000:]

    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert len(names) == 2 * len(PROMPTS) and names == sorted(p.name for p in (tmp_path / "two").iterdir())
    for name in names:  # no gaps, no duplicates, and the same motions (seed + k for motion k)
        if name.endswith(".npy"):
            np.testing.assert_array_equal(np.load(tmp_path / "one" / name), np.load(tmp_path / "two" / name))
    assert two.stdout.count("wrote 10 file(s)") == 1 and "2 processes" in two.stdout  # one summary
    assert [line for line in two.stdout.splitlines() if "->" in line] == \
        [line for line in one.stdout.splitlines() if "->" in line]
