"""Generation jobs of the web app: run on the worker thread, stop when their client leaves."""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import threading
import time

import numpy as np
from fastapi import Request

from t2mgpt.serve.store import ResultStore


class ClientGone(Exception):
    """The client disconnected before its job finished."""


class JobCancelled(Exception):
    """A running job stopped between decoding steps because its client went away."""


async def result_unless_gone(request: Request, future: concurrent.futures.Future, cancel: threading.Event,
                             poll: float = 0.5):
    """Await a queued job; if the client goes away first, drop the job if it is still waiting,
    or stop it at its next decoding step (`cancel`), so abandoned requests free the model."""
    waiter = asyncio.wrap_future(future)
    try:
        while not waiter.done():
            await asyncio.wait({waiter}, timeout=poll)
            if not waiter.done() and await request.is_disconnected():
                cancel.set()
                future.cancel()
                raise ClientGone
    except asyncio.CancelledError:
        cancel.set()
        future.cancel()
        raise
    return waiter.result()


@contextlib.contextmanager
def stop_when(pipe, cancel: threading.Event):
    """Raise JobCancelled inside `pipe`'s GPT at the next decoding step once `cancel` is set.

    Every step runs the GPT's modules, so a forward pre-hook on them is a per-step check that
    works whatever the decoding loop looks like."""
    def check(module, args):
        if cancel.is_set():
            raise JobCancelled("the client went away")

    gpt = getattr(pipe, "gpt", None)
    handles = [m.register_forward_pre_hook(check) for m in gpt.modules()] if gpt is not None else []
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def generate_job(pipe, store: ResultStore, req, seed: int, formats: list[str], cancel: threading.Event) -> bytes:
    """Runs on the generation worker: generate, store, and encode the response JSON."""
    start = time.perf_counter()
    with stop_when(pipe, cancel):
        (motions,) = pipe([req.text], num_samples=req.num_samples, seconds=req.seconds,
                          temperature=req.temperature, top_k=req.top_k, top_p=req.top_p, seed=seed)
    elapsed = time.perf_counter() - start
    samples = []
    for motion in motions:
        joints = np.asarray(motion.joints, dtype=np.float64)
        if not np.isfinite(joints).all():
            raise RuntimeError("the model produced non-finite joint positions")
        entry = store.add(motion)
        samples.append({
            "id": entry.id, "index": int(motion.sample),
            "seed": None if motion.seed is None else int(motion.seed),
            "fps": float(motion.fps), "num_frames": int(joints.shape[0]),
            "duration": round(joints.shape[0] / motion.fps, 4),
            "tokens": [int(t) for t in motion.tokens],
            "joints": np.round(joints, 3).tolist(),
            "downloads": {name: f"/api/motions/{entry.id}.{name}" for name in formats},
        })
    doc = {"text": req.text, "model": str(pipe.name), "skeleton": str(pipe.skeleton),
           "seconds": req.seconds, "elapsed": round(elapsed, 4), "samples": samples}
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8")
