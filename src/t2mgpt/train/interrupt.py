"""Ctrl-C (SIGINT) and SIGTERM stop training at the next step boundary, where the state is consistent.

An exception raised in the middle of a step would leave the data position and the codebook's
EMA statistics of the next step half-applied; the handler only sets a flag that the loop reads
between steps, then saves last.pt and raises `Interrupted`. A second signal more than a second
after the first aborts at once (without saving; the previous last.pt stays intact). Signals
that arrive together count once: under torchrun a terminal's Ctrl-C reaches each worker both
directly and through torchrun.
"""
from __future__ import annotations

import signal
import threading
import time

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Training stopped by a signal after saving last.pt at `step`."""

    def __init__(self, signum: int, step: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name} at step {step}")
        self.signum, self.step = signum, step


class StopFlag:
    """Within `with StopFlag() as stop:`, SIGINT and SIGTERM set `stop.signum` instead of raising."""

    def __init__(self):
        self.signum: int | None = None
        self._at = 0.0
        self._previous: dict = {}

    def __enter__(self) -> "StopFlag":
        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            for s in SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        if self.signum is None:
            self.signum, self._at = signum, time.monotonic()
        elif time.monotonic() - self._at > 1.0:  # asked twice: stop now, without saving
            raise KeyboardInterrupt
