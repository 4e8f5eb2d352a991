"""Foot skating, floor penetration, rigidity and cleanup displacement of generated and real motion.

    python benchmarks/foot_skate.py [--model t2mgpt-cmu-demo] [--samples 4] [--real 150]

Generated: every prompt below x `--samples` motions of the model (4, 6 or 8 s, fixed seeds),
measured on the network's joints (`raw_joints`), the rigid fit alone and the rigid fit with the
foot cleanup (what t2mgpt writes). Real: clips of the CMU test split after `t2mgpt prepare`
(`features_to_joints` of their features), before and after the same post-processing.

Foot-skating ratio: GMD's (Karunratanakul et al. 2023; also OmniControl): the share of frame
pairs in which a toe joint is under 5 cm in both frames and slides faster than 0.5 m/s on the
floor plane (2.5 cm per frame at 20 fps), in that frame and on average over 5 frames. Also
shown: the share of foot-contact frames (a toe under 5 cm) in which a toe slides more than
2.5 cm (no averaging). Penetration: depth of the lowest foot joint below the floor (y = 0).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from t2mgpt.motion import HUMANML3D, features_to_joints
from t2mgpt.motion.footskate import floor_penetration, skating_ratio
from t2mgpt.motion.postprocess import postprocess
from t2mgpt.motion.rigid import reference_lengths

PROMPTS = [
    "a person walks forward", "a person walks forward and then turns around", "a person jumps",
    "a person runs", "a person waves", "a person sits down", "a person turns in place", "a person boxes",
    "a person hops on one leg", "a person walks in a circle", "a person kicks", "a person dances",
    "a person walks backwards", "a person climbs stairs", "a person stretches", "a person throws a ball",
    "a person walks slowly", "a person jogs", "a person squats", "a person walks to the left",
    "a person picks something up", "a person walks sideways", "a person balances", "a person bows",
    "a person marches",
]


def contact_slide_share(joints: np.ndarray) -> float:
    """Share of frame pairs with a toe under 5 cm in which a toe in contact slides > 2.5 cm."""
    toes = joints[:, [HUMANML3D.foot_left[1], HUMANML3D.foot_right[1]]]
    low = (toes[:-1, :, 1] < 0.05) & (toes[1:, :, 1] < 0.05)
    slide = np.linalg.norm(np.diff(toes[..., [0, 2]], axis=0), axis=-1) > 0.025
    return float((low & slide).any(-1).sum() / max(low.any(-1).sum(), 1))


def bone_spread(joints: np.ndarray) -> float:
    """Largest within-motion change of a bone's length (m)."""
    parents = np.array(HUMANML3D.parents)
    lengths = np.linalg.norm(joints[:, 1:] - joints[:, parents[1:]], axis=-1)
    return float(np.ptp(lengths, axis=0).max())


def measure(motions: dict[str, list[np.ndarray]]) -> list[str]:
    rows = []
    for name, joints in motions.items():
        pen = [floor_penetration(j) for j in joints]
        rows.append(f"| {name} | {np.mean([skating_ratio(j) for j in joints]):.3f} | "
                    f"{np.mean([contact_slide_share(j) for j in joints]):.3f} | "
                    f"{100 * np.mean([p['mean'] for p in pen]):.2f} / {100 * max(p['max'] for p in pen):.1f} | "
                    f"{np.mean([p['frames'] for p in pen]):.3f} | {100 * max(bone_spread(j) for j in joints):.3g} |")
    return rows


def displacement(before: list[np.ndarray], after: list[np.ndarray]) -> str:
    d = np.concatenate([np.linalg.norm(a - b, axis=-1).ravel() for a, b in zip(after, before)])
    return f"mean {100 * d.mean():.2f} cm, 95th percentile {100 * np.percentile(d, 95):.2f} cm, max {100 * d.max():.1f} cm"


def generated(model: str, samples: int) -> dict:
    from t2mgpt import T2MGPT

    pipe = T2MGPT.from_pretrained(model, device="cpu")
    raw, rigid, clean = [], [], []
    for i, prompt in enumerate(PROMPTS):
        for m in pipe([prompt], num_samples=samples, seconds=4 + 2 * (i % 3), seed=1000 + 10 * i)[0]:
            raw.append(m.raw_joints)
            rigid.append(postprocess(m.raw_joints, "humanml3d", m.fps, cleanup=False,
                                     lengths=reference_lengths(HUMANML3D)).joints)
            clean.append(m.joints.astype(np.float64))
    return {"raw": raw, "rigid": rigid, "clean": clean}


def real(clips: int) -> dict:
    from t2mgpt.prepare.cmu import CMUSource
    from t2mgpt.prepare.pipeline import PrepareConfig, process_trial

    source = CMUSource("../shared/data/cmu_ml")
    raw, rigid, clean = [], [], []
    for tid in [i for i in source.ids() if source.records[i]["split"] == "test"]:
        for clip in process_trial(source.load(tid), source.joint_map, PrepareConfig(mirror=False))[0]:
            joints = features_to_joints(clip.features, "humanml3d")
            raw.append(joints)
            rigid.append(postprocess(joints, "humanml3d", cleanup=False, lengths=reference_lengths(HUMANML3D)).joints)
            clean.append(postprocess(joints, "humanml3d", channels=clip.features[:, -4:],
                                     lengths=reference_lengths(HUMANML3D)).joints)
        if len(raw) >= clips:
            break
    return {"raw": raw, "rigid": rigid, "clean": clean}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="t2mgpt-cmu-demo")
    ap.add_argument("--samples", type=int, default=4, help="motions per prompt (25 prompts)")
    ap.add_argument("--real", type=int, default=150, help="real CMU test clips")
    args = ap.parse_args()
    head = ["| motion | skating ratio (GMD) | sliding share of contact frames | penetration mean / max (cm) |"
            " frames > 1 cm below | bone-length change (cm) |", "|---|---|---|---|---|---|"]
    for title, load in ((f"Generated ({args.model})", lambda: generated(args.model, args.samples)),
                        ("Real CMU test clips after prepare", lambda: real(args.real))):
        start = time.perf_counter()
        sets = load()
        print(f"\n{title}: {len(sets['raw'])} motions ({time.perf_counter() - start:.0f} s)\n")
        names = {"raw": "network joints" if "Generated" in title else "prepared joints",
                 "rigid": "rigid fit", "clean": "rigid fit + foot cleanup (written)"}
        print("\n".join(head + measure({names[k]: v for k, v in sets.items()})))
        print(f"\nCleanup displacement (rigid fit -> cleaned, all joints and frames): "
              f"{displacement(sets['rigid'], sets['clean'])}")


if __name__ == "__main__":
    main()
