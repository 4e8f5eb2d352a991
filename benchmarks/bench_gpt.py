"""Benchmark MotionGPT decoding at the released size (9 + 9 blocks, width 1024, 16 heads).

Random weights (the output head is scaled so logits spread like a trained model's), 50 codes
per motion (= 10 s at 20 fps; END suppressed with min_tokens=50). Compares
  - the original's way: one prompt at a time, whole prefix recomputed at every step;
  - KV-cached decoding, batch 1 and batch 32;
  - the same in bfloat16 and with int8 dynamic quantisation of every nn.Linear,
    plus how much these change the output.
Each case runs in its own subprocess so its peak RSS is its own.

    taskset -c 0,1 .venv/bin/python benchmarks/bench_gpt.py --threads 2 --out docs/benchmarks.md
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

TOKENS = 50
CASES = {
    # name: (batch, use_cache, precision)
    "recompute-b1": (1, False, "fp32"),
    "cached-b1": (1, True, "fp32"),
    "cached-b32": (32, True, "fp32"),
    "cached-b1-bf16": (1, True, "bf16"),
    "cached-b32-bf16": (32, True, "bf16"),
    "cached-b1-int8": (1, True, "int8"),
    "cached-b32-int8": (32, True, "int8"),
}


def build_model(precision: str = "fp32"):
    import torch

    from t2mgpt.models.gpt import GPTConfig, MotionGPT

    torch.manual_seed(0)
    model = MotionGPT(GPTConfig()).eval()  # released HumanML3D size
    with torch.no_grad():
        model.head.weight.mul_(100.0)  # logits std ~5 instead of ~0.05: realistic peaks for the quality check
    return convert(model, precision)


def convert(model, precision: str):
    import torch

    if precision == "bf16":
        return model.to(torch.bfloat16)
    if precision == "int8":
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    return model


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker(case: str, threads: int, repeats: int, prompts: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    batch, use_cache, precision = CASES[case]
    model = build_model(precision)
    rss_model = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    text = torch.randn(max(batch, prompts), model.config.clip_dim, generator=torch.Generator().manual_seed(1))[:batch if use_cache else None]
    model.generate(text[:1], seed=0, max_tokens=2)  # warm-up

    def run_once() -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        if use_cache:
            out = model.generate(text, seed=0, min_tokens=TOKENS, max_tokens=TOKENS)
        else:  # the original: one prompt at a time, no cache
            out = [model.generate(text[i:i + 1], seed=i, min_tokens=TOKENS, max_tokens=TOKENS, use_cache=False)[0]
                   for i in range(prompts)]
        assert all(len(o) == TOKENS for o in out)
        return time.perf_counter() - t0, time.process_time() - c0

    runs = [run_once() for _ in range(repeats)]
    times = [wall for wall, _ in runs]
    motions = batch if use_cache else prompts
    best = min(times)
    return {
        "case": case, "batch": batch, "cache": use_cache, "precision": precision, "threads": threads,
        "motions": motions, "seconds_best": best, "seconds_median": statistics.median(times),
        "cpu_s_per_motion": min(cpu for _, cpu in runs) / motions,
        "s_per_motion": best / motions, "tokens_per_s": motions * TOKENS / best,
        "rss_model_mb": rss_model, "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_now_mb": current_rss_mb(),
    }


def quality(threads: int) -> dict:
    """How far bf16 / int8 move the fp32 output (teacher-forced logits and greedy decodes)."""
    import torch

    torch.set_num_threads(threads)
    ref = build_model("fp32")
    g = torch.Generator().manual_seed(2)
    text = torch.randn(8, ref.config.clip_dim, generator=g)
    codes = torch.randint(0, ref.config.num_vq, (8, TOKENS), generator=g)
    with torch.no_grad():
        ref_logits = ref(codes, text)
    ref_greedy = ref.generate(text, greedy=True, min_tokens=TOKENS, max_tokens=TOKENS)
    result = {"logit_std": ref_logits.std().item()}
    for precision in ("bf16", "int8"):
        model = convert(build_model("fp32"), precision)
        with torch.no_grad():
            logits = model(codes, text).float()
        greedy = model.generate(text, greedy=True, min_tokens=TOKENS, max_tokens=TOKENS)
        prefix = [int((a != b).nonzero()[0]) if (a != b).any() else TOKENS for a, b in zip(ref_greedy, greedy)]
        result[precision] = {
            "logits_max_abs_diff": (logits - ref_logits).abs().max().item(),
            "logits_mean_abs_diff": (logits - ref_logits).abs().mean().item(),
            "argmax_agreement": (logits.argmax(-1) == ref_logits.argmax(-1)).float().mean().item(),
            "greedy_identical": sum(p == TOKENS for p in prefix),
            "greedy_mean_common_prefix": sum(prefix) / len(prefix),
        }
    return result


def run_sub(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def markdown(results: dict[str, dict], q: dict | None, args) -> str:
    base = results.get("recompute-b1")
    lines = [
        "# GPT decoding benchmark",
        "",
        f"`benchmarks/bench_gpt.py`: released transformer size (9 + 9 blocks, width 1024, 16 heads, "
        f"~228M parameters) with random weights, {TOKENS} codes per motion (10 s of motion), CPU "
        f"`{platform.processor() or platform.machine()}`, {args.threads} torch threads, torch "
        f"{__import__('torch').__version__}, best of {args.repeats} runs.",
        "",
        "**Caveat:** measured on a 2-core machine shared with other jobs; timings are noisy "
        "(thread hand-offs suffer most when the cores are busy). Ratios measured in the same "
        "session are more reliable than absolute numbers.",
        "",
        "`s / motion` is wall time; `CPU s / motion` is the process's CPU time (all threads), a "
        "rough estimate of the single-thread latency on an otherwise idle core.",
        "",
        "| case | batch | KV cache | precision | s / motion | CPU s / motion | tokens / s | speed-up vs original | peak RSS (MB) | RSS after (MB) |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        speed = f"{r['tokens_per_s'] / base['tokens_per_s']:.1f}x" if base else "-"
        label = "original way (one prompt at a time, prefix recomputed)" if name == "recompute-b1" else name
        lines.append(f"| {label} | {r['batch']} | {'yes' if r['cache'] else 'no'} | {r['precision']} | "
                     f"{r['s_per_motion']:.3f} | {r['cpu_s_per_motion']:.3f} | {r['tokens_per_s']:.1f} | {speed} | "
                     f"{r['rss_peak_mb']:.0f} | {r['rss_now_mb']:.0f} |")
    if base:
        lines += ["", f"The original-way row was measured on {base['motions']} prompts (its time per motion "
                      f"does not depend on how many are queued). Its no-cache path runs {TOKENS} forward "
                      f"passes per motion; the original code runs {TOKENS + 1} (the last result is "
                      f"discarded), so the baseline is slightly flattering to it."]
    if q:
        lines += ["", "## Effect of reduced precision on the output", "",
                  f"Teacher-forced logits of 8 prompts x {TOKENS} random codes versus fp32 (fp32 logit std "
                  f"{q['logit_std']:.2f}), and greedy decodes of the same 8 prompts.", "",
                  "| precision | logits max abs diff | mean abs diff | argmax agreement | identical greedy sequences | mean common greedy prefix |",
                  "|---|---:|---:|---:|---:|---:|"]
        for p in ("bf16", "int8"):
            d = q[p]
            lines.append(f"| {p} | {d['logits_max_abs_diff']:.3f} | {d['logits_mean_abs_diff']:.4f} | "
                         f"{100 * d['argmax_agreement']:.1f}% | {d['greedy_identical']}/8 | "
                         f"{d['greedy_mean_common_prefix']:.1f} / {TOKENS} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--baseline-prompts", type=int, default=4,
                   help="prompts decoded the original way (time per motion is what is reported)")
    p.add_argument("--cases", nargs="*", choices=list(CASES),
                   default=[c for c in CASES if c != "cached-b32-bf16"],  # bf16 is slow without AVX512-BF16/AMX
                   help="default: all but cached-b32-bf16")
    p.add_argument("--no-quality", action="store_true", help="skip the bf16/int8 output comparison")
    p.add_argument("--out", help="write the markdown table here (e.g. docs/benchmarks.md)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.worker == "quality":
        print(json.dumps(quality(args.threads)))
        return 0
    if args.worker:
        print(json.dumps(worker(args.worker, args.threads, args.repeats, args.baseline_prompts)))
        return 0

    results = {}
    for case in args.cases:
        results[case] = r = run_sub(["--worker", case, "--threads", str(args.threads), "--repeats",
                                     str(args.repeats), "--baseline-prompts", str(args.baseline_prompts)])
        print(f"{case:18s} {r['s_per_motion']:8.3f} s/motion {r['tokens_per_s']:8.1f} tok/s "
              f"(median run {r['seconds_median']:.2f} s) peak RSS {r['rss_peak_mb']:.0f} MB", flush=True)
    q = None if args.no_quality else run_sub(["--worker", "quality", "--threads", str(args.threads)])
    if q:
        print(json.dumps(q, indent=1))
    text = markdown(results, q, args)
    if args.out:
        from t2mgpt.utils.io import atomic_path

        with atomic_path(args.out) as tmp:
            tmp.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
