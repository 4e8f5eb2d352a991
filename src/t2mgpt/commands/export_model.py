"""`t2mgpt export-model`: a model folder from a train-vq run and a train-gpt run."""
from __future__ import annotations

import argparse

NAME = "export-model"
HELP = "make a model folder (for generate / T2MGPT.from_pretrained) from a train-vq run and a train-gpt run"

EPILOG = """\
The GPT run's checkpoint is best_fid.pt if it has one, else best.pt, else last.pt (--checkpoint
picks one). --vq must be the VQ-VAE whose codes the GPT was trained on (the GPT checkpoint records
a fingerprint of its weights), or a decoder-only fine-tuning of it (`train-vq --decoder-only`: the
same codes), e.g. a decoder with a bounded look-ahead for streaming, also for the GPT of a model
folder:
  t2mgpt export-model --vq VQ_RUN --gpt t2mgpt-cmu-demo --out MODEL_DIR
--half stores the weights as float16 (half the size; they are upcast to float32 when loaded). Then:
  t2mgpt generate "a person walks forward" --model MODEL_DIR
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vq", required=True, metavar="VQ_RUN", help="train-vq run folder or VQ-VAE checkpoint")
    parser.add_argument("--gpt", required=True, metavar="GPT_RUN",
                        help="train-gpt run folder or checkpoint, or a model folder or name (its GPT, text encoder, "
                             "statistics and card)")
    parser.add_argument("--out", required=True, metavar="MODEL_DIR", help="model folder to create")
    parser.add_argument("--name", help="model name in the model card (default: the folder name)")
    parser.add_argument("--card-notes", metavar="TEXT", help="notes for the model card (README.md)")
    parser.add_argument("--card-notes-file", metavar="FILE.md", help="notes for the model card, read from a file")
    parser.add_argument("--license", metavar="TEXT", help="licence statement for the model card")
    parser.add_argument("--license-file", metavar="FILE.md", help="licence statement, read from a file")
    parser.add_argument("--description", metavar="TEXT", help="what the model is, for the model card")
    parser.add_argument("--description-file", metavar="FILE.md", help="the description, read from a file")
    parser.add_argument("--trained-on", metavar="TEXT", help="description of the training data for the model card")
    parser.add_argument("--trained-on-file", metavar="FILE.md", help="the training-data text, read from a file")
    parser.add_argument("--evaluation", metavar="RESULT.json", action="append", default=[],
                        help="a `t2mgpt evaluate --json-out` result to tabulate in the model card (repeat for "
                             "more rows, e.g. a --baseline run; the first one's real-motion row is shown)")
    parser.add_argument("--checkpoint", default="auto", choices=["auto", "best_fid", "best", "last"],
                        help="which checkpoint of the GPT run (default: auto)")
    parser.add_argument("--half", action="store_true", help="store the weights as float16")
    parser.add_argument("--guidance-scale", type=float, metavar="S",
                        help="the classifier-free guidance the model samples with by default (default: a model "
                             "folder's, else 1: none; the GPT must have been trained with --cond-drop)")
    parser.add_argument("--candidates", type=int, metavar="K",
                        help="best-of-K sampling by default: each motion is the best of K sampled ones "
                             "(t2mgpt.rerank; default: a model folder's, else 1: none)")
    parser.add_argument("--critic", metavar="EVALUATOR_DIR",
                        help="a `t2mgpt train-evaluator` folder kept in the model folder to score the "
                             "candidates with (default: a model folder's critic, else none)")
    parser.add_argument("--overwrite", action="store_true", help="replace MODEL_DIR if it exists")


def run(args: argparse.Namespace) -> int:
    from t2mgpt.io.lookup import folder_size
    from t2mgpt.train.export import export_model_folder

    from t2mgpt.eval.report import markdown_table, read_results

    evaluation = markdown_table(read_results(args.evaluation)) if args.evaluation else ""
    out = export_model_folder(args.vq, args.gpt, args.out, name=args.name,
                              card_notes=_text(args.card_notes, args.card_notes_file, "--card-notes"),
                              half=args.half, checkpoint=args.checkpoint, overwrite=args.overwrite,
                              license=_text(args.license, args.license_file, "--license"),
                              evaluation=evaluation,
                              description=_text(args.description, args.description_file, "--description"),
                              trained_on=_text(args.trained_on, args.trained_on_file, "--trained-on"),
                              guidance_scale=args.guidance_scale, candidates=args.candidates,
                              critic=args.critic)
    print(f"wrote model folder {out} ({folder_size(out) / 1e6:.1f} MB)")
    print(f'use it with: t2mgpt generate "a person walks forward" --model {out}')
    return 0


def _text(text: str | None, file: str | None, flag: str) -> str | None:
    """The value of `flag` given inline or as `flag`-file."""
    from pathlib import Path

    from t2mgpt.errors import InputError

    if text is not None and file is not None:
        raise InputError(f"give {flag} or {flag}-file, not both")
    if file is None:
        return text
    try:
        return Path(file).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise InputError(f"cannot read {flag}-file {file}: {e.strerror}") from e
