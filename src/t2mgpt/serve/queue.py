"""A bounded job queue served by one worker thread.

The worker owns what its jobs touch (the model, for the generation queue), so nothing runs
concurrently on it, and the event loop only awaits futures. When `max_waiting` jobs already
wait, `submit` raises `QueueFull` at once instead of piling up requests in memory. A job whose
future is cancelled before it starts (its client went away) leaves the queue and never runs.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import math
import threading
import time
from collections import deque
from typing import Any, Callable


class QueueFull(Exception):
    """Raised by `submit` when `max_waiting` jobs wait; `retry_after` is in seconds."""

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
        self._jobs: deque = deque()  # (future, fn, args, kwargs)
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._running = 0
        self._mean_seconds = 1.0  # running mean of job durations, for Retry-After
        self._closed = False

    # ------------------------------------------------------------------ status

    @property
    def waiting(self) -> int:
        with self._cond:
            self._drop_cancelled()
            return len(self._jobs)

    @property
    def running(self) -> int:
        return self._running

    def retry_after(self) -> int:
        """Seconds until a place is likely free: the jobs ahead times the mean job time."""
        return max(1, math.ceil(self._mean_seconds * (len(self._jobs) + self._running)))

    # ------------------------------------------------------------------ submitting

    def submit(self, fn: Callable[..., Any], *args, **kwargs) -> concurrent.futures.Future:
        """Queue `fn(*args, **kwargs)`; returns its future. Raises QueueFull when full."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._cond:
            if self._closed:
                raise RuntimeError(f"{self.name} is closed")
            self._drop_cancelled()
            if len(self._jobs) >= self.max_waiting:
                raise QueueFull(self.retry_after())
            self._jobs.append((future, fn, args, kwargs))
            self._start()
            self._cond.notify()
        return future

    async def run(self, fn: Callable[..., Any], *args, **kwargs) -> Any:
        """Submit and await the result. Cancelling the await drops the job if it has not started."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    # ------------------------------------------------------------------ worker

    def _drop_cancelled(self) -> None:  # with self._cond held
        if any(job[0].cancelled() for job in self._jobs):
            self._jobs = deque(job for job in self._jobs if not job[0].cancelled())

    def _start(self) -> None:  # with self._cond held
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
            self._thread.start()

    def _next(self):
        with self._cond:
            while True:
                self._drop_cancelled()
                if self._jobs:
                    job = self._jobs.popleft()
                    if job[0].set_running_or_notify_cancel():
                        self._running = 1
                        return job
                elif self._closed:
                    return None
                else:
                    self._cond.wait()

    def _work(self) -> None:
        while (job := self._next()) is not None:
            future, fn, args, kwargs = job
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

    def open(self) -> None:
        """Accept jobs again after `close` (an app whose lifespan starts a second time)."""
        with self._cond:
            self._closed = False

    def close(self, timeout: float = 5.0) -> None:
        """Refuse new jobs, cancel waiting ones and stop the worker (after its current job)."""
        with self._cond:
            self._closed = True
            for future, *_ in self._jobs:
                future.cancel()
            self._jobs.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
