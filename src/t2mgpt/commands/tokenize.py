"""`t2mgpt tokenize`: encode a dataset's motions into VQ-VAE codes for GPT training."""
from __future__ import annotations

import argparse

NAME = "tokenize"
HELP = "encode every motion of a dataset (and its left/right mirror) into VQ-VAE code indices"

EPILOG = """\
Writes OUT/<id>.npy ((1, N) int64 codes, the original T2M-GPT layout), OUT/<split>.txt (the
ids encoded) and OUT/tokenize.json. Whole motions are encoded, cut to a multiple of 4 frames.
Where the dataset has no mirrored copy M<id> of a clip (HumanML3D ships them), the mirror is
made from the features and encoded too, with its captions' left/right swapped in OUT/texts/.
--vq takes a train-vq run folder (best.pt, else last.pt), one of its checkpoints, or an
original T2M-GPT VQ-VAE checkpoint (normalised with the dataset's Mean.npy/Std.npy).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="DIR", help="dataset folder (HumanML3D layout)")
    parser.add_argument("--vq", required=True, metavar="RUN_DIR_OR_CHECKPOINT", help="the VQ-VAE")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder for the codes")
    parser.add_argument("--splits", nargs="+", default=["train", "val", "test"], help="(default: train val test)")
    parser.add_argument("--no-mirror", dest="mirror", action="store_false",
                        help="do not make the mirrors missing from the dataset")
    parser.add_argument("--min-frames", type=int, default=None,
                        help="skip shorter motions (default: 40, KIT-ML 24, as the original)")
    parser.add_argument("--max-frames", type=int, default=200,
                        help="skip motions of this many frames or more (default: 200; 0: no limit)")
    parser.add_argument("--batch-size", type=int, default=64, help="motions per forward pass (default: 64)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default: auto)")


def run(args: argparse.Namespace) -> int:
    import sys

    from t2mgpt.errors import InputError
    from t2mgpt.data.codes import tokenize_dataset

    if args.batch_size < 1:
        raise InputError("--batch-size must be positive")
    result = tokenize_dataset(args.data, args.vq, args.out, splits=tuple(args.splits), mirror=args.mirror,
                              device=args.device, min_frames=args.min_frames,
                              max_frames=args.max_frames or None, batch_size=args.batch_size,
                              progress=sys.stderr.isatty())
    parts = ", ".join(f"{s} {n}" for s, n in result.counts.items())
    skipped = sum(result.skipped.values())
    print(f"encoded {parts} motions into {result.out} ({result.mirrors_made} mirrors made, {skipped} skipped)")
    return 0
