"""`t2mgpt continue MOTION TEXT --seconds S`: a motion file followed by a generated continuation."""
from __future__ import annotations

import argparse
from pathlib import Path

from t2mgpt.commands._outputs import (add_model_arguments, add_output_arguments, check_given, load_pipeline, plan_files,
                                      report, run_seed, sampling_options, show_warnings, write_files)

NAME = "continue"
HELP = ("Continue a motion file (.npy features or joints, or a .bvh written by t2mgpt) with TEXT; "
        "the given frames are kept as they are.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("motion", metavar="MOTION", help="the motion to continue (.npy, .npz or .bvh)")
    parser.add_argument("text", metavar="TEXT", help='what happens next, e.g. "a person sits down"')
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the continuation (default: 4)")
    parser.add_argument("-n", "--num-samples", type=int, default=1, help="continuations to make (default: 1)")
    add_model_arguments(parser)
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return show_warnings(NAME, _run, args)


def _run(args: argparse.Namespace) -> int:
    from t2mgpt.authoring.timeline import codes_for
    from t2mgpt.errors import InputError
    from t2mgpt.io.folder import read_config
    from t2mgpt.io.lookup import resolve_model

    if args.num_samples < 1:
        raise InputError(f"--num-samples must be at least 1, got {args.num_samples}")
    check_given(args.motion, "motion")
    if not args.text.strip():
        raise InputError("TEXT is empty; describe what happens next, e.g. 'a person sits down'")
    folder = resolve_model(args.model)
    codes_for(args.seconds, read_config(folder, check=False).seconds_per_token, "--seconds")
    plan, targets = plan_files(args, [f"{Path(args.motion).stem} then {args.text}"], args.num_samples)
    pipe = load_pipeline(args, folder)
    seed = run_seed(args)
    samples = [pipe.continue_motion(args.motion, args.text, seconds=args.seconds,
                                    seed=None if seed is None else seed + j, **sampling_options(args))
               for j in range(args.num_samples)]
    for j, m in enumerate(samples):
        m.sample = j
    write_files(args, plan, [samples], targets)
    report(args, plan, [samples], targets, pipe)
    return 0
