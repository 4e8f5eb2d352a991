"""Shared test fixtures. Reference data lives in ../shared next to the repo."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REF = SHARED / "fixtures" / "reference"
CMU = SHARED / "data" / "cmu_ml"

# Tests use tiny models, for which one thread is fastest; more threads only
# oversubscribe the CPU when several processes (DDP tests) run at once.
torch.set_num_threads(1)


def _require(path: Path) -> Path:
    if not path.exists():
        msg = f"{path} not found: tests need ../shared beside the repo"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def ref_dir() -> Path:
    return _require(REF)


@pytest.fixture(scope="session")
def cmu_dir() -> Path:
    return _require(CMU)


@pytest.fixture(scope="session")
def ref_motion(ref_dir):
    return dict(np.load(ref_dir / "ref_motion_humanml3d.npz"))


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Put the thread count back if a command under test changed it (`--threads`)."""
    yield
    torch.set_num_threads(1)


@pytest.fixture
def mount(tmp_path):
    """mount(options) -> a fresh tmpfs folder (skips unless this process may mount)."""
    mounted = []

    def make(options: str):
        d = tmp_path / f"fs{len(mounted)}"
        d.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(d)], capture_output=True)
        if r.returncode:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounted.append(d)
        return d

    yield make
    for d in mounted:  # lazily: a file still open there must not keep it mounted
        subprocess.run(["umount", "-l", str(d)], capture_output=True)
