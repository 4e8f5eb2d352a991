"""Benchmark `t2mgpt.render`: a 196-frame motion (the bundled sample clip, looped and
cropped) rendered to MP4 and GIF. Prints frames per second and total seconds.

    python benchmarks/bench_render.py [--size 480] [--camera auto|fixed|follow] [--repeat 2]
"""
from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from t2mgpt.render import render_frames, render_motion

SAMPLE = Path(__file__).resolve().parents[1] / "src/t2mgpt/assets/sample_motion.npy"
FRAMES = 196


def sample_motion(frames: int = FRAMES) -> np.ndarray:
    joints = np.load(SAMPLE)
    reps = -(-frames // len(joints))
    # Loop the clip, shifting each repetition so the root path stays continuous.
    parts, offset = [], np.zeros(3, dtype=joints.dtype)
    for _ in range(reps):
        parts.append(joints + offset)
        offset = offset + (joints[-1, 0] - joints[0, 0]) * np.array([1, 0, 1], dtype=joints.dtype)
    return np.concatenate(parts)[:frames]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=480)
    ap.add_argument("--camera", default="auto")
    ap.add_argument("--repeat", type=int, default=2, help="best of N runs")
    args = ap.parse_args()

    joints = sample_motion()
    title = "a person walks forward, turns around and walks back (benchmark)"
    opts = dict(width=args.size, height=args.size, camera=args.camera)
    print(f"motion: {joints.shape[0]} frames, {joints.shape[1]} joints; frames {args.size}x{args.size}, "
          f"camera={args.camera}")
    with tempfile.TemporaryDirectory() as tmp:
        jobs = {
            "frames (uint8 arrays)": lambda: render_frames(joints, title, **opts),
            "mp4 (H.264)": lambda: render_motion(joints, Path(tmp) / "b.mp4", title, **opts),
            "gif": lambda: render_motion(joints, Path(tmp) / "b.gif", title, **opts),
        }
        for name, job in jobs.items():
            best, cpu = min(_timed(job) for _ in range(args.repeat))
            size = ""
            for suffix in ("mp4", "gif"):
                if suffix in name:
                    size = f", {(Path(tmp) / f'b.{suffix}').stat().st_size / 1e6:.2f} MB"
            print(f"{name:22s} {best:6.2f} s total, {len(joints) / best:6.1f} frames/s "
                  f"(CPU {cpu:5.2f} s incl. ffmpeg){size}")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times grow with load)")


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(job) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its children)."""
    t0, c0 = time.perf_counter(), _cpu()
    job()
    return time.perf_counter() - t0, _cpu() - c0


if __name__ == "__main__":
    main()
