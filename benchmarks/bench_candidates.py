"""What best-of-k sampling costs: wall time of one request (one prompt, one motion) at k = 1, 2, 4, 8.

    python benchmarks/bench_candidates.py --model t2mgpt-cmu-demo --repeats 5 --markdown table.md

Each k runs the same prompts with the same seeds (the model ends the motion itself, so lengths
differ between requests); the table gives the median over prompts x repeats and the ratio to k = 1.
The candidates are decoded in one batch, so the GPT's cost grows far less than k; the VQ-VAE
decoding of every candidate (the critic reads the decoded motion) and the scoring are the rest.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

PROMPTS = ["a person walks forward", "a person kicks with the left leg", "a person waves with the right hand",
           "a person jumps twice"]


def main(argv=None) -> int:
    from t2mgpt import T2MGPT

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="t2mgpt-cmu-demo")
    ap.add_argument("--candidates", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--markdown", help="write the table here too")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    pipe = T2MGPT.from_pretrained(args.model, device="cpu")
    pipe(PROMPTS[:1], seed=0, candidates=1)  # warm-up (first call loads and allocates)
    times: dict[int, list[float]] = {k: [] for k in args.candidates}
    for r in range(args.repeats):
        for k in args.candidates:
            for i, text in enumerate(PROMPTS):
                t = time.perf_counter()
                pipe([text], seed=1000 * r + i, candidates=k)
                times[k].append(time.perf_counter() - t)
    base = statistics.median(times[args.candidates[0]])
    lines = [f"Model {args.model}, {args.threads} thread(s), {len(PROMPTS)} prompts x {args.repeats} repeats, "
             "one motion per request.", "",
             "| candidates | median s / request | vs k = 1 |", "|---:|---:|---:|"]
    for k in args.candidates:
        m = statistics.median(times[k])
        lines.append(f"| {k} | {m:.2f} | {m / base:.1f}x |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
