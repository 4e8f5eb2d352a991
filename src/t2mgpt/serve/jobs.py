"""Generation jobs of the web app: run on the worker thread, stop when their client leaves."""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
from typing import AsyncIterator, Callable

import numpy as np
from fastapi import Request

from t2mgpt.authoring.timeline import codes_for
from t2mgpt.generator.decoding import cancel_when
from t2mgpt.serve.store import ResultStore
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
                      top_k=req.top_k, top_p=req.top_p, guidance_scale=req.guidance_scale, seed=seed,
                      candidates=req.candidates, hooks=[cancel_when(cancel.is_set)])
    return response_json(pipe, store, req.text, req.seconds, motions, time.perf_counter() - start, formats)


def author_job(pipe, store: ResultStore, kind: str, req, seed: int, formats: list[str],
               cancel: threading.Event) -> bytes:
    """Runs on the generation worker: compose, continue or in-between (motions by id from the store);
    stops at the next decoding step once `cancel` is set (its client left)."""
    start = time.perf_counter()
    sampling = dict(seed=seed, temperature=req.temperature, top_k=req.top_k, top_p=req.top_p,
                    guidance_scale=req.guidance_scale, hooks=[cancel_when(cancel.is_set)])
    if kind == "compose":
        # each segment is rounded to whole codes: a waypoint past that end means the last frame
        spt = pipe.seconds_per_token
        seconds = sum(codes_for(s.seconds, spt) for s in req.segments) * spt
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
    samples = [sample_doc(motion, store.add(checked(motion)), formats) for motion in motions]
    language = english_warning(text)
    doc = {"text": text, "model": str(pipe.name), "skeleton": str(pipe.skeleton),
           "seconds": seconds, "elapsed": round(elapsed, 4), "samples": samples,
           "warnings": [language] if language else []}
    return _json(doc)


def stream_job(pipe, store: ResultStore, req, seed: int, formats: list[str], cancel: threading.Event,
               emit: Callable[[str, dict], None]) -> None:
    """Runs on the generation worker: each sample's frames go to `emit` as they are decoded.

    Events: `start` (the request as used), `frames` per chunk ({sample, start, final, joints}),
    `sample` when one is complete (as in /api/generate, without joints), `done`; or `error`.
    Samples are decoded one after another (sample k with seed + k, as /api/generate with candidates 1).
    """
    start = time.perf_counter()
    language = english_warning(req.text)
    emit("start", {"text": req.text, "model": str(pipe.name), "skeleton": str(pipe.skeleton),
                   "seconds": req.seconds, "num_samples": req.num_samples, "fps": float(pipe.fps), "seed": seed,
                   "warnings": [language] if language else []})
    for k in range(req.num_samples):
        with pipe.stream(req.text, seconds=req.seconds, temperature=req.temperature, top_k=req.top_k,
                         top_p=req.top_p, guidance_scale=req.guidance_scale, seed=seed + k,
                         hooks=[cancel_when(cancel.is_set)]) as stream:
            for chunk in stream:
                if cancel.is_set():
                    return
                joints = np.asarray(chunk.joints, dtype=np.float64)
                if not np.isfinite(joints).all():
                    raise RuntimeError("the model produced non-finite joint positions")
                emit("frames", {"sample": k, "start": chunk.start, "final": chunk.final,
                                "joints": np.round(joints, 3).tolist()})
        if cancel.is_set():
            return
        motion = stream.motion(sample=k)
        emit("sample", sample_doc(motion, store.add(motion), formats, joints=False))
    emit("done", {"elapsed": round(time.perf_counter() - start, 4)})


def checked(motion):
    if not np.isfinite(np.asarray(motion.joints, dtype=np.float64)).all():
        raise RuntimeError("the model produced non-finite joint positions")
    return motion


def sample_doc(motion, entry, formats: list[str], joints: bool = True) -> dict:
    """One sample of a generate response (joints in metres rounded to mm)."""
    n = int(motion.joints.shape[0])
    doc = {
        "id": entry.id, "index": int(motion.sample), "seed": None if motion.seed is None else int(motion.seed),
        "fps": float(motion.fps), "num_frames": n, "duration": round(n / motion.fps, 4),
        "tokens": [int(t) for t in motion.tokens],
        "downloads": {name: f"/api/motions/{entry.id}.{name}" for name in formats},
        "segments": [s.to_dict() for s in getattr(motion, "segments", ())],
    }
    if joints:
        doc["joints"] = np.round(np.asarray(motion.joints, dtype=np.float64), 3).tolist()
    return doc


def _json(doc) -> bytes:
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8")


async def server_sent_events(request: Request, future: concurrent.futures.Future, events: asyncio.Queue,
                             cancel: threading.Event, poll: float = 0.5) -> AsyncIterator[bytes]:
    """The events a `stream_job` emits, as text/event-stream; the job stops if the client leaves."""
    try:
        while True:
            try:
                name, data = await asyncio.wait_for(events.get(), timeout=poll)
            except asyncio.TimeoutError:
                if await request.is_disconnected():
                    return
                if future.done() and events.empty():  # ended without a last event: cancelled before it ran
                    return
                continue
            if name is None:  # the job ended
                return
            yield b"event: " + name.encode() + b"\ndata: " + _json(data) + b"\n\n"
    finally:  # normal end, client gone, or server shutdown: stop the decoding if it still runs
        cancel.set()
        future.cancel()


def event_sink(loop: asyncio.AbstractEventLoop, events: asyncio.Queue) -> Callable[[str | None, dict | None], None]:
    """`emit(name, data)` for a worker thread: hands events to the request's event loop."""

    def emit(name, data):
        try:
            loop.call_soon_threadsafe(events.put_nowait, (name, data))
        except RuntimeError:  # the loop is closed: the server is shutting down
            pass

    return emit


def run_stream_job(*args, emit) -> None:
    """`stream_job` with its errors sent as an `error` event and an end marker (None) at the end."""
    try:
        stream_job(*args, emit)
    except Exception as e:  # noqa: BLE001 - the client has its 200 already; tell it in the stream
        emit("error", {"detail": str(e) or type(e).__name__})
    finally:
        emit(None, None)
