"""Generation jobs of the web app: run on the worker thread, stop when their client leaves."""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time

import numpy as np
from fastapi import Request

from t2mgpt.generator.decoding import cancel_when
from t2mgpt.serve.store import ResultStore
from t2mgpt.text.language import english_warning
from t2mgpt.text.language import english_warning


class ClientGone(Exception):
    """The client disconnected before its job finished."""


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


def generate_job(pipe, store: ResultStore, req, seed: int, formats: list[str], cancel: threading.Event) -> bytes:
    """Runs on the generation worker: generate, store, and encode the response JSON."""
    start = time.perf_counter()
    # the decoding engine checks `cancel` at every step: a job whose client left stops there
    (motions,) = pipe([req.text], num_samples=req.num_samples, seconds=req.seconds, temperature=req.temperature,
                      top_k=req.top_k, top_p=req.top_p, seed=seed, hooks=[cancel_when(cancel.is_set)])
    return response_json(pipe, store, req.text, req.seconds, motions, time.perf_counter() - start, formats)


def author_job(pipe, store: ResultStore, kind: str, req, seed: int, formats: list[str]) -> bytes:
    """Runs on the generation worker: compose, continue or in-between (motions by id from the store)."""
    start = time.perf_counter()
    sampling = dict(seed=seed, temperature=req.temperature, top_k=req.top_k, top_p=req.top_p)
    if kind == "compose":
        seconds = sum(s.seconds for s in req.segments)
        path = None if req.path is None else [(min(p.seconds, seconds), p.x, p.z) for p in req.path]
        motion = pipe.compose([(s.text, s.seconds) for s in req.segments], path=path, **sampling)
        text = motion.text
    elif kind == "continue":
        motion = pipe.continue_motion(store.get(req.motion_id).motion, req.text, seconds=req.seconds, **sampling)
        text, seconds = req.text, req.seconds
    else:
        start_m, end_m = store.get(req.start_id).motion, store.get(req.end_id).motion
        motion = pipe.inbetween(start_m, end_m, req.text, seconds=req.seconds, end_position=req.end_position,
                                **sampling)
        text, seconds = req.text, req.seconds
    return response_json(pipe, store, text, seconds, [motion], time.perf_counter() - start, formats)


def response_json(pipe, store: ResultStore, text: str, seconds, motions, elapsed: float, formats: list[str]) -> bytes:
    """Store the motions and encode the response (joints rounded to mm)."""
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
            "segments": [s.to_dict() for s in getattr(motion, "segments", ())],
        })
    language = english_warning(text)
    doc = {"text": text, "model": str(pipe.name), "skeleton": str(pipe.skeleton),
           "seconds": seconds, "elapsed": round(elapsed, 4), "samples": samples,
           "warnings": [language] if language else []}
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8")
