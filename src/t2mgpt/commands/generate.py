"""`t2mgpt generate`: text prompts -> motion files in any format of `t2mgpt.export`.

Arguments, the model name and the output folder are checked before torch is imported. Under
`torchrun --nproc_per_node=N -m t2mgpt generate --file prompts.txt ...` every process makes a
contiguous share of the prompts (one GPU each with CUDA) into the same folder, with the files
and seeds one process would give.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from t2mgpt.commands._outputs import (add_model_arguments, add_output_arguments, load_pipeline, plan_files, report,
                                      run_seed, sampling_options, show_warnings, summary_lines, write_files,
                                      write_samples)

NAME = "generate"
HELP = "Generate 3D human motions from text prompts (or a timeline of prompts) and write them as video, BVH, NPY or JSON files."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("texts", nargs="*", metavar="TEXT", help='prompts, e.g. "a person walks forward"')
    parser.add_argument("--file", help="a text file with one prompt per line (blank lines and lines "
                                       "starting with # are skipped)")
    parser.add_argument("--timeline", metavar="PLAN.json",
                        help='one continuous motion from a timeline instead of prompts: {"segments": [{"text": '
                             '..., "seconds": ...}, ...], "path": [[seconds, x, z], ...]} (path optional)')
    parser.add_argument("-n", "--num-samples", type=int, default=1, help="motions per prompt (default: 1)")
    parser.add_argument("--candidates", type=int, metavar="K",
                        help="best-of-K: each motion is the best of K sampled ones, scored by the GPT and the "
                             "model's critic (default: the model's, see t2mgpt models; 1: plain sampling)")
    parser.add_argument("--seconds", type=float,
                        help="length of each motion in seconds (rounded to 0.2 s; default: the model decides); "
                             "beyond the model's context (10 s) the motion is made as a timeline")
    add_model_arguments(parser)
    parser.add_argument("--batch-size", type=int, default=64,
                        help="motions generated together (default: 64); more prompts run in several batches")
    add_output_arguments(parser)


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
    return show_warnings(NAME, _run, args)


def _run(args: argparse.Namespace) -> int:
    from t2mgpt.errors import InputError
    from t2mgpt.io.folder import read_config
    from t2mgpt.io.lookup import resolve_model

    # everything that can be wrong with the arguments is found before torch and the model load
    if args.num_samples < 1:
        raise InputError(f"--num-samples must be at least 1, got {args.num_samples}")
    if args.timeline is not None:
        return _run_timeline(args)
    prompts = read_prompts(args.texts, args.file)
    prompt_batches(len(prompts), args.num_samples, args.batch_size)  # checks --batch-size
    folder = resolve_model(args.model)
    if args.seconds is not None:
        check_seconds(read_config(folder, check=False), args.seconds)
    # every process checks every target before any process can write (they meet in between)
    plan, targets = plan_files(args, prompts, args.num_samples)

    from t2mgpt.train.distributed import all_gather_objects, cleanup_distributed, env_dist_info, setup_distributed

    info = env_dist_info()
    if info.enabled:  # under torchrun: each process makes its own contiguous share of the prompts
        info, args.device = setup_distributed(args.device)
    try:
        pipe = load_pipeline(args, folder, args.batch_size)
        first, last = shard(len(prompts), info.rank, info.world_size)
        motions = _generate_share(args, pipe, prompts, plan, first, last, progress=info.is_main)
        lines = [line for rank_lines in all_gather_objects(summary_lines(plan[first:last], motions))
                 for line in rank_lines]
    finally:
        cleanup_distributed()
    if info.is_main:
        report(args, plan, None, targets, pipe, lines=lines, processes=info.world_size)
    return 0


def _generate_share(args, pipe, prompts: list[str], plan, first: int, last: int, progress: bool) -> list:
    """Generate and write prompts `first` to `last`; -> their motions [prompt][sample]."""
    from tqdm import tqdm

    from t2mgpt.train.distributed import broadcast_object

    options = dict(num_samples=args.num_samples, seconds=args.seconds, candidates=args.candidates,
                   **sampling_options(args))
    k = pipe.candidates_used(args.candidates, args.seconds, args.greedy)  # seeds per motion
    seed = broadcast_object(run_seed(args))  # rank 0's under torchrun: motion m has seeds seed + m*k .. on any rank
    chunks = prompt_batches(len(prompts), args.num_samples, args.batch_size, first, last)
    plan, motions = plan[first:last], []
    targets = [path for per_prompt in plan for per_sample in per_prompt for path in per_sample.values()]
    with tqdm(total=len(chunks) + len(targets), desc="generating", unit="step", file=sys.stderr,
              disable=None if progress else True, leave=False) as bar:
        for start, stop in chunks:
            # motion m of the run uses seeds seed + m*k + r, as if all prompts were one batch
            chunk_seed = None if args.greedy else seed + start * args.num_samples * k
            motions += pipe(prompts[start:stop], seed=chunk_seed, **options)
            bar.update(1)
        bar.set_description("writing")
        write_files(args, plan, motions, targets, bar)
    return motions


def check_seconds(config, seconds: float) -> None:
    """Within the model's context: its exact code count; beyond it: the timeline's limits."""
    if isinstance(seconds, (int, float)) and seconds > config.max_tokens * config.seconds_per_token:
        from t2mgpt.authoring.timeline import codes_for

        codes_for(seconds, config.seconds_per_token)
    else:
        config.tokens_for_seconds(seconds)


def read_timeline(path: str) -> tuple[list, list | None]:
    """PLAN.json -> (segments [(text, seconds)], path or None); a bare list is the segments."""
    import json

    from t2mgpt.errors import InputError

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"timeline file {path} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"timeline file {path} is not readable JSON: {e}") from None
    if isinstance(doc, list):
        doc = {"segments": doc}
    if not isinstance(doc, dict) or set(doc) - {"segments", "path"} or "segments" not in doc:
        raise InputError(f'timeline file {path} must hold {{"segments": [{{"text": ..., "seconds": ...}}, ...], '
                         f'"path": [[seconds, x, z], ...]}} (path optional)')
    return doc["segments"], doc.get("path")


def _run_timeline(args: argparse.Namespace) -> int:
    from t2mgpt.authoring.timeline import check_timeline
    from t2mgpt.errors import InputError
    from t2mgpt.io.folder import read_config
    from t2mgpt.io.lookup import resolve_model

    if args.candidates not in (None, 1):
        raise InputError("--candidates picks the best of several whole motions; a --timeline is decoded segment by "
                         "segment with one candidate: leave --candidates out")
    if args.texts or args.file or args.seconds is not None:
        raise InputError("--timeline takes its texts and durations from the plan; give no TEXT, --file or --seconds")
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        raise InputError("--timeline makes one motion: run it in one process, not under torchrun")
    segments, path = read_timeline(args.timeline)
    folder = resolve_model(args.model)
    config = read_config(folder, check=False)
    codes = check_timeline(segments, config.seconds_per_token)
    if path is not None:
        from t2mgpt.authoring.path import check_path

        check_path(path, config.fps, sum(n for _, n in codes) * config.unit_length)
    return write_samples(args, folder, Path(args.timeline).stem,
                         lambda pipe, seed: pipe.compose(segments, seed=seed, path=path, **sampling_options(args)))
