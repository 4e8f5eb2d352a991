"""`t2mgpt import-official`: convert the published T2M-GPT checkpoints into a model folder.

The original release has a VQ-VAE checkpoint `{'net': ...}` (e.g. VQVAE/net_last.pth) and a
transformer checkpoint `{'trans': ...}` (e.g. VQTransformer_corruption05/net_best_fid.pth),
conditioned on CLIP ViT-B/32 text features and trained on HumanML3D (or KIT-ML) features
normalised by the dataset's Mean/Std. Checkpoints are read with `weights_only=True`.
"""
from __future__ import annotations

import argparse

NAME = "import-official"
HELP = "Convert the official T2M-GPT checkpoints (VQ-VAE + GPT .pth) into a t2mgpt model folder."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vq", required=True, help="the VQ-VAE checkpoint, e.g. pretrained/VQVAE/net_last.pth")
    parser.add_argument("--gpt", required=True,
                        help="the transformer checkpoint, e.g. pretrained/VQTransformer_corruption05/net_best_fid.pth")
    parser.add_argument("--dataset", default="t2m", help="t2m (HumanML3D, default) or kit (KIT-ML)")
    parser.add_argument("--out", help="model folder to create (default: $T2MGPT_HOME/models/NAME when --name is given)")
    parser.add_argument("--name", help="model name (shown by t2mgpt models; usable as --model NAME)")
    parser.add_argument("--clip-path", help="where the CLIP ViT-B/32 weights are (stored in the model as a hint)")
    parser.add_argument("--mean", help="Mean.npy of the dataset (required for kit; default for t2m: shipped)")
    parser.add_argument("--std", help="Std.npy of the dataset (required for kit; default for t2m: shipped)")
    parser.add_argument("--vq-hparams", help="JSON object (or .json file) overriding the VQ-VAE hyper-parameters")
    parser.add_argument("--gpt-hparams", help="JSON object (or .json file) overriding the GPT hyper-parameters")
    parser.add_argument("--overwrite", action="store_true", help="replace the output folder if it exists")


def run(args: argparse.Namespace) -> int:
    from t2mgpt.io.official import import_official

    out = import_official(args.vq, args.gpt, args.dataset, args.out, args.name, args.clip_path, args.vq_hparams,
                          args.gpt_hparams, args.mean, args.std, args.overwrite)
    print(f"wrote model folder {out}")
    print(f'use it with: t2mgpt generate "a person walks forward" --model {out}'
          + ("" if args.clip_path else " --clip-path CLIP_DIR"))
    return 0
