"""`t2mgpt train-evaluator`: a text-motion evaluator for datasets without a released one."""
from __future__ import annotations

import argparse
import sys

NAME = "train-evaluator"
HELP = "train a contrastive text-motion evaluator (for FID / R-precision on datasets without a released one)"

EPILOG = """\
Motion side as Guo et al. (movement conv encoder + BiGRU over the features without foot
contacts); text side a BiGRU over word embeddings learned from the training captions (not the
generator's MiniLM/CLIP, so R-precision is not measured in the generator's own text space).
CLIP-style symmetric InfoNCE loss; the epoch with the best validation R-precision is kept.

OUT receives config.json, evaluator.safetensors, vocab.json, mean.npy, std.npy and metrics.json
(R-precision top-1/2/3 and MM-Dist of real pairs on the test split, batches of 32). Use it with
  t2mgpt evaluate --model MODEL --data DIR --evaluator OUT
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from t2mgpt.eval.train_config import EvaluatorTrainConfig

    d = EvaluatorTrainConfig()
    parser.add_argument("--data", required=True, metavar="DIR", help="dataset folder in the HumanML3D layout")
    parser.add_argument("--out", required=True, metavar="DIR", help="evaluator folder to write")
    parser.add_argument("--epochs", type=int, default=d.epochs, help=f"passes over the training split ({d.epochs})")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help=f"pairs per batch ({d.batch_size})")
    parser.add_argument("--lr", type=float, default=d.lr, help=f"AdamW learning rate ({d.lr})")
    parser.add_argument("--embed-dim", type=int, default=128, help="embedding size (128)")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"random seed ({d.seed})")
    parser.add_argument("--splits", nargs=3, default=["train", "val", "test"], metavar=("TRAIN", "VAL", "TEST"),
                        help="split files to use (default: train val test)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (small recurrent nets: 1 is often fastest)")
    parser.add_argument("--device", default="cpu", help="cpu (default), auto, cuda, cuda:N")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing evaluator folder")
    parser.add_argument("--progress", dest="progress", action="store_true", default=None,
                        help="show a progress bar (default: when stderr is a terminal)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from t2mgpt.errors import InputError
    from t2mgpt.eval.trainer import EvaluatorTrainConfig, train_evaluator

    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise InputError(f"{out} exists and is not empty; choose another --out or pass --overwrite")
    config = EvaluatorTrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    if args.threads is not None:
        import torch

        if args.threads < 1:
            raise InputError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    train_evaluator(args.data, out, config, {"dim_embed": args.embed_dim}, device=args.device, progress=progress,
                    splits=tuple(args.splits))
    print(f"wrote {out}")
    return 0
