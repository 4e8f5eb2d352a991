"""Benchmark the start-up of `t2mgpt generate` against `python -c "import torch"`.

Times, in fresh processes and interleaved round by round (so that every case sees the same
machine load), the wall and CPU seconds of
  - `python -c "import torch"` (the unit: no torch program starts faster);
  - `t2mgpt generate "a person walks forward" --format npy` with the bundled model, one prompt;
  - the same with a bad `--seconds` (how fast an argument error is reported);
and prints medians, each case's ratio to the torch import, and a markdown table. With
`--compare REF` the same cases also run on the code of git revision REF (extracted with
`git archive` into a temporary folder), e.g. the commit before the fast-start work:

    python benchmarks/bench_cli_start.py --rounds 7 --compare 642588a
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROMPT = "a person walks forward"


def timed(cmd: list[str], env: dict, expect: tuple[int, str]) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one run of `cmd`, which must exit with `expect[0]` and
    print `expect[1]` on stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != expect[0] or expect[1] not in proc.stderr:
        raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}, expected {expect}:\n{proc.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cases(src: Path, out: Path) -> dict[str, tuple[list[str], dict, tuple[int, str]]]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    gen = [sys.executable, "-m", "t2mgpt", "generate", PROMPT, "--seed", "0", "--format", "npy"]
    return {
        "generate --format npy": (gen + ["--out-dir", str(out), "--overwrite"], env, (0, "")),
        "generate, OMP_NUM_THREADS=1": (gen + ["--out-dir", str(out), "--overwrite"],
                                        {**env, "OMP_NUM_THREADS": "1"}, (0, "")),
        "bad --seconds (error)": (gen + ["--out-dir", str(out / "never"), "--seconds", "999"], env,
                                  (2, "over the limit of 300 s")),
    }


def extract(ref: str, into: Path) -> Path:
    """The src/ folder of git revision `ref`, written under `into`."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=7, help="runs of every case (medians are reported)")
    p.add_argument("--compare", metavar="REF", help="also time the code of this git revision")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        versions = {"this tree": REPO / "src"}
        if args.compare:
            (tmp / "ref").mkdir()
            versions[args.compare] = extract(args.compare, tmp / "ref")
        table = {("-", "import torch"): ([sys.executable, "-c", "import torch"], dict(os.environ), (0, ""))}
        for label, src in versions.items():
            for name, case in cases(src, tmp / f"out-{len(table)}").items():
                table[(label, name)] = case
        times: dict[tuple[str, str], list[tuple[float, float]]] = {k: [] for k in table}
        loads = []
        for r in range(args.rounds):
            for key, (cmd, env, expect) in table.items():
                times[key].append(timed(cmd, env, expect))
            loads.append(os.getloadavg()[0])
            print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                f"{k[1]} ({k[0]}) {times[k][-1][0]:.2f}s" for k in table), file=sys.stderr, flush=True)

    unit_wall = statistics.median(w for w, _ in times[("-", "import torch")])
    unit_cpu = statistics.median(c for _, c in times[("-", "import torch")])
    print(f"\n{args.rounds} rounds, load average {min(loads):.1f}-{max(loads):.1f} "
          f"(median {statistics.median(loads):.1f}), {os.cpu_count()} CPUs\n")
    print("| code | command | median wall s | x import torch | median CPU s | x import torch (CPU) |")
    print("|---|---|---:|---:|---:|---:|")
    for (label, name), runs in times.items():
        wall, cpu = statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)
        print(f"| {label} | {name} | {wall:.2f} | {wall / unit_wall:.2f} | {cpu:.2f} | {cpu / unit_cpu:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
