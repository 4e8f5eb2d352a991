"""Rank-0 run logging: a tqdm progress bar, TensorBoard scalars, `metrics.jsonl` and `train.log`.

On other ranks (`enabled=False`) every method is a no-op.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


class RunLogger:
    def __init__(self, run_dir: str | Path, total: int, start: int = 0, enabled: bool = True, progress: bool | None = None):
        self.enabled = enabled
        self.run_dir = Path(run_dir)
        self.bar = self.writer = self._metrics = self._log = None
        if not enabled:
            return
        from torch.utils.tensorboard import SummaryWriter
        from tqdm import tqdm

        self.writer = SummaryWriter(str(self.run_dir / "tb"), purge_step=start + 1 if start else None)
        self._truncate_metrics(start)
        self._metrics = open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8")
        self._log = open(self.run_dir / "train.log", "a", encoding="utf-8")
        if progress is None:
            progress = sys.stderr.isatty()
        # Without a terminal there is no bar: the periodic log lines carry the rate and ETA.
        self.bar = tqdm(total=total, initial=start, unit="it", dynamic_ncols=True, smoothing=0.05,
                        file=sys.stderr, disable=not progress)

    def _truncate_metrics(self, start: int) -> None:
        """Drop metrics logged after the checkpoint we resume from (they will be logged again)."""
        path = self.run_dir / "metrics.jsonl"
        if not path.exists():
            return
        keep = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and json.loads(line)["step"] <= start]
        path.write_text("".join(line + "\n" for line in keep), encoding="utf-8")

    def scalars(self, step: int, values: dict[str, float], prefix: str = "train") -> None:
        """Record `values` at `step` in TensorBoard (`prefix/name`) and metrics.jsonl."""
        if not self.enabled:
            return
        for k, v in values.items():
            self.writer.add_scalar(f"{prefix}/{k}", v, step)
        self._metrics.write(json.dumps({"step": step, "split": prefix, **values}) + "\n")
        self._metrics.flush()

    def progress(self, n: int = 1, **postfix) -> None:
        if not self.enabled:
            return
        self.bar.update(n)
        if postfix:
            self.bar.set_postfix({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in postfix.items()}, refresh=False)

    def info(self, msg: str) -> None:
        if not self.enabled:
            return
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
        self.bar.write(msg, file=sys.stderr)
        self._log.write(line + "\n")
        self._log.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        self.bar.close()
        self.writer.close()
        self._metrics.close()
        self._log.close()


def format_duration(seconds: float) -> str:
    """3725 -> '1h02m05s'."""
    if seconds != seconds or seconds == float("inf"):
        return "?"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"
