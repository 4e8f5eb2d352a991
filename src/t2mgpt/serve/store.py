"""Bounded in-memory store of generated motions (least recently used ones are dropped first).

Each entry keeps the motion and the files made from it on demand (mp4, bvh, ...), so a second
download is instant. Ids of dropped motions are remembered (boundedly) to say *why* an id is
unknown.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StoredMotion:
    id: str
    motion: Any  # a GeneratedMotion (text, joints (T, J, 3), fps, tokens, seed, skeleton, ...)
    created: float = field(default_factory=time.time)
    files: dict[str, bytes] = field(default_factory=dict)  # format -> bytes, made on demand


class MotionNotFound(KeyError):
    def __init__(self, motion_id: str, evicted: bool, capacity: int):
        self.motion_id = motion_id
        self.evicted = evicted
        if evicted:
            msg = (f"motion {motion_id!r} is no longer available: the server keeps only the {capacity} most "
                   "recently used motions. Generate it again (the same prompt and seed give the same motion).")
        else:
            msg = f"no motion with id {motion_id!r}; generate one first with POST /api/generate"
        super().__init__(msg)
        self.message = msg

    def __str__(self) -> str:
        return self.message


class ResultStore:
    """Thread-safe LRU map id -> StoredMotion holding at most `max_items` motions."""

    def __init__(self, max_items: int = 64, remember_evicted: int = 4096):
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        self.max_items = int(max_items)
        self._items: OrderedDict[str, StoredMotion] = OrderedDict()
        self._evicted: deque[str] = deque(maxlen=remember_evicted)
        self._evicted_set: set[str] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, motion: Any) -> StoredMotion:
        entry = StoredMotion(id=secrets.token_urlsafe(9), motion=motion)
        with self._lock:
            self._items[entry.id] = entry
            while len(self._items) > self.max_items:
                old, _ = self._items.popitem(last=False)
                if len(self._evicted) == self._evicted.maxlen:
                    self._evicted_set.discard(self._evicted[0])
                self._evicted.append(old)
                self._evicted_set.add(old)
        return entry

    def get(self, motion_id: str) -> StoredMotion:
        """The entry (now the most recently used), or MotionNotFound."""
        with self._lock:
            entry = self._items.get(motion_id)
            if entry is None:
                raise MotionNotFound(motion_id, motion_id in self._evicted_set, self.max_items)
            self._items.move_to_end(motion_id)
            return entry

    def ids(self) -> list[str]:
        """Ids from least to most recently used."""
        with self._lock:
            return list(self._items)
