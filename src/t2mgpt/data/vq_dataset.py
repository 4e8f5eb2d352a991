"""Training windows for the VQ-VAE.

As in the original `dataset_VQ.py`: every epoch visits each motion of at least
`window_size` frames once, in shuffled order, taking one random window of
`window_size` frames from it (z-normalised); the last incomplete batch is dropped and
the loader cycles forever.

Unlike a `DataLoader` iterator, the order here is a pure function of
(seed, epoch): epoch `e` shuffles with a generator seeded by (seed, e) and draws each
motion's window offset from it. Global batch `k` is `perm[k*B:(k+1)*B]` and, under
DDP, rank `r` of `W` takes its contiguous share of it, so the union of the ranks'
batches is exactly the single-process batch. The position in the data stream is two
integers (`epoch`, `index`), which is all a checkpoint needs to resume it.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from t2mgpt.errors import DataError


class MotionWindows:
    """Normalised motions (those of at least `window_size` frames), concatenated.

    One contiguous float32 array keeps memory compact and makes a batch a single
    fancy-index gather.
    """

    def __init__(self, motions: list[np.ndarray], mean: np.ndarray, std: np.ndarray, window_size: int = 64):
        if window_size < 1:
            raise DataError(f"window size must be positive, got {window_size}")
        kept = [m for m in motions if len(m) >= window_size]
        if not kept:
            longest = max((len(m) for m in motions), default=0)
            raise DataError(
                f"no motion has at least {window_size} frames (longest: {longest}); "
                f"lower --window-size or add longer motions"
            )
        self.window_size = window_size
        self.num_skipped = len(motions) - len(kept)
        self.lengths = np.array([len(m) for m in kept], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        mean = np.asarray(mean, dtype=np.float32)
        std = np.asarray(std, dtype=np.float32)
        self.data = np.empty((int(self.lengths.sum()), mean.shape[0]), dtype=np.float32)
        for s, m in zip(self.starts, kept):
            np.subtract(m, mean, out=self.data[s : s + len(m)])
            self.data[s : s + len(m)] /= std

    @classmethod
    def from_dataset(cls, dataset, window_size: int = 64) -> "MotionWindows":
        """From a `HumanML3DDataset` (normalised with its Mean/Std)."""
        return cls(dataset.motions, dataset.mean, dataset.std, window_size)

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def dim(self) -> int:
        return self.data.shape[1]

    def gather(self, motion_idx: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """(B,) motions and frame offsets -> (B, window_size, D) windows."""
        frames = (self.starts[motion_idx] + offsets)[:, None] + np.arange(self.window_size)
        return self.data[frames]

    def fixed_windows(self) -> tuple[np.ndarray, np.ndarray]:
        """Deterministic non-overlapping windows (from frame 0 of each motion) for validation."""
        n = self.lengths // self.window_size
        idx = np.repeat(np.arange(len(self)), n)
        offsets = np.concatenate([np.arange(k) * self.window_size for k in n])
        return idx, offsets.astype(np.int64)


@dataclass
class DataPosition:
    """Where the stream of batches stands: the next batch is batch `index` of `epoch`."""

    epoch: int = 0
    index: int = 0

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index}


class WindowLoader:
    """Endless, resumable stream of (B / world_size, window_size, D) float32 batches.

    With `prefetch`, a background thread prepares the next batch (passed through
    `transform`, e.g. tensor conversion and pinning) while the current one trains. Batches
    are a pure function of their position, so prefetching changes nothing but speed.
    """

    def __init__(self, windows: MotionWindows, batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
                 prefetch: bool = False, transform=None):
        if batch_size % world_size:
            raise DataError(
                f"batch size {batch_size} is the global batch and must be divisible by the "
                f"number of processes ({world_size})"
            )
        if len(windows) < batch_size:
            raise DataError(
                f"only {len(windows)} training motions have at least {windows.window_size} frames, "
                f"fewer than one batch of {batch_size}: lower --batch-size or add data"
            )
        self.windows, self.batch_size, self.seed = windows, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.local_batch = batch_size // world_size
        self.steps_per_epoch = len(windows) // batch_size  # drop_last
        self.position = DataPosition()
        self._plan_epoch: int | None = None
        self.transform = transform or (lambda x: x)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="window-prefetch") if prefetch else None
        self._pending = None  # ((epoch, index), future)

    def epoch_plan(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The shuffled motion order of `epoch` and one window offset per motion."""
        rng = np.random.default_rng([self.seed, epoch])
        perm = rng.permutation(len(self.windows))
        offsets = rng.integers(0, self.windows.lengths - self.windows.window_size + 1)
        return perm, offsets

    def batch(self, epoch: int, index: int) -> np.ndarray:
        if self._plan_epoch != epoch:
            self._perm, self._offsets = self.epoch_plan(epoch)
            self._plan_epoch = epoch
        lo = index * self.batch_size + self.rank * self.local_batch
        idx = self._perm[lo : lo + self.local_batch]
        return self.windows.gather(idx, self._offsets[idx])

    def __iter__(self):
        return self

    def _load(self, epoch: int, index: int):
        return self.transform(self.batch(epoch, index))

    def __next__(self):
        pos = self.position
        key = (pos.epoch, pos.index)
        pending, self._pending = self._pending, None
        if pending is not None:
            out = pending[1].result()  # always wait: the worker shares the epoch-plan cache
            if pending[0] != key:
                out = self._load(*key)
        else:
            out = self._load(*key)
        pos.index += 1
        if pos.index == self.steps_per_epoch:
            pos.epoch, pos.index = pos.epoch + 1, 0
        if self._pool is not None:
            self._pending = ((pos.epoch, pos.index), self._pool.submit(self._load, pos.epoch, pos.index))
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool, self._pending = None, None

    def state_dict(self) -> dict:
        return self.position.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.position = DataPosition(int(state["epoch"]), int(state["index"]))
