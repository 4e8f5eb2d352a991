"""A bounded job queue served by one worker thread.

The worker owns what its jobs touch (the model, for the generation queue), so nothing runs
concurrently on it, and the event loop only awaits futures. When `max_waiting` jobs already
wait, `submit` raises `QueueFull` at once instead of piling up requests in memory.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import math
import queue
import threading
import time
from typing import Any, Callable

_STOP = object()


class QueueFull(Exception):
    """Raised by `submit` when the queue holds `max_waiting` jobs; `retry_after` is in seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"the server is busy; retry in about {retry_after} s")
        self.retry_after = retry_after


class JobQueue:
    """`await q.run(fn, *args)` runs `fn(*args)` on the worker thread, in submission order."""

    def __init__(self, max_waiting: int = 16, name: str = "t2mgpt-worker"):
        if max_waiting < 1:
            raise ValueError(f"max_waiting must be at least 1, got {max_waiting}")
        self.max_waiting = int(max_waiting)
        self.name = name
        self._jobs: queue.Queue = queue.Queue(maxsize=self.max_waiting)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._running = 0
        self._mean_seconds = 1.0  # running mean of job durations, for Retry-After
        self._closed = False

    # ------------------------------------------------------------------ status

    @property
    def waiting(self) -> int:
        return self._jobs.qsize()

    @property
    def running(self) -> int:
        return self._running

    def retry_after(self) -> int:
        """Seconds until a place is likely free: the jobs ahead times the mean job time."""
        return max(1, math.ceil(self._mean_seconds * (self.waiting + self.running)))

    # ------------------------------------------------------------------ submitting

    def submit(self, fn: Callable[..., Any], *args, **kwargs) -> concurrent.futures.Future:
        """Queue `fn(*args, **kwargs)`; returns its future. Raises QueueFull when full."""
        if self._closed:
            raise RuntimeError(f"{self.name} is closed")
        self._start()
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            self._jobs.put_nowait((future, fn, args, kwargs))
        except queue.Full:
            raise QueueFull(self.retry_after()) from None
        return future

    async def run(self, fn: Callable[..., Any], *args, **kwargs) -> Any:
        """Submit and await the result. Cancelling the await drops the job if it has not started."""
        future = self.submit(fn, *args, **kwargs)
        return await asyncio.wrap_future(future)

    # ------------------------------------------------------------------ worker

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is _STOP:
                return
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():  # the client went away while it waited
                continue
            self._running = 1
            start = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            except BaseException as e:  # noqa: BLE001 - handed to the awaiting request
                future.set_exception(e)
            else:
                future.set_result(result)
            finally:
                self._running = 0
                self._mean_seconds = 0.7 * self._mean_seconds + 0.3 * (time.perf_counter() - start)

    def close(self, timeout: float = 5.0) -> None:
        """Cancel waiting jobs and stop the worker (after its current job)."""
        self._closed = True
        while True:
            try:
                future, *_ = self._jobs.get_nowait()
            except queue.Empty:
                break
            future.cancel()
        thread = self._thread
        if thread is not None and thread.is_alive():
            try:
                self._jobs.put(_STOP, timeout=timeout)
            except queue.Full:
                return
            thread.join(timeout)
