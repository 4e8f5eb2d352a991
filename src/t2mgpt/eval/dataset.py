"""The evaluation split of the text-to-motion protocol (T2M-GPT `dataset/dataset_TM_eval.py`).

Rules of the original, kept here:

- motions shorter than `min_motion_len` (40 frames HumanML3D, 24 KIT-ML) or of 200 frames
  and more are dropped, with all their captions;
- a caption with `#start#end` (seconds) describes only that span: the span becomes an entry of
  its own (same length rules); the whole motion is an entry if it has at least one
  whole-motion caption, and then carries all its whole-motion captions;
- each time an entry is drawn, one of its captions is chosen at random, its length is cut to
  a multiple of `unit_length` (4), one unit shorter with probability 1/3 (the original's coin
  toss 'single', 'single', 'double'), and a random window of that length is taken;
- captions keep at most 20 tokens plus sos/eos (`cap_len`, at most 22);
- motions are zero-padded to `max_motion_length` = 196 frames;
- entries are shuffled, cut into batches of 32 (the last partial batch dropped), and each
  batch is sorted by caption length, longest first (the original's `collate_fn`).

Unlike the original (global `random`/`np.random` state and a shuffling DataLoader), every
draw here comes from one generator seeded by `batches(seed)`, so a run is reproducible.
Motions stay unnormalised; each evaluator normalises them with its own statistics.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from t2mgpt.data.humanml3d import Caption, HumanML3DDataset
from t2mgpt.data.spec import HUMANML3D, spec_for_dim
from t2mgpt.errors import DataError, InputError
from t2mgpt.eval.word_vectorizer import MAX_TEXT_LEN

log = logging.getLogger(__name__)

MAX_MOTION_LENGTH = HUMANML3D.max_motion_len  # frames; 49 codes of 4 frames
MAX_SOURCE_FRAMES = HUMANML3D.max_source_frames  # motions (and spans) of this many frames or more are left out
UNIT_LENGTH = HUMANML3D.unit_length  # frames per movement unit of the evaluator / per VQ code


@dataclass(frozen=True)
class EvalEntry:
    """A motion (or a captioned span of one) and the captions that describe it."""

    name: str
    motion: np.ndarray  # (T, D) float32, unnormalised
    captions: tuple[Caption, ...]


@dataclass
class EvalBatch:
    """One batch as the original loader yields it, sorted by caption length (longest first)."""

    names: list[str]
    captions: list[Caption]
    cap_lens: np.ndarray  # (B,) caption tokens incl. sos/eos, at most max_text_len + 2
    motions: np.ndarray  # (B, max_motion_length, D) float32, unnormalised, zero after m_lens
    m_lens: np.ndarray  # (B,) frames, multiples of unit_length

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.captions]

    def __len__(self) -> int:
        return len(self.names)


class EvalDataset:
    """Entries of one split, drawn into evaluation batches by `batches(seed)`.

    `source` is a dataset folder (HumanML3D layout) or an already loaded `HumanML3DDataset`.
    """

    def __init__(
        self,
        source: str | Path | HumanML3DDataset,
        split: str = "test",
        *,
        max_motion_length: int = MAX_MOTION_LENGTH,
        unit_length: int = UNIT_LENGTH,
        max_text_len: int = MAX_TEXT_LEN,
        min_motion_len: int | None = None,
        fps: float | None = None,
    ):
        data = source if isinstance(source, HumanML3DDataset) else HumanML3DDataset(source, split)
        spec = spec_for_dim(data.dim, default=HUMANML3D)  # the original's limits; HumanML3D-like if unknown
        self.root, self.split, self.dim = data.root, data.split, data.dim
        self.mean, self.std = data.mean, data.std  # the dataset's feature statistics (Mean.npy, Std.npy)
        self.max_motion_length = int(max_motion_length)
        self.unit_length = int(unit_length)
        self.max_text_len = int(max_text_len)
        self.min_motion_len = spec.min_motion_len if min_motion_len is None else int(min_motion_len)
        self.fps = spec.fps if fps is None else float(fps)
        if not 1 <= self.unit_length <= self.min_motion_len:
            raise InputError(f"unit_length must be in 1..min_motion_len={self.min_motion_len}, got {unit_length}")
        if self.max_motion_length < MAX_SOURCE_FRAMES - self.unit_length:
            raise InputError(f"max_motion_length must be at least {MAX_SOURCE_FRAMES - self.unit_length} "
                             f"(motions up to {MAX_SOURCE_FRAMES - 1} frames are kept), got {max_motion_length}")
        self.entries = _build_entries(data, self.min_motion_len, self.fps)
        if not self.entries:
            raise DataError(
                f"the {self.split} split of {self.root} has no motion usable for evaluation: every motion is "
                f"shorter than {self.min_motion_len} frames, {MAX_SOURCE_FRAMES} frames or longer, or has no caption"
            )

    def __len__(self) -> int:
        return len(self.entries)

    def num_batches(self, batch_size: int = 32) -> int:
        return len(self.entries) // batch_size

    def check_batch_size(self, batch_size: int) -> None:
        if batch_size < 3:
            raise InputError(f"batch size must be at least 3 (R-precision ranks top-3 within a batch), got {batch_size}")
        if len(self.entries) < batch_size:
            raise DataError(
                f"the {self.split} split of {self.root} has {len(self.entries)} evaluation entries, fewer than one "
                f"batch of {batch_size}; R-precision needs full batches (use a smaller batch size on tiny datasets, "
                f"knowing that R-precision then is not comparable with the paper's batch of 32)"
            )

    # ------------------------------------------------------------------------------ drawing

    def draw(self, index: int, rng: np.random.Generator) -> tuple[Caption, np.ndarray, int]:
        """One draw of entry `index`: (caption, motion window (m_len, D), m_len)."""
        entry = self.entries[index]
        caption = entry.captions[int(rng.integers(len(entry.captions)))]
        units = len(entry.motion) // self.unit_length
        if self.unit_length < 10 and rng.integers(3) == 2:  # 'double': one unit shorter, p = 1/3
            units -= 1
        m_len = units * self.unit_length
        start = int(rng.integers(len(entry.motion) - m_len + 1))
        return caption, entry.motion[start:start + m_len], m_len

    def cap_len(self, caption: Caption) -> int:
        return min(len(caption.tokens), self.max_text_len) + 2

    def batches(self, seed: int = 0, batch_size: int = 32, drop_last: bool = True) -> Iterator[EvalBatch]:
        """Shuffle the entries, draw each once, yield batches sorted by caption length."""
        if drop_last:
            self.check_batch_size(batch_size)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(self.entries))
        stop = len(order) - len(order) % batch_size if drop_last else len(order)
        for b in range(0, stop, batch_size):
            yield self._batch(order[b:b + batch_size], rng)

    def _batch(self, indices: np.ndarray, rng: np.random.Generator) -> EvalBatch:
        items = []
        for i in indices:
            caption, window, m_len = self.draw(int(i), rng)
            items.append((self.entries[i].name, caption, self.cap_len(caption), window, m_len))
        items.sort(key=lambda it: it[2], reverse=True)  # stable, as list.sort in the original collate_fn
        motions = np.zeros((len(items), self.max_motion_length, self.dim), dtype=np.float32)
        for k, it in enumerate(items):
            motions[k, :it[4]] = it[3]
        return EvalBatch(
            names=[it[0] for it in items],
            captions=[it[1] for it in items],
            cap_lens=np.array([it[2] for it in items], dtype=np.int64),
            motions=motions,
            m_lens=np.array([it[4] for it in items], dtype=np.int64),
        )

    def __repr__(self) -> str:
        return f"EvalDataset({str(self.root)!r}, split={self.split!r}, entries={len(self)}, dim={self.dim})"


def _build_entries(data: HumanML3DDataset, min_len: int, fps: float) -> list[EvalEntry]:
    def usable(n: int) -> bool:
        return min_len <= n < MAX_SOURCE_FRAMES

    entries = []
    for mid, motion, captions in zip(data.ids, data.motions, data.captions):
        if not usable(len(motion)):
            continue
        whole = tuple(c for c in captions if c.whole and c.tokens)
        for k, c in enumerate(captions):
            if c.whole or not c.tokens:
                continue
            span = motion[int(c.start * fps):int(c.end * fps)]
            if usable(len(span)):
                entries.append(EvalEntry(f"{mid}#{k}", span, (c,)))  # the original: '<letter>_<id>'
        if whole:
            entries.append(EvalEntry(mid, motion, whole))
    return entries
