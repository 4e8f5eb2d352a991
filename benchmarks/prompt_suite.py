"""Prompt suite: does the model do what everyday prompts ask? One kinematic check per prompt.

Each prompt has a check on the generated joints (`t2mgpt.eval.kinematic_checks`) that a person
would agree with ("runs": fast and airborne at times; "waves with the right hand": the right
wrist above the shoulder swinging back and forth, more than the left). The checks are
validated on real CMU clips whose captions say the same thing (`--real DATA`: the checks'
pass rate on real motion), then run on a model over several seeds:

    python benchmarks/prompt_suite.py --model t2mgpt-cmu-demo --samples 5 --json-out r.json
    python benchmarks/prompt_suite.py --real ../shared/data/cmu_ml --json-out real.json
    python benchmarks/prompt_suite.py --model A --model B --samples 5 --markdown docs/prompt_suite.md

Generation uses the model's own ending (no fixed length) and its own sampling defaults (temperature
1, its guidance scale, its best-of-k; `--temperature/--top-k/--top-p/--guidance-scale/--candidates`
change them), seeds
SEED..SEED+S-1 (`--seed`, default 0).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from t2mgpt.eval import kinematic_checks as kc


@dataclass(frozen=True)
class Prompt:
    text: str
    check: Callable[[kc.Kinematics], bool]
    what: str  # the check in words
    real: str | None = None  # regex on real captions that ask for the same thing
    real_check: Callable[[kc.Kinematics], bool] | None = None  # check for those clips, if not `check`


def _side(fn, side):
    return lambda k: fn(k, side)


def _either(fn):  # CMU captions never name the side of a kick or punch
    return lambda k: fn(k, "left") or fn(k, "right")


_TURN_L, _TURN_R = r"\bturns? (to the )?left\b", r"\bturns? (to the )?right\b"
SUITE: list[Prompt] = [
    Prompt("a person walks forward", kc.walks, "travels >= 1 m forward at <= 2.2 m/s",
           r"^a (person|human) walks( forward| straight)?\.?$"),
    Prompt("a person walks slowly", lambda k: kc.walks(k, min_dist=0.5) and k.mean_speed() < 1.0,
           "travels forward >= 0.5 m at < 1 m/s", r"walks slowly|slow walk"),
    Prompt("a person runs forward", kc.runs, "75th-percentile speed >= 1.4 m/s, both feet off the ground in >= 8% of moving frames",
           r"^(a (person|human) )?(is )?(runs?|running|jogs?|jogging)( forward| straight| slowly)?\.?$"),
    Prompt("a person walks backwards", lambda k: kc.walks(k, "backward"), "travels >= 1 m backward",
           r"walks? backwards?(?!.*\b(turn|forward))"),
    Prompt("a person sidesteps to the left", lambda k: kc.walks(k, "left", 0.5), "travels >= 0.5 m to its left",
           r"(side ?steps?|sideways).*\bleft\b"),
    Prompt("a person turns left", _side(kc.turns, "left"), "heading turns >= 60 deg to the left (counterclockwise)",
           _TURN_L + r"(?!.*right)"),
    Prompt("a person turns right", _side(kc.turns, "right"), "heading turns >= 60 deg to the right (clockwise)",
           _TURN_R + r"(?!.*left)"),
    Prompt("a person turns around", lambda k: kc.turns(k, "any", 120), "heading turns >= 120 deg",
           r"^a (person|human) turns around\.?$|turn(s|ing)? 180"),
    Prompt("a person walks in a circle", kc.circles, "heading turns >= 270 deg along >= 2 m of path",
           r"walk(s|ing)? in a circle"),
    Prompt("a person jumps", kc.jumps, ">= 1 jump (both feet off the ground, pelvis rises >= 8 cm)",
           r"\bjumps?\b"),
    Prompt("a person jumps forward", kc.jumps_forward, ">= 1 jump and >= 0.3 m forward",
           r"jumps? forward|forward jump"),
    Prompt("a person jumps twice", lambda k: kc.jumps(k, min_count=2), ">= 2 jumps",
           r"jumps? (twice|two times|\d+ times)|(two|2) jumps"),
    Prompt("a person hops on the left foot", _side(kc.hops, "left"),
           ">= 2 hops on the left foot with the right foot off the ground >= 75% of the time",
           r"hop(s|ping)? on (the |his |her )?left (foot|leg)"),
    Prompt("a person hops on the right foot", _side(kc.hops, "right"),
           ">= 2 hops on the right foot with the left foot off the ground >= 75% of the time",
           r"hop(s|ping)? on (the |his |her )?right (foot|leg)"),
    Prompt("a person kicks with the right leg", _side(kc.kicks, "right"),
           "right foot >= 35 cm up in front while the left stands, higher than any left kick",
           r"\bkick", _either(kc.kicks)),
    Prompt("a person kicks with the left leg", _side(kc.kicks, "left"),
           "left foot >= 35 cm up in front while the right stands, higher than any right kick",
           r"\bkick", _either(kc.kicks)),
    Prompt("a person punches with the right hand", _side(kc.punches, "right"),
           "right wrist >= 45 cm in front of its shoulder at shoulder height", r"\bpunch", _either(kc.punches)),
    Prompt("a person punches with the left hand", _side(kc.punches, "left"),
           "left wrist >= 45 cm in front of its shoulder at shoulder height", r"\bpunch", _either(kc.punches)),
    Prompt("a person waves with the right hand", _side(kc.waves, "right"),
           "right wrist above the shoulder >= 0.6 s, >= 2 back-and-forth swings, not both hands up",
           r"wav(es|ing) (with )?(the |his |her )?right"),
    Prompt("a person waves with the left hand", _side(kc.waves, "left"),
           "left wrist above the shoulder >= 0.6 s, >= 2 back-and-forth swings, not both hands up",
           r"wav(es|ing) (with )?(the |his |her )?left"),
    Prompt("a person raises both arms", kc.raises_arms, "both wrists above the head >= 0.5 s",
           r"raises? (both|his|her) (arms|hands)|arms up|hands up|stretch"),
    Prompt("a person sits down", kc.sits, "pelvis >= 25 cm lower over the feet than upright, for >= 1 s",
           r"\bsits?( down)?\b(?!.*\b(stand|get|gets) up)"),
    Prompt("a person squats", kc.squats, "pelvis >= 25 cm lower over the feet than upright, for >= 0.3 s", r"squat"),
    Prompt("a person picks something up from the ground", kc.picks_up, "a wrist comes within 50 cm of the ground",
           r"picks? (something |an object |it )?up|pick up"),
    Prompt("a person steps over an obstacle", kc.steps_over, "a foot lifted >= 25 cm (other foot standing), >= 0.2 m forward",
           r"steps? over"),
    Prompt("a person dances", kc.dances, "wrists/ankles move >= 0.45 m/s relative to the pelvis, path speed <= 0.8 m/s",
           r"\bdanc"),
    Prompt("a person walks forward and then sits down", kc.then(kc.walks, kc.sits),
           "first part: walks >= 1 m forward; second part: sits", r"walks?.*(then|and) sits"),
    Prompt("a person walks forward and then turns around", kc.then(kc.walks, lambda k: kc.turns(k, "any", 120)),
           "first part: walks >= 1 m forward; second part: turns >= 120 deg", r"walks?.*(then|and) turns? around"),
    Prompt("a person walks forward and then jumps", kc.then(kc.walks, kc.jumps),
           "first part: walks >= 1 m forward; second part: >= 1 jump", r"walks?.*(then|and) jumps"),
    Prompt("a person jumps and then walks forward", kc.then(kc.jumps, kc.walks),
           "first part: >= 1 jump; second part: walks >= 1 m forward", r"jumps?.*(then|and) walks"),
]


def run_checks(joints: list[np.ndarray], prompt: Prompt, fps: float = kc.FPS) -> list[bool]:
    return [bool(prompt.check(kc.Kinematics(j, fps))) for j in joints]


def windows(joints: np.ndarray, frames: int = 200, hop: int = 40) -> list[np.ndarray]:
    """A trial of up to 10 s whole; a longer one as 10 s windows every 2 s (its caption names
    an action somewhere in it; a generated motion is at most 10 s)."""
    if len(joints) <= frames:
        return [joints]
    return [joints[a:a + frames] for a in range(0, len(joints) - frames + 1, hop)]


def validate_on_real(src: Path, max_trials: int = 60) -> dict:
    """Each check's pass rate on whole real CMU trials whose captions (KIT-ML sentences or CMU
    descriptions, lower-cased) ask for the same thing, and on their mirrored copies with the
    sides swapped: a 'kicks with the left leg' trial mirrored is a right kick."""
    from t2mgpt.motion import mirror_joints
    from t2mgpt.prepare import CMUSource
    from t2mgpt.prepare.pipeline import trial_joints
    from t2mgpt.prepare.text import swap_left_right

    source = CMUSource(src)
    texts = {tid: [c["text"].lower() for c in rec.get("captions", []) if "subject" not in c["text"]]
             for tid, rec in source.records.items()}  # not two-person scenes ("A sits; B pulls up A")
    cache: dict[str, np.ndarray] = {}
    results = {}
    for p in SUITE:
        if p.real is None:
            continue
        rx = re.compile(p.real)
        passed, failed, n = 0, [], 0
        for mirrored in (False, True):
            ids = [t for t, caps in texts.items()
                   if any(rx.search(swap_left_right(c) if mirrored else c) for c in caps)][:max_trials]
            for tid in ids:
                if tid not in cache:
                    cache[tid] = trial_joints(source, tid)
                j = mirror_joints(cache[tid], "humanml3d") if mirrored else cache[tid]
                ok = any((p.real_check or p.check)(kc.Kinematics(w)) for w in windows(j))
                n, passed = n + 1, passed + ok
                if not ok:
                    failed.append(("M" if mirrored else "") + tid)
        results[p.text] = {"clips": n, "passed": passed, "failed_examples": failed[:6]}
    total = sum(r["clips"] for r in results.values())
    results["_overall"] = {"clips": total, "passed": sum(r["passed"] for r in results.values()),
                           "checks_with_clips": sum(r["clips"] > 0 for r in results.values())}
    # negative control: plain walks (and their mirrors) should fail every check but the walking ones
    walk = re.compile(r"^(a (person|human) )?(walks?|walking)( forward| straight)?\.?$")
    walk_ids = [t for t, caps in texts.items() if any(walk.search(c) for c in caps)][:max_trials]
    for tid in walk_ids:
        if tid not in cache:
            cache[tid] = trial_joints(source, tid)
    walks = [cache[t] for t in walk_ids] + [mirror_joints(cache[t], "humanml3d") for t in walk_ids]
    for p in SUITE:
        if p.text in results:
            results[p.text]["walks_passing"] = sum(bool(p.check(kc.Kinematics(w))) for j in walks for w in windows(j)[:1])
            results[p.text]["walks"] = len(walks)
    return results


def run_model(model: str, samples: int = 5, seed: int = 0, device: str = "cpu",
              guidance_scale: float | None = None, **sampling) -> dict:
    """Generate `samples` motions per prompt (seeds seed..seed+S-1; with best-of-k, sample s draws
    candidate seeds s*k .. s*k + k-1) and check each; guidance_scale
    None: the model's own default (config.json), as users get it. `sampling`: temperature,
    top_k, top_p, candidates as in `T2MGPT.__call__` (default: the model's own)."""
    from t2mgpt import T2MGPT

    pipe = T2MGPT.from_pretrained(model, device=device)
    # with best-of-k each sample draws k seeds: sample s takes s*k .. s*k + k-1, so that runs at
    # --seed 0 and --seed 10 never share a candidate
    k = pipe.candidates_used(sampling.get("candidates"), greedy=bool(sampling.get("greedy")))
    out = {}
    for p in SUITE:
        motions = pipe([p.text], num_samples=samples, seed=seed * k, guidance_scale=guidance_scale,
                       **sampling)[0]
        passed = run_checks([m.joints for m in motions], p, pipe.fps)
        out[p.text] = {"passed": int(sum(passed)), "samples": samples, "per_seed": passed,
                       "seconds": [round(m.duration, 1) for m in motions]}
    n = sum(r["samples"] for r in out.values())
    out["_overall"] = {"pairs": n, "passed": sum(r["passed"] for r in out.values()),
                       "prompts_passing_most": sum(r["passed"] * 2 > r["samples"] for r in out.values())}
    return out


def markdown(models: dict[str, dict], real: dict | None) -> str:
    names = list(models)
    head = "| prompt | check | " + " | ".join(names) + (" | real clips passing |" if real else " |")
    lines = [head, "|" + "---|" * (2 + len(names) + bool(real))]
    for p in SUITE:
        cells = [f"{models[m][p.text]['passed']}/{models[m][p.text]['samples']}" for m in names]
        row = f"| {p.text} | {p.what} | " + " | ".join(cells)
        if real:
            r = real.get(p.text)
            row += " | " + (f"{r['passed']}/{r['clips']}" if r and r["clips"] else "no clips")
        lines.append(row + " |")
    tot = [models[m]["_overall"] for m in names]
    row = "| **all (prompt, seed) pairs** | | " + " | ".join(
        f"**{t['passed']}/{t['pairs']} ({100 * t['passed'] / t['pairs']:.0f}%)**" for t in tot)
    if real:
        o = real["_overall"]
        row += f" | **{o['passed']}/{o['clips']} ({100 * o['passed'] / max(o['clips'], 1):.0f}%)**"
    lines.append(row + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", default=[], help="model name or folder (repeatable)")
    ap.add_argument("--samples", type=int, default=5, help="seeds per prompt (default 5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real", type=Path, help="the cmu_ml folder: validate the checks on its real trials")
    ap.add_argument("--results", type=Path, action="append", default=[], help="earlier --json-out files to include")
    ap.add_argument("--json-out", type=Path)
    ap.add_argument("--markdown", type=Path, help="write the table here")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--guidance-scale", type=float, action="append",
                    help="classifier-free guidance scale(s) to run each model with (repeatable; default: "
                         "each model's own default, as users get it)")
    ap.add_argument("--temperature", type=float, help="sampling temperature (default: the model's)")
    ap.add_argument("--top-k", type=int, help="sample among the k most likely codes (default: the model's)")
    ap.add_argument("--top-p", type=float, help="nucleus sampling mass (default: the model's)")
    ap.add_argument("--candidates", type=int, help="best of K per motion (t2mgpt.rerank; default: the model's)")
    ap.add_argument("--label", action="append", default=[], help="column name for each --model (default: the model)")
    args = ap.parse_args(argv)
    models, real = {}, None
    for f in args.results:
        d = json.loads(f.read_text())
        models.update(d.get("models", {}))
        real = d.get("real") or real
    if args.real:
        real = validate_on_real(args.real)
        o = real["_overall"]
        print(f"checks on real clips: {o['passed']}/{o['clips']} passed", file=sys.stderr)
    labels = args.label + args.model[len(args.label):]
    scales = args.guidance_scale or [None]
    sampling = {k: v for k, v in (("temperature", args.temperature), ("top_k", args.top_k), ("top_p", args.top_p),
                                  ("candidates", args.candidates))
                if v is not None}
    for m, label in zip(args.model, labels):
        for s in scales:
            name = label if s is None else f"{label}, guidance {s:g}"
            models[name] = run_model(m, args.samples, args.seed, args.device, s, **sampling)
            o = models[name]["_overall"]
            print(f"{name}: {o['passed']}/{o['pairs']} (prompt, seed) pairs passed", file=sys.stderr)
    if args.json_out:
        args.json_out.write_text(json.dumps({"models": models, "real": real}, indent=1))
    if models and args.markdown:
        args.markdown.write_text(markdown(models, real))
    if models:
        print(markdown(models, real))
    return 0


if __name__ == "__main__":
    sys.exit(main())
