"""Benchmark streaming: `pipe.stream` first chunk vs the one-shot `pipe(...)`, and the web app's
click-to-first-animated-frame, streamed (POST /api/stream) vs not (POST /api/generate).

    python benchmarks/bench_stream.py --rounds 9            # pipeline only
    python benchmarks/bench_stream.py --rounds 9 --web      # and the page in headless Chromium
    python benchmarks/bench_stream.py --model t2mgpt-cmu-demo --model DIR   # compare model folders

Pipeline: a 10 s motion (50 codes) with the bundled model (or each --model), the cases and models
interleaved round by round (so every case sees the same machine load), each round with its own
seed; medians, and how far the concatenated chunks are from the one-shot joints (max, mm). The
prompt's text features are cached after the first call in both cases (as in `t2mgpt serve`).
Web: a live uvicorn on 127.0.0.1 with the (first) model and Debian's /usr/bin/chromium
(Playwright); `window.__t2mgpt.state.firstFrameMs` is the time from the click to the first frame
drawn of the new motion. Prints the machine (cores, threads, load average) with the results.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

PROMPT = "a person walks forward and then turns around"
SECONDS = 10.0


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {one:.1f} (1 min) / {five:.1f} (5 min)"


def _round(pipe, seed: int, times: dict[str, list[float]], guidance: float | None = None) -> None:
    """One-shot, then streamed, with the same seed; stream - one-shot in mm."""
    import numpy as np

    t0 = time.perf_counter()
    whole = pipe(PROMPT, seconds=SECONDS, seed=seed, guidance_scale=guidance)[0][0]
    times["one-shot"].append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    with pipe.stream(PROMPT, seconds=SECONDS, seed=seed, guidance_scale=guidance) as stream:
        chunks = []
        for chunk in stream:
            if not chunks:
                times["stream: first chunk"].append(time.perf_counter() - t0)
                times["first chunk frames"].append(len(chunk.joints))
            chunks.append(chunk)
    times["stream: all chunks"].append(time.perf_counter() - t0)
    times["chunks"].append(len(chunks))
    streamed = np.concatenate([c.joints for c in chunks])
    times["stream - one-shot (max mm)"].append(float(np.abs(streamed - whole.joints).max()) * 1000)


def bench_pipeline(rounds: int, device: str, models: list[str],
                   guidance: float | None = None) -> dict[str, dict[str, list[float]]]:
    """{model: {case: values}}; the models take turns within each round (the same load for all)."""
    import torch

    from t2mgpt import T2MGPT
    from t2mgpt.tokenizer.receptive_field import receptive_field

    pipes = {m: T2MGPT.from_pretrained(m, device=device) for m in models}
    for m, pipe in pipes.items():
        field = receptive_field(pipe.vqvae.decoder, pipe.vqvae.config.downsample)
        print(f"model {m}: its decoder reads {field.right} codes ahead")
        pipe(PROMPT, seconds=SECONDS, seed=0)  # warm-up (and the text cache)
        list(pipe.stream(PROMPT, seconds=SECONDS, seed=0))
    cases = ("one-shot", "stream: first chunk", "stream: all chunks", "first chunk frames", "chunks",
             "stream - one-shot (max mm)")
    times = {m: {c: [] for c in cases} for m in models}
    for r in range(rounds):
        for m, pipe in pipes.items():
            _round(pipe, 100 + r, times[m], guidance)
            if device == "cuda":
                torch.cuda.synchronize()
    return times


def bench_web(rounds: int, model: str) -> dict[str, list[float]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers import live_server
    from playwright.sync_api import sync_playwright

    from t2mgpt.serve import create_app

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run"]
    times: dict[str, list[float]] = {"web, streamed (/api/stream)": [], "web, whole motion (/api/generate)": []}
    with live_server(create_app(model, device="cpu")) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        pages = {}
        for key, query in (("web, streamed (/api/stream)", ""), ("web, whole motion (/api/generate)", "?stream=0")):
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(url + "/" + query)
            page.wait_for_function("() => window.__t2mgpt && window.__t2mgpt.state.ready")
            page.fill("#prompt", PROMPT)
            page.evaluate("() => { const s = document.getElementById('seconds'); s.value = '10'; "
                          "s.dispatchEvent(new Event('input')); }")
            pages[key] = page
        for r in range(rounds + 1):  # round 0 warms up (text cache, first JIT of the page)
            for key, page in pages.items():
                page.fill("#seed", str(200 + r))
                page.click("#generate")
                page.wait_for_function("() => !window.__t2mgpt.state.generating && "
                                       "window.__t2mgpt.state.firstFrameMs !== null", timeout=120_000)
                if r:
                    times[key].append(page.evaluate("() => window.__t2mgpt.state.firstFrameMs") / 1000)
        browser.close()
    return times


def print_table(times: dict[str, list[float]]) -> None:
    one = statistics.median(times["one-shot"])
    print("\n| case | median | min | max | vs one-shot |\n|---|---|---|---|---|")
    for key, values in times.items():
        med = statistics.median(values)
        if key in ("first chunk frames", "chunks", "stream - one-shot (max mm)"):
            print(f"| {key} | {med:.3g} | {min(values):.3g} | {max(values):.3g} | |")
        else:
            print(f"| {key} | {med * 1000:.0f} ms | {min(values) * 1000:.0f} ms | {max(values) * 1000:.0f} ms "
                  f"| {med / one:.2f} |")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--device", default="cpu")
    p.add_argument("--model", action="append", help="model folder or name (repeat to compare; default: the "
                                                     "bundled t2mgpt-cmu-demo); the web page uses the first")
    p.add_argument("--web", action="store_true", help="also time the web page in headless Chromium")
    p.add_argument("--guidance-scale", type=float, help="classifier-free guidance (default: each model's own)")
    args = p.parse_args()
    import torch

    models = args.model or ["t2mgpt-cmu-demo"]
    print(f"machine: {load_line()}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"device {args.device}")
    times = bench_pipeline(args.rounds, args.device, models, args.guidance_scale)
    if args.web:
        times[models[0]].update(bench_web(args.rounds, models[0]))
    print(f"after: {load_line()}")
    for m in models:
        print(f"\n{m}:")
        print_table(times[m])
    return 0


if __name__ == "__main__":
    sys.exit(main())
