"""Authoring measurements (issue 15) with the bundled model: boundary smoothness of timelines,
continuations and in-betweens (against real CMU mocap cut at arbitrary points and naive
concatenation), per-segment text adherence against the same prompts alone, in-betweening
end-pose and position error, path waypoint error, and the time of each operation.

    python benchmarks/authoring.py [--seeds 8] [--model t2mgpt-cmu-demo] [--json out.json]

Smoothness is `t2mgpt.authoring.smoothness.boundary_smoothness` (largest per-frame joint step
within 2 frames of a boundary / 99th percentile of the steps away from boundaries; target
<= 1.75). Adherence uses small kinematic checks on each segment's frames (below).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from t2mgpt import T2MGPT
from t2mgpt.authoring.path import waypoint_errors
from t2mgpt.authoring.smoothness import boundary_smoothness
from t2mgpt.authoring.splice import pelvis_relative_error

SEG = 4.0  # seconds per segment


# ------------------------------------------------------------------ kinematic checks (one segment)

def travel(j):  # horizontal distance covered by the root (m)
    return float(np.linalg.norm(np.diff(j[:, 0, [0, 2]], axis=0), axis=1).sum())


def lift(j):  # highest rise of the lower foot above its height at the segment start (m)
    feet = j[:, [10, 11], 1].min(axis=1)
    return float(feet.max() - np.median(feet[:5]))


def heading_range(j):  # how far the hips' facing turns (degrees)
    across = j[:, 2] - j[:, 1]
    angle = np.unwrap(np.arctan2(across[:, 2], across[:, 0]))
    return float(np.degrees(angle.max() - angle.min()))


def drop(j):  # how far the pelvis goes below its height at the segment start (m)
    return float(j[:5, 0, 1].mean() - j[:, 0, 1].min())


CHECKS = {
    "a person walks forward": ("travels >= 1.5 m", lambda j: travel(j) >= 1.5),
    "a person sits down": ("pelvis drops >= 0.15 m", lambda j: drop(j) >= 0.15),
    "a person jumps up and down": ("a foot rises >= 0.1 m", lambda j: lift(j) >= 0.1),
    "a person turns around": ("hips turn >= 60 deg", lambda j: heading_range(j) >= 60),
    "a person is boxing": ("travels < 1 m", lambda j: travel(j) < 1.0),
}
TIMELINES = [
    ["a person walks forward", "a person sits down"],
    ["a person turns around", "a person walks forward"],
    ["a person walks forward", "a person jumps up and down"],
    ["a person is boxing", "a person walks forward", "a person turns around"],
    ["a person sits down", "a person walks forward"],
    ["a person jumps up and down", "a person is boxing"],
]


def timed(fn, *a, **k):
    t = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t


def naive(a, b):
    """b put after a with its root moved to a's last root position (no blending, no turning)."""
    shift = a[-1, 0] - b[0, 0]
    shift[1] = 0.0
    return np.concatenate([a, b + shift])


def real_mocap_ratios(n_cuts: int, seed: int) -> tuple[list[float], list[float]]:
    """(ratios at arbitrary points of real CMU motion, ratios of two real clips put end to end)."""
    from pathlib import Path

    from t2mgpt.prepare.resample import resample
    from t2mgpt.prepare.retarget import cmu_joint_map

    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cmu_ml" / "joints20.npz"
    data = np.load(path)
    rng = np.random.default_rng(seed)
    keys = sorted(data.files)
    jm = cmu_joint_map()
    cuts, concat = [], []
    while len(cuts) < n_cuts:
        clip = resample(jm.apply(data[keys[rng.integers(len(keys))]]), 12.0, 20.0)
        other = resample(jm.apply(data[keys[rng.integers(len(keys))]]), 12.0, 20.0)
        if len(clip) < 200 or len(other) < 100 or not (np.isfinite(clip).all() and np.isfinite(other).all()):
            continue
        start = rng.integers(0, len(clip) - 200)
        piece = clip[start:start + 200]
        if np.percentile(np.linalg.norm(np.diff(piece, axis=0), axis=-1).max(-1), 99) < 0.01:
            continue  # standing still: no reference motion to compare with
        cuts.append(boundary_smoothness(piece, [int(rng.integers(60, 140))])[0])
        concat.append(boundary_smoothness(naive(piece[:100], other[:100]), [100])[0])
    return cuts, concat


def summary(xs) -> str:
    xs = np.asarray(xs, dtype=float)
    return (f"median {np.median(xs):.2f}, max {xs.max():.2f}, <= 1.75: {np.mean(xs <= 1.75) * 100:.0f}% "
            f"(n={len(xs)})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--model", default="t2mgpt-cmu-demo")
    ap.add_argument("--json")
    args = ap.parse_args()
    pipe = T2MGPT.from_pretrained(args.model, device="cpu")
    pipe("a person walks", seconds=1, seed=0)  # warm up
    res: dict = {"model": pipe.name, "seeds": args.seeds}
    times: dict[str, list[float]] = {}

    def tick(name, dt):
        times.setdefault(name, []).append(dt)

    # --- timelines: smoothness and per-segment adherence vs alone
    compose_ratios, naive_ratios = [], []
    hits = {t: [0, 0] for t in CHECKS}  # text -> [in timeline, alone]
    counts = {t: 0 for t in CHECKS}
    for s in range(args.seeds):
        for tl in TIMELINES:
            m, dt = timed(pipe.compose, [(t, SEG) for t in tl], seed=s)
            tick(f"compose {len(tl)} x {SEG:g} s", dt)
            compose_ratios += boundary_smoothness(m.joints, [g.start for g in m.segments[1:]])
            alone = [pipe(t, seconds=SEG, seed=1000 * s + k)[0][0] for k, t in enumerate(tl)]
            joined = alone[0].joints
            for a in alone[1:]:
                joined = naive(joined, a.joints)
            naive_ratios += boundary_smoothness(joined, [int(SEG * 20) * (k + 1) for k in range(len(tl) - 1)])
            for g, a in zip(m.segments, alone):
                ok = CHECKS[g.text][1]
                hits[g.text][0] += ok(m.joints[g.start:g.end])
                hits[g.text][1] += ok(a.joints)
                counts[g.text] += 1
    res["compose_smoothness"] = summary(compose_ratios)
    res["naive_concat_smoothness"] = summary(naive_ratios)
    res["adherence"] = {t: {"check": CHECKS[t][0], "in_timeline": hits[t][0] / counts[t],
                            "alone": hits[t][1] / counts[t], "n": counts[t]} for t in CHECKS}
    cuts, concat = real_mocap_ratios(50, 0)
    res["real_mocap_cut_smoothness"] = summary(cuts)
    res["real_mocap_naive_concat_smoothness"] = summary(concat)

    # --- long motion, continuation, in-betweening
    long_ratios, cont_ratios, ib_ratios, ib_pose, ib_pos, reach = [], [], [], [], [], {1: [], 8: []}
    for s in range(args.seeds):
        m, dt = timed(pipe.compose, [("a person walks forward", 10), ("a person turns around", 10),
                                     ("a person walks forward", 10)], seed=s)
        tick("compose 3 x 10 s (30 s)", dt)
        long_ratios += boundary_smoothness(m.joints, [g.start for g in m.segments[1:]])
        first = pipe("a person walks forward", seconds=SEG, seed=s)[0][0]
        c, dt = timed(pipe.continue_motion, first, "a person sits down", seconds=SEG, seed=s)
        tick(f"continue_motion {SEG:g} s", dt)
        assert np.array_equal(c.joints[:first.num_frames], first.joints)
        cont_ratios += boundary_smoothness(c.joints, [first.num_frames])
        end = pipe("a person sits down", seconds=3, seed=s + 100)[0][0]
        for k in (1, 8):
            ib, dt = timed(pipe.inbetween, first, end, "a person turns around", seconds=2, seed=s, candidates=k)
            tick(f"inbetween 2 s, {k} candidate(s)", dt)
            e0 = ib.segments[-1].start
            reach[k].append(pelvis_relative_error(ib.raw_joints[e0 - 1:e0], end.raw_joints[:1]))
            if k == 8:
                ib_ratios += boundary_smoothness(ib.joints, [g.start for g in ib.segments[1:]])
                ib_pose.append(pelvis_relative_error(ib.joints[e0:], end.joints))
        there, dt = timed(pipe.inbetween, first, end, "a person walks forward", seconds=3, seed=s,
                          end_position=(1.0, 6.0))
        tick("inbetween 3 s with end_position", dt)
        ib_pos.append(float(np.linalg.norm(there.joints[there.segments[-1].start, 0, [0, 2]] - (1.0, 6.0))))
    res["compose_30s_smoothness"] = summary(long_ratios)
    res["continuation_smoothness"] = summary(cont_ratios)
    res["inbetween_smoothness"] = summary(ib_ratios)
    res["inbetween_end_pose_error_cm"] = round(100 * float(np.mean(ib_pose)), 2)
    res["inbetween_junction_pose_gap_cm"] = {k: round(100 * float(np.mean(v)), 2) for k, v in reach.items()}
    res["inbetween_end_position_error_cm"] = round(100 * float(np.mean(ib_pos)), 2)

    # --- path following
    paths = {"curve": [(2.0, 0.5, 2.0), (4.0, 1.8, 3.2), (6.0, 3.0, 3.5)],
             "straight": [(2.0, 0.0, 2.5), (4.0, 0.0, 5.0), (6.0, 0.0, 7.5)]}
    res["path"] = {}
    for name, path in paths.items():
        g, f = [], []
        for s in range(args.seeds):
            m, dt = timed(pipe, "a person walks", seconds=6, seed=s, path=path)
            tick("path 6 s", dt)
            g.append(waypoint_errors(m[0][0].joints, path, pipe.fps).mean())
            m, dt = timed(pipe, "a person walks", seconds=6, seed=s)
            tick("generate 6 s (no path)", dt)
            f.append(waypoint_errors(m[0][0].joints, path, pipe.fps).mean())
        res["path"][name] = {"guided_m": round(float(np.mean(g)), 3), "unguided_m": round(float(np.mean(f)), 3)}
    res["seconds"] = {k: round(float(np.median(v)), 2) for k, v in times.items()}
    print(json.dumps(res, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
