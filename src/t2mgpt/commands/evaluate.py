"""`t2mgpt evaluate`: the paper's text-to-motion metrics for a model on a dataset split."""
from __future__ import annotations

import argparse
import sys

from t2mgpt.commands._outputs import add_guidance_argument

NAME = "evaluate"
HELP = "evaluate a model with the paper's metrics (FID, R-precision, MM-Dist, Diversity, MultiModality)"

EPILOG = """\
Protocol of T2M-GPT (GPT_eval_multi.py / VQ_eval.py): every replication redraws the split (random
caption per motion, windows cut to multiples of 4 frames, batches of 32 sorted by caption length)
and regenerates one motion per caption (free sampling, length chosen by the model). Printed and
written (--json-out): mean and 95% confidence interval of each metric over the replications, for
the model and for the real motions.

--evaluator is either
  * the released evaluator of Guo et al.: checkpoints/t2m/text_mot_match/model/finest.tar from
    T2M-GPT's dataset/prepare/download_extractor.sh. It also needs --glove (the glove/ folder of
    download_glove.sh) and --evaluator-meta (checkpoints/t2m/Comp_v6_KLD01/meta/, with mean.npy
    and std.npy; found automatically when it sits at ../../meta from finest.tar);
  * a folder made by `t2mgpt train-evaluator` (any dataset; numbers are then only comparable
    between models evaluated with that same evaluator).

Reproducing the paper's HumanML3D table: see docs/evaluation.md.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="MODEL_DIR", help="model folder (or installed model name)")
    parser.add_argument("--baseline", choices=["shuffled", "train-motions"],
                        help="instead of a model, score text-blind real motions: 'shuffled' gives each caption "
                             "another caption's motion; 'train-motions' gives it a random training motion")
    parser.add_argument("--reference-split", default="train", metavar="SPLIT",
                        help="split the train-motions baseline draws from (default: train)")
    parser.add_argument("--data", required=True, metavar="DIR", help="dataset folder in the HumanML3D layout")
    parser.add_argument("--evaluator", required=True, metavar="PATH",
                        help="released finest.tar, or a folder made by t2mgpt train-evaluator")
    parser.add_argument("--glove", metavar="DIR", help="GloVe folder (our_vab_*) for the released evaluator")
    parser.add_argument("--evaluator-meta", metavar="DIR",
                        help="mean.npy/std.npy of the released evaluator (Comp_v6_KLD01/meta)")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument("--replications", type=int, default=20, help="repetitions of the whole protocol (default: 20)")
    parser.add_argument("--mm", action="store_true", help="also measure MultiModality (30 samples per caption)")
    parser.add_argument("--mm-texts", type=int, default=100,
                        help="captions for MultiModality (default 100 as Guo et al.; 0: all, as T2M-GPT's script)")
    parser.add_argument("--reconstruction", action="store_true",
                        help="evaluate the VQ-VAE alone: reconstructions of the real motions")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="R-precision batch (default 32 as the paper; smaller only for tiny datasets)")
    parser.add_argument("--top-p", type=float, metavar="P",
                        help="sample from the smallest set of codes whose probability reaches P (default: the "
                             "paper's plain sampling from all codes)")
    add_guidance_argument(parser)
    parser.add_argument("--candidates", type=int, metavar="K",
                        help="best-of-K sampling: each motion is the best of K (t2mgpt.rerank; default: the "
                             "model's, see t2mgpt models; 1: plain sampling)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same numbers)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default: auto)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--json-out", metavar="FILE", help="write all numbers (and per-replication values) as JSON")
    parser.add_argument("--progress", dest="progress", action="store_true", default=None,
                        help="show a progress bar (default: when stderr is a terminal)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import logging

    from t2mgpt.errors import InputError
    from t2mgpt.eval.dataset import EvalDataset
    from t2mgpt.eval.evaluators import load_evaluator
    from t2mgpt.eval.protocol import evaluate_generation, evaluate_reconstruction
    from t2mgpt.utils.checks import check_candidates, check_guidance_scale
    from t2mgpt.utils.device import resolve_device

    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    if args.replications < 1:
        raise InputError(f"--replications must be at least 1, got {args.replications}")
    if (args.model is None) == (args.baseline is None):
        raise InputError("give either --model (evaluate a model) or --baseline (score text-blind real motions)")
    if args.baseline and (args.reconstruction or args.mm):
        raise InputError("--baseline scores real motions; it cannot be combined with --reconstruction or --mm")
    if args.reconstruction and args.mm:
        raise InputError("--mm measures generation; it cannot be combined with --reconstruction")
    if args.guidance_scale is not None:
        if args.reconstruction or args.baseline:
            raise InputError("--guidance-scale shapes the GPT's sampling; it cannot be combined with --reconstruction "
                             "or --baseline")
        check_guidance_scale(args.guidance_scale)
    if args.candidates is not None:
        if args.reconstruction or args.baseline:
            raise InputError("--candidates shapes the GPT's sampling; it cannot be combined with --reconstruction "
                             "or --baseline")
        check_candidates(args.candidates)
    if args.top_p is not None:
        if args.reconstruction or args.baseline:
            raise InputError("--top-p shapes the GPT's sampling; it cannot be combined with --reconstruction or --baseline")
        if not 0.0 < args.top_p <= 1.0:
            raise InputError(f"--top-p must be in (0, 1], got {args.top_p}")
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    device = resolve_device(args.device)
    if args.threads is not None:
        import torch

        if args.threads < 1:
            raise InputError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)

    dataset = EvalDataset(args.data, args.split)
    dataset.check_batch_size(args.batch_size)
    evaluator = load_evaluator(args.evaluator, glove=args.glove, meta=args.evaluator_meta, device=device)
    if args.baseline:
        from t2mgpt.eval.protocol import evaluate_baseline

        reference = EvalDataset(args.data, args.reference_split) if args.baseline == "train-motions" else None
        result = evaluate_baseline(args.baseline, dataset, evaluator, args.replications, args.seed,
                                   reference=reference, batch_size=args.batch_size, progress=progress)
    elif args.reconstruction:
        from t2mgpt.io.folder import load_model_folder
        from t2mgpt.io.lookup import resolve_model

        config, vqvae, _, normalizer = load_model_folder(resolve_model(args.model))
        _check_dim(config.feature_dim, dataset)
        result = evaluate_reconstruction(vqvae.to(device), dataset, evaluator, args.replications, args.seed,
                                         normalizer=normalizer, batch_size=args.batch_size, progress=progress)
    else:
        from t2mgpt.pipeline import T2MGPT

        pipe = T2MGPT.from_pretrained(args.model, device=device)
        _check_dim(pipe.config.feature_dim, dataset)
        guidance = pipe.guidance_scale if args.guidance_scale is None else args.guidance_scale  # None: the model's
        result = evaluate_generation(pipe, dataset, evaluator, args.replications, mm=args.mm, seed=args.seed,
                                     batch_size=args.batch_size, mm_texts=args.mm_texts, top_p=args.top_p,
                                     guidance_scale=guidance, progress=progress, candidates=args.candidates)
    what = args.model or f"baseline {args.baseline}"
    result.info.update(model=what, evaluator_path=str(args.evaluator))
    kind = "Baseline" if args.baseline else "VQ-VAE reconstruction" if args.reconstruction else "Text-to-motion"
    print(f"{kind}: {what} on "
          f"{dataset.split} split of {args.data} ({len(dataset)} entries), evaluator {args.evaluator}")
    print(result.table())
    if args.json_out:
        result.write_json(args.json_out)
        print(f"wrote {args.json_out}")
    return 0


def _check_dim(model_dim: int, dataset) -> None:
    from t2mgpt.errors import InputError

    if model_dim != dataset.dim:
        raise InputError(f"the model makes {model_dim}-d motion features but the dataset has {dataset.dim}-d ones: "
                         f"evaluate a model on the dataset it was trained for")
