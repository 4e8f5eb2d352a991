"""`t2mgpt prepare`: raw joint positions of another skeleton -> a HumanML3D-layout dataset."""
from __future__ import annotations

import argparse
import os

NAME = "prepare"
HELP = "Build a HumanML3D-layout dataset (263-dim features, texts, splits, Mean/Std) from raw joint positions."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", choices=("cmu", "generic"),
                        help="cmu: the cmu_ml folder (joints20.npz, captions.jsonl); generic: a folder with "
                             "motions.npz, captions.jsonl and joint_map.json (see docs/data.md)")
    parser.add_argument("--src", required=True, help="source folder")
    parser.add_argument("--out", required=True, help="dataset folder to write (created if missing)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N trials (quick tests)")
    parser.add_argument("--ids", default=None, help="only these trial ids (comma-separated)")
    parser.add_argument("--force", action="store_true", help="redo trials that an earlier run finished")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--auto-captions", action="store_true",
                        help="add time-aligned captions written by the kinematic labeller to the train clips "
                             "(t2mgpt.prepare.auto_captions; docs/data.md)")
    parser.add_argument("--no-mirror", action="store_true", help="do not write the left/right mirrored copies (M<id>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _print_summary(s: dict) -> None:
    hours = ", ".join(f"{k} {v:.2f}" for k, v in s["hours"].items())
    print(f"prepared {s['trials']} trials ({s['trials_skipped']} already done) in {s['seconds']:.0f} s -> {s['out']}")
    kinds = ", ".join(f"{v} {k}" for k, v in sorted(s["clips_by_kind"].items()))
    print(f"  clips: {s['clips']} ({kinds}); {s['clips_with_captions']} with captions"
          + (", each with a mirrored copy" if s["mirrored"] else ""))
    print(f"  hours (unmirrored): {s['hours_total']:.2f} ({hours})")
    print("  files per split: " + ", ".join(f"{k} {v}" for k, v in s["files_per_split"].items()))
    if s["dropped_clips"]:
        print(f"  dropped clips: {s['dropped_clips']}")
        for reason, n in sorted(s["dropped_by_reason"].items(), key=lambda kv: -kv[1]):
            print(f"    {n:6d}  {reason}")
    print(f"  text-motion pairs: {s['text_motion_pairs']} (unmirrored)")
    for rule, n in s["pairs_by_rule"].items():
        print(f"    {n:6d}  {rule}")
    if s["captions_dropped_by_reason"]:
        print("  captions not used:")
        for reason, n in sorted(s["captions_dropped_by_reason"].items(), key=lambda kv: -kv[1]):
            print(f"    {n:6d}  {reason}")


def run(args: argparse.Namespace) -> int:
    from t2mgpt.errors import InputError
    from t2mgpt.prepare import CMUSource, GenericSource, PrepareConfig, prepare

    if args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be at least 1, got {args.limit}")
    source = CMUSource(args.src) if args.source == "cmu" else GenericSource(args.src)
    if os.path.abspath(args.out) == os.path.abspath(args.src):
        raise InputError("--out must be another folder than --src")
    ids = [i.strip() for i in args.ids.split(",") if i.strip()] if args.ids else None
    summary = prepare(source, args.out, limit=args.limit, ids=ids, force=args.force,
                      workers=min(args.workers, os.cpu_count() or 1),
                      cfg=PrepareConfig(mirror=not args.no_mirror, auto_captions=args.auto_captions), progress=not args.quiet)
    _print_summary(summary)
    return 0
