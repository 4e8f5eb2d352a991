"""`t2mgpt generate`: text prompts -> motion files in any format of `t2mgpt.export`.

Arguments, the model name and the output folder are checked before torch is imported. Under
`torchrun --nproc_per_node=N -m t2mgpt generate --file prompts.txt ...` every process makes a
contiguous share of the prompts (one GPU each with CUDA) into the same folder, with the files
and seeds one process would give.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from t2mgpt.io.lookup import DEFAULT_MODEL

NAME = "generate"
HELP = "Generate 3D human motions from text prompts and write them as video, BVH, NPY or JSON files."
DEFAULT_FORMATS = "mp4,npy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("texts", nargs="*", metavar="TEXT", help='prompts, e.g. "a person walks forward"')
    parser.add_argument("--file", help="a text file with one prompt per line (blank lines and lines "
                                       "starting with # are skipped)")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"model folder or name of a bundled/saved model (default: {DEFAULT_MODEL}; "
                             "see t2mgpt models)")
    parser.add_argument("-n", "--num-samples", type=int, default=1, help="motions per prompt (default: 1)")
    parser.add_argument("--seconds", type=float,
                        help="length of each motion in seconds (rounded to 0.2 s; default: the model decides)")
    parser.add_argument("--seed", type=int, help="random seed, for reproducible results")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default: 1.0)")
    parser.add_argument("--top-k", type=int, help="sample only among the K most likely codes")
    parser.add_argument("--top-p", type=float, help="sample only among the most likely codes of total probability P")
    parser.add_argument("--greedy", action="store_true", help="always take the most likely code (no sampling)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--int8", action="store_true",
                        help="int8-quantised GPT blocks: ~3x faster CPU decoding, slightly different output (CPU only)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="motions generated together (default: 64); more prompts run in several batches")
    parser.add_argument("--out-dir", default="outputs", help="folder for the files (default: outputs)")
    from t2mgpt.export import names

    parser.add_argument("--format", default=DEFAULT_FORMATS,
                        help=f"comma-separated formats among {', '.join(names())} (default: {DEFAULT_FORMATS})")
    parser.add_argument("--no-cleanup", action="store_true",
                        help="leave the feet as the model drew them (no foot-contact cleanup)")
    parser.add_argument("--raw-joints", action="store_true",
                        help="npy/json/mp4/gif hold the network's unfitted joints (research use); BVH, glTF "
                             "and npz always hold the rigid skeleton")
    parser.add_argument("--clip-path", help="CLIP ViT-B/32 weights (folder or file) for models using CLIP")
    parser.add_argument("--overwrite", action="store_true", help="replace files that already exist")


def read_prompts(texts: list[str], file: str | None) -> list[str]:
    from t2mgpt.errors import InputError

    prompts = list(texts)
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise InputError(f"prompt file {path} not found")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as e:
            raise InputError(f"prompt file {path} is not UTF-8 text: {e}") from None
        prompts += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise InputError('give at least one prompt, e.g. t2mgpt generate "a person walks forward" (or --file)')
    for i, p in enumerate(prompts):
        if not p.strip():
            raise InputError(f"prompt #{i + 1} is empty; describe the motion, e.g. 'a person walks forward'")
    return prompts


def prompt_batches(n_prompts: int, num_samples: int, batch_size: int, first: int = 0,
                   last: int | None = None) -> list[tuple[int, int]]:
    """[start, stop) ranges of prompts `first` to `last` (default: all) whose motions
    (prompts x samples) fit in `batch_size`."""
    from t2mgpt.errors import InputError

    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {batch_size}")
    if num_samples > batch_size:
        raise InputError(f"--num-samples {num_samples} is over the batch size of {batch_size} motions; "
                         f"ask for fewer samples or raise --batch-size")
    per, last = batch_size // num_samples, n_prompts if last is None else last
    return [(i, min(i + per, last)) for i in range(first, last, per)]


def shard(n_prompts: int, rank: int, world_size: int) -> tuple[int, int]:
    """The [first, last) prompts of process `rank` under torchrun: contiguous, in order, sizes
    differing by at most one, together every prompt exactly once."""
    return n_prompts * rank // world_size, n_prompts * (rank + 1) // world_size


def run(args: argparse.Namespace) -> int:
    import warnings

    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _run(args)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"t2mgpt generate: warning: {message}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    prompts, folder, plan = _check_before_loading(args)

    from t2mgpt.generator.sampling import check_sampling_args
    from t2mgpt.pipeline import T2MGPT
    from t2mgpt.train.distributed import all_gather_objects, cleanup_distributed, env_dist_info, setup_distributed

    if not args.greedy:
        check_sampling_args(args.temperature, args.top_k, args.top_p)
    info, device = env_dist_info(), args.device
    if info.enabled:  # under torchrun: each process makes its own contiguous share of the prompts
        info, device = setup_distributed(args.device)
    try:
        pipe = T2MGPT.from_pretrained(folder, device=device, text_encoder_path=args.clip_path,
                                      max_batch=args.batch_size, quantize="int8" if args.int8 else None)
        first, last = shard(len(prompts), info.rank, info.world_size)
        lines = _generate_share(args, pipe, prompts, plan, first, last, progress=info.is_main)
        lines = [line for rank_lines in all_gather_objects(lines) for line in rank_lines]
    finally:
        cleanup_distributed()
    if info.is_main:
        n_files = sum(len(paths) for per_prompt in plan for paths in per_prompt)
        where = f", {info.world_size} processes" if info.enabled else ""
        print(f"wrote {n_files} file(s) to {args.out_dir}/ ({pipe.name}{where}):")
        print("\n".join(lines))
    return 0


def _check_before_loading(args: argparse.Namespace):
    """-> (prompts, model folder, output plan), having found everything that can be wrong with
    the arguments before torch is imported and the model loaded."""
    from t2mgpt.errors import InputError
    from t2mgpt.export import parse_formats
    from t2mgpt.export.files import check_free, plan_outputs
    from t2mgpt.io.folder import read_config
    from t2mgpt.io.lookup import resolve_model
    from t2mgpt.utils.io import check_writable_folder

    formats = parse_formats(args.format)
    prompts = read_prompts(args.texts, args.file)
    if args.num_samples < 1:
        raise InputError(f"--num-samples must be at least 1, got {args.num_samples}")
    prompt_batches(len(prompts), args.num_samples, args.batch_size)  # checks --batch-size
    folder = resolve_model(args.model)
    if args.seconds is not None:
        read_config(folder, check=False).tokens_for_seconds(args.seconds)
    check_writable_folder(args.out_dir)
    plan = plan_outputs(prompts, args.num_samples, formats, args.out_dir)
    # every process checks every target before any process can write (they meet in between)
    check_free([path for per_prompt in plan for per_sample in per_prompt for path in per_sample.values()],
               args.overwrite)
    return prompts, folder, plan


def _generate_share(args, pipe, prompts: list[str], plan, first: int, last: int, progress: bool) -> list[str]:
    """Generate and write prompts `first` to `last`; -> one summary line per motion."""
    import secrets
    from dataclasses import replace

    from tqdm import tqdm

    from t2mgpt.export import write_motion
    from t2mgpt.export.files import StagedFiles, output_folder
    from t2mgpt.train.distributed import broadcast_object

    options = dict(num_samples=args.num_samples, seconds=args.seconds, temperature=args.temperature,
                   top_k=args.top_k, top_p=args.top_p, greedy=args.greedy, cleanup=not args.no_cleanup)
    seed = args.seed if args.seed is not None or args.greedy else secrets.randbelow(2**62 - 2**20)
    seed = broadcast_object(seed)  # rank 0's under torchrun: motion k of the run has seed + k on any rank
    chunks = prompt_batches(len(prompts), args.num_samples, args.batch_size, first, last)
    plan, motions = plan[first:last], []
    n_files = sum(len(paths) for per_prompt in plan for paths in per_prompt)
    with tqdm(total=len(chunks) + n_files, desc="generating", unit="step", file=sys.stderr,
              disable=None if progress else True, leave=False) as bar:
        for start, stop in chunks:
            # motion k of the run uses seed + k, as if all prompts were one batch
            chunk_seed = None if args.greedy else seed + start * args.num_samples
            batch = pipe(prompts[start:stop], seed=chunk_seed, **options)
            if args.raw_joints:
                batch = [[replace(m, joints=m.raw_joints) for m in row] for row in batch]
            motions += batch
            bar.update(1)
        bar.set_description("writing")
        with output_folder(args.out_dir), StagedFiles() as stage:
            for per_prompt, samples in zip(plan, motions):
                for paths, motion in zip(per_prompt, samples):
                    for fmt, path in paths.items():
                        bar.set_postfix_str(path.name)
                        write_motion(motion, stage.temp_for(path), fmt)
                        bar.update(1)
    lines = []
    for per_prompt, samples in zip(plan, motions):
        for paths, motion in zip(per_prompt, samples):
            names = ", ".join(p.name for p in paths.values())
            note = "" if motion.seed is None else f", seed {motion.seed}"
            lines.append(f"  {motion.text[:60]!r} #{motion.sample}: {motion.duration:.1f} s{note} -> {names}")
    return lines
