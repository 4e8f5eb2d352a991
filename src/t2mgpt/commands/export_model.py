"""`t2mgpt export-model`: a model folder from a train-vq run and a train-gpt run."""
from __future__ import annotations

import argparse

NAME = "export-model"
HELP = "make a model folder (for generate / T2MGPT.from_pretrained) from a train-vq run and a train-gpt run"

EPILOG = """\
The GPT run's checkpoint is best_fid.pt if it has one, else best.pt, else last.pt (--checkpoint
picks one). --vq must be the VQ-VAE whose codes the GPT was trained on (the GPT checkpoint records
a fingerprint of its weights). --half stores the weights as float16 (half the size; they are
upcast to float32 when loaded). Then:
  t2mgpt generate "a person walks forward" --model MODEL_DIR
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("--vq", required=True, metavar="VQ_RUN", help="train-vq run folder or VQ-VAE checkpoint")
    parser.add_argument("--gpt", required=True, metavar="GPT_RUN", help="train-gpt run folder or checkpoint")
    parser.add_argument("--out", required=True, metavar="MODEL_DIR", help="model folder to create")
    parser.add_argument("--name", help="model name in the model card (default: the folder name)")
    parser.add_argument("--card-notes", metavar="TEXT", help="notes for the model card (README.md)")
    parser.add_argument("--license", metavar="TEXT", help="licence statement for the model card")
    parser.add_argument("--checkpoint", default="auto", choices=["auto", "best_fid", "best", "last"],
                        help="which checkpoint of the GPT run (default: auto)")
    parser.add_argument("--half", action="store_true", help="store the weights as float16")
    parser.add_argument("--overwrite", action="store_true", help="replace MODEL_DIR if it exists")


def run(args: argparse.Namespace) -> int:
    from t2mgpt.model_folder import _folder_size
    from t2mgpt.train.export import export_model_folder

    out = export_model_folder(args.vq, args.gpt, args.out, name=args.name, card_notes=args.card_notes,
                              half=args.half, checkpoint=args.checkpoint, overwrite=args.overwrite,
                              license=args.license)
    print(f"wrote model folder {out} ({_folder_size(out) / 1e6:.1f} MB)")
    print(f'use it with: t2mgpt generate "a person walks forward" --model {out}')
    return 0
