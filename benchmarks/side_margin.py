"""Does a model tell left from right? The side margin of its GPT on labelled motions.

For every caption that names a side or turning sense ("a person turns left", "a person kicks
with the right leg"), take the motions of a dataset split captioned so (whole clips or time
spans), encode them with the model's VQ-VAE, and score their codes under the caption and under
its left/right swap (teacher-forced, no corruption, no guidance). The margin is the
log-likelihood ratio log p(codes | caption) - log p(codes | swapped caption): > 0 when the
model prefers the right side. A model that ignores the side word scores 0.

    python benchmarks/side_margin.py --model t2mgpt-cmu-demo --data work/demo/cmu_hml_auto
    python benchmarks/side_margin.py --model A --model B --data DATA --json-out margins.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

CAPTIONS = ["a person turns left", "a person kicks with the left leg", "a person punches with the left hand",
            "a person waves with the left hand", "a person hops on the left foot", "a person sidesteps to the left"]


def labelled_code_spans(pipe, data: Path, split: str, captions: list[str], per_caption: int) -> dict[str, list]:
    """caption -> up to `per_caption` code sequences (1-d long tensors) of the motions or spans it labels."""
    from t2mgpt.authoring.compose import encode_features
    from t2mgpt.data.humanml3d import read_captions, read_split

    unit = pipe.config.unit_length
    found: dict[str, list] = {c: [] for c in captions}
    for mid in read_split(data, split):
        if not (data / "texts" / f"{mid}.txt").is_file():
            continue
        wanted = [c for c in read_captions(data / "texts" / f"{mid}.txt")
                  if c.text in found and len(found[c.text]) < per_caption]
        if not wanted:
            continue
        feats = np.load(data / "new_joint_vecs" / f"{mid}.npy")
        with torch.inference_mode():  # whole codes from the first frame, so span times index them
            codes = torch.tensor(encode_features(pipe, feats[:len(feats) // unit * unit]))  # (N,)
        for c in wanted:
            span = codes if c.end <= 0 else codes[int(c.start * pipe.fps / unit):int(c.end * pipe.fps / unit)]
            if len(span) >= 3:
                found[c.text].append(span[:pipe.gpt.config.block_size - 1])
    return found


@torch.inference_mode()
def sequence_nll(gpt, codes: torch.Tensor, feature: torch.Tensor) -> float:
    """-log p(codes, END | text feature), teacher-forced."""
    end = gpt.config.num_vq
    target = torch.cat([codes, torch.tensor([end])])[None].to(gpt.device)  # (1, N + 1)
    logits = gpt(target[:, :-1], feature[None].to(gpt.device, gpt.dtype)).float()
    return float(torch.nn.functional.cross_entropy(logits[0], target[0], reduction="sum"))


def side_margins(model: str, data: Path, split: str = "train", per_caption: int = 40, device: str = "cpu") -> dict:
    from t2mgpt import T2MGPT
    from t2mgpt.prepare.text import swap_left_right

    pipe = T2MGPT.from_pretrained(model, device=device)
    captions = CAPTIONS + [swap_left_right(c) for c in CAPTIONS]
    spans = labelled_code_spans(pipe, data, split, captions, per_caption)
    out = {}
    for cap in captions:
        if not spans[cap]:
            continue
        own, swap = pipe.text_features([cap, swap_left_right(cap)])
        m = np.array([sequence_nll(pipe.gpt, c, swap) - sequence_nll(pipe.gpt, c, own) for c in spans[cap]])
        n = np.array([len(c) + 1 for c in spans[cap]])
        out[cap] = {"motions": len(m), "margin": float(m.mean()), "margin_per_code": float((m / n).mean()),
                    "prefers_own": float((m > 0).mean())}
    if not out:
        raise LookupError(f"no motion of {data} ({split} split) is captioned '{CAPTIONS[0]}' or alike: use a "
                          f"dataset made with `t2mgpt prepare --auto-captions` (its train split)")
    out["_overall"] = {"margin_per_code": float(np.mean([r["margin_per_code"] for r in out.values()])),
                       "prefers_own": float(np.mean([r["prefers_own"] for r in out.values()]))}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", required=True, help="model name or folder (repeatable)")
    ap.add_argument("--data", type=Path, required=True, help="a dataset folder with these captions (prepare --auto-captions)")
    ap.add_argument("--split", default="train")
    ap.add_argument("--per-caption", type=int, default=40, help="motions per caption at most (default 40)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args(argv)
    from t2mgpt.errors import T2MGPTError

    try:
        results = {m: side_margins(m, args.data, args.split, args.per_caption, args.device) for m in args.model}
    except (LookupError, T2MGPTError) as e:  # no sided captions; a missing model, split or file
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("| caption | " + " | ".join(f"{m}: nats/code, share preferring own side" for m in args.model) + " |")
    print("|---|" + "---|" * len(args.model))
    for cap in next(iter(results.values())):
        cells = [f"{r[cap]['margin_per_code']:+.3f}, {r[cap]['prefers_own']:.2f}" if cap in r else "-"
                 for r in results.values()]
        print(f"| {cap.strip('_')} | " + " | ".join(cells) + " |")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
