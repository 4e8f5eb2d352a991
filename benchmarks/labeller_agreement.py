"""Agreement of the kinematic labeller (`t2mgpt.prepare.auto_captions`) with human captions.

For every clip of a split (default: val) that has human captions (KIT-ML sentences, CMU
descriptions) in a prepared dataset made WITHOUT --auto-captions, the labeller describes the
clip's joints; then, per aspect the human names, we ask whether the labeller says the same:

* side: the human says "left" (or "right") about a turn, hop, kick, hand... -> does the labeller
  name that side (and not only the other one)?
* turn: "turns left/right", "clockwise/counterclockwise" -> the labeller's turning direction;
* activity: walk / run / jump / hop / sit / kick / wave / punch / pick up -> the same verb;
* backward: "backward(s)" -> the labeller says backward.

"recall" = the labeller names the aspect at all; "agreement" = among those, it names the
same value. Mirrored clips (M<id>, captions with sides swapped) are included.

    python benchmarks/labeller_agreement.py --data /path/to/prepared_without_auto --split val
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from t2mgpt.prepare.auto_captions import label_clip

ACTIVITIES = {
    "walk": r"\bwalk", "run": r"\b(run|jog)", "jump": r"\bjump", "hop": r"\bhop", "sit": r"\bsit",
    "kick": r"\bkick", "wave": r"\bwav", "punch": r"\bpunch", "pick up": r"\bpick",
}
_SIDE = re.compile(r"\b(left|right)\b")
_TURN = re.compile(r"\b(turn\w*|circle|spin\w*|rotat\w*)\b[^,.;]*?\b(left|right)\b|\b(counterclockwise|anticlockwise|clockwise)\b")


def _turn_side(text: str) -> set[str]:
    out = set()
    for m in _TURN.finditer(text):
        if m.group(2):
            out.add(m.group(2))
        elif m.group(3):
            out.add("right" if m.group(3) == "clockwise" else "left")
    return out


def aspects(text: str) -> dict[str, set[str]]:
    """What a caption (or the labeller's captions joined) says, per aspect."""
    t = text.lower()
    return {
        "side": set(_SIDE.findall(t)),
        "turn": _turn_side(t),
        "activity": {a for a, rx in ACTIVITIES.items() if re.search(rx, t)},
        "backward": {"backward"} if re.search(r"\bbackwards?\b", t) else set(),
    }


def agreement(data: Path, split: str = "val") -> dict:
    ids = [ln.strip() for ln in (data / f"{split}.txt").read_text().splitlines() if ln.strip()]
    stats = defaultdict(lambda: {"human": 0, "labelled": 0, "agree": 0})
    clips = 0
    for cid in ids:
        lines = [ln.split("#")[0] for ln in (data / "texts" / f"{cid}.txt").read_text(encoding="utf-8").splitlines()
                 if ln.strip()]
        if not lines:
            continue
        clips += 1
        human = aspects(" . ".join(lines))
        auto = aspects(" . ".join(c.text for c in label_clip(np.load(data / "new_joints" / f"{cid}.npy"))))
        for name, values in human.items():
            for v in sorted(values):
                key = f"{name}: {v}"
                stats[key]["human"] += 1
                if auto[name]:
                    stats[key]["labelled"] += 1
                    stats[key]["agree"] += v in auto[name]
    return {"split": split, "clips": clips, "aspects": dict(sorted(stats.items()))}


def markdown(result: dict) -> str:
    lines = ["| human caption says | clips | labeller names the aspect | ... and agrees |", "|---|---|---|---|"]
    for key, s in result["aspects"].items():
        lab = s["labelled"]
        lines.append(f"| {key} | {s['human']} | {lab} ({100 * lab / max(s['human'], 1):.0f}%) | "
                     f"{s['agree']}/{lab} ({100 * s['agree'] / max(lab, 1):.0f}%) |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="prepared dataset without --auto-captions")
    ap.add_argument("--split", default="val")
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args(argv)
    result = agreement(args.data, args.split)
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=1))
    print(f"{result['clips']} captioned clips of the {args.split} split (mirrors included)")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
