"""Pieces shared by the training commands (VQ-VAE, GPT).

- typed configs (see `t2mgpt.train.config`): dataclass <-> JSON, `--flag` overrides;
- run folders that are never clobbered: a new run refuses a folder holding another run,
  `--resume` refuses a changed config (except the fields listed as resumable);
- `TrainState`: model, optimizer, scheduler, step, data position and every RNG state, saved
  in a checkpoint that loads with `weights_only=True`, so a resumed run continues exactly;
- the paper's learning-rate schedule: linear warm-up, then MultiStepLR.
"""
from __future__ import annotations

import json
import random
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from t2mgpt.errors import InputError
from t2mgpt.train.checkpoint import capture_rng_state, restore_rng_state
from t2mgpt.train.config import config_diff, read_json
from t2mgpt.train.distributed import all_gather_objects

# --------------------------------------------------------------------------------------------
# seeding and schedule


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def warmup_multistep(warmup_iters: int, milestones: typing.Sequence[int], gamma: float):
    """LR factor of update `step` (0-based): linear warm-up over `warmup_iters` updates,
    then x`gamma` at each milestone passed (milestones count all updates)."""
    milestones = sorted(milestones)

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / warmup_iters) if warmup_iters > 0 else 1.0
        return warm * gamma ** sum(step >= m for m in milestones)

    return factor


def make_scheduler(optimizer, warmup_iters: int, milestones, gamma: float):
    # LambdaLR's state_dict holds no function (only plain numbers), so it loads with weights_only.
    return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_multistep(warmup_iters, milestones, gamma))


@dataclass
class ValShare:
    """This rank's share of the fixed validation entries of `source` (windows, pairs): at most
    `max_n` evenly spaced ones (0: all), every world-th to this rank, so the ranks together
    cover each once. `columns` are parallel arrays (e.g. motion index and window offset)."""

    source: Any
    columns: tuple[np.ndarray, ...]

    @classmethod
    def make(cls, source, columns: tuple[np.ndarray, ...], max_n: int, rank: int, world: int) -> "ValShare":
        n = len(columns[0])
        if max_n and n > max_n:
            keep = np.linspace(0, n - 1, max_n).round().astype(np.int64)
            columns = tuple(c[keep] for c in columns)
        return cls(source, tuple(c[rank::world] for c in columns))

    def __len__(self) -> int:
        return len(self.columns[0])

    def chunk(self, i: int, n: int) -> tuple[np.ndarray, ...]:
        return tuple(c[i:i + n] for c in self.columns)


# --------------------------------------------------------------------------------------------
# run folders


def prepare_run_dir(run_dir: str | Path, config: dict, resume: bool, resumable: typing.Iterable[str] = (),
                    write: bool = True, defaults: dict | None = None) -> Path | None:
    """Check RUN_DIR against `config`; return the checkpoint to resume from (or None).

    - without `resume`, a folder that already holds a run (config.json) is refused;
    - with `resume`, the stored config must equal `config` except for the dotted keys in
      `resumable` (e.g. 'train.iters' to extend a run); a folder without a checkpoint
      simply starts (so `--resume` is safe to put in a job script that may be preempted);
      options absent from the stored config count as their value in `defaults`.
    Writes config.json (the new one) when `write`; otherwise call `write_run_config` once
    the run is known to start (so a failure before that leaves no half-made run behind).
    """
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    last = run_dir / "last.pt"
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"--out {run_dir} is a file, not a folder")
    ckpt = None
    if cfg_path.exists():
        old = read_json(cfg_path)
        diff = config_diff(old, config, defaults=defaults)
        if not resume:
            what = "with a different config:\n  " + "\n  ".join(diff) if diff else "with the same config"
            raise InputError(
                f"{run_dir} already holds a training run {what}\n"
                f"pass --resume to continue it, or choose another --out folder (nothing was overwritten)"
            )
        resumable = set(resumable)
        blocking = [d for d in diff if d.split(":")[0] not in resumable]
        if blocking:
            raise InputError(
                f"cannot resume {run_dir}: its config differs in\n  " + "\n  ".join(blocking)
                + f"\nonly {', '.join(sorted(resumable)) or 'nothing'} may change on --resume; "
                f"start a new run with another --out folder instead"
            )
        ckpt = last if last.is_file() else None
    elif last.exists():
        raise InputError(f"{run_dir} has a last.pt but no config.json; choose another --out folder")
    if write:
        write_run_config(run_dir, config)
    return ckpt


def remove_orphan_temp_files(run_dir: str | Path) -> list[Path]:
    """Delete the hidden temporary files of atomic writes (`.last.pt.XXXX.tmp.pt`) that a kill
    during a save left behind; one run writes a folder at a time, so none is in use."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    orphans = [p for p in run_dir.glob(".*.tmp*") if p.is_file()]
    for p in orphans:
        p.unlink()
    return orphans


def write_run_config(run_dir: str | Path, config: dict) -> None:
    """Create RUN_DIR and write config.json atomically."""
    from t2mgpt.utils.io import atomic_path

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(run_dir / "config.json") as tmp:
        tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# training state


@dataclass
class TrainState:
    """Everything a run needs to continue exactly where it stopped.

    `model` is the bare module (not the DDP wrapper); `data` has state_dict/load_state_dict
    (e.g. `WindowLoader`); `best` holds e.g. {'val_loss': ..., 'step': ...}.
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    data: Any
    step: int = 0
    best: dict = field(default_factory=dict)

    def state_dict(self) -> dict:
        """Collective under DDP (gathers every rank's RNG state): call on all ranks."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "data": self.data.state_dict(),
            "step": self.step,
            "best": dict(self.best),
            "rng": all_gather_objects(capture_rng_state()),
        }

    def load_state_dict(self, ckpt: dict, rank: int = 0, world_size: int = 1) -> bool:
        """Restore; returns False if the RNG states could not be restored (other world size)."""
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.data.load_state_dict(ckpt["data"])
        self.step = int(ckpt["step"])
        self.best = dict(ckpt.get("best", {}))
        rngs = ckpt.get("rng", [])
        if len(rngs) == world_size:
            restore_rng_state(rngs[rank])
            return True
        return False
