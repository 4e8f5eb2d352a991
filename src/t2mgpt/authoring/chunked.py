"""Sampling a code sequence of any length in chunks, each conditioned on its segment's text.

A chunk is one call of the decoding engine whose prefix is the last `window` codes of what
came before (all of them while they fit), so the GPT sees the motion so far; the chunk's own
length is exact (END is masked until it is reached). Once the 50-code context is full the
window slides: the GPT then sees the most recent `window` codes at positions 0.. (as if the
motion started there). `rows` candidates are decoded as one batch, each with its own seed;
`select` (if given) picks one after every chunk and all rows continue from it (guided
decoding, e.g. path following), otherwise the rows stay independent (e.g. in-betweening).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from t2mgpt.errors import InputError

WINDOW = 20  # codes of context kept when the context is full (4 s at 20 fps)
SAMPLING_KEYS = ("temperature", "top_k", "top_p", "greedy", "guidance_scale")


def check_sampling(options: dict, pipe) -> dict:
    """Keyword options of the authoring calls (sampling, cleanup) -> a checked dict, with the
    pipeline's guidance scale unless one is given."""
    unknown = sorted(set(options) - set(SAMPLING_KEYS) - {"cleanup"})
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(unknown)}; the options are "
                         f"{', '.join(SAMPLING_KEYS)} and cleanup")
    return {"guidance_scale": pipe.guidance_scale, **{k: v for k, v in options.items() if v is not None}}


def generate_args(options: dict) -> dict:
    """The sampling arguments of `MotionGPT.generate` among the options."""
    return {k: v for k, v in options.items() if k in SAMPLING_KEYS}


def chunk_seeds(seed: int, chunk: int, rows: int) -> list[int]:
    """Distinct, reproducible per-row seeds for one chunk of one authored motion."""
    state = np.random.SeedSequence([int(seed), int(chunk)]).generate_state(rows, np.uint64)
    return [int(s) >> 2 for s in state]


def sample_codes(gpt, plan: Sequence[tuple[torch.Tensor, int]], history: Sequence[int] = (), *, rows: int = 1,
                 seed: int = 0, sampling: dict | None = None, window: int = WINDOW, chunk: int | None = None,
                 select: Callable[[list[list[int]]], int] | None = None,
                 at_boundary: Callable[[list[list[int]], int], int] | None = None,
                 boundary_rows: int = 8, hooks: Sequence = (),
                 on_codes: Callable[[list[int]], None] | None = None) -> list[list[int]]:
    """New codes per row for `plan` [(text feature (dim,), n codes), ...] after `history` codes.

    chunk: at most this many new codes per engine call (default: as many as fit the context).
    select(rows' codes so far, history included) -> the row every row continues from.
    at_boundary(candidates' codes, boundary code index) -> the candidate kept: the first chunk
    of every segment after the first is sampled `boundary_rows` times and one is kept (rows = 1).
    hooks: decoding hooks of every engine call; on_codes(row 0's new codes so far), as they grow
    (streaming): after every step while one row decodes, after the choice when several do.
    """
    max_ctx = gpt.config.block_size - 1
    window = max(0, min(int(window), max_ctx - 1))
    hist = [list(map(int, history)) for _ in range(rows)]
    k = 0
    for feature, n in plan:
        done = 0
        while done < n:
            ctx = min(len(hist[0]), window)
            new = min(n - done, max_ctx - ctx, chunk or max_ctx)
            boundary = at_boundary is not None and rows == 1 and done == 0 and len(hist[0]) > len(history)
            if boundary:
                hist = hist * boundary_rows
            n_rows = len(hist)
            prefix = [torch.tensor(h[len(h) - ctx:], dtype=torch.long) for h in hist] if ctx else None
            report = None
            if on_codes is not None and n_rows == 1:
                before = hist[0][len(history):]
                report = lambda step, before=before, ctx=ctx: on_codes(before + step.codes[0, ctx:].tolist())  # noqa: E731
            codes = gpt.generate(feature.reshape(1, -1).expand(n_rows, -1), min_tokens=ctx + new,
                                 max_tokens=ctx + new, seed=chunk_seeds(seed, k, n_rows), prefix=prefix,
                                 hooks=hooks, callback=report, **generate_args(sampling or {}))
            b = len(hist[0])
            hist = [h + c[ctx:].tolist() for h, c in zip(hist, codes)]
            if boundary:
                hist = [hist[at_boundary(hist, b)]]
            elif select is not None and rows > 1:
                best = hist[select(hist)]
                hist = [list(best) for _ in range(rows)]
            if on_codes is not None and n_rows > 1:
                on_codes(hist[0][len(history):])
            done += new
            k += 1
    return [h[len(history):] for h in hist]
