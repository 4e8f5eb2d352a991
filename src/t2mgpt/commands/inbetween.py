"""`t2mgpt inbetween START END TEXT --seconds S`: fill the gap between two motion files."""
from __future__ import annotations

import argparse
from pathlib import Path

from t2mgpt.commands._outputs import (add_model_arguments, add_output_arguments, check_given, check_request,
                                      sampling_options, show_warnings, write_samples)

NAME = "inbetween"
HELP = ("Generate the motion between two motion files (.npy or .bvh): START's frames, a gap following TEXT, "
        "then END's poses.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("start", metavar="START", help="the motion to start from (.npy, .npz or .bvh)")
    parser.add_argument("end", metavar="END", help="the motion to end with (.npy, .npz or .bvh)")
    parser.add_argument("text", metavar="TEXT", help='what happens in between, e.g. "a person turns around"')
    parser.add_argument("--seconds", type=float, default=2.0, help="length of the gap (default: 2)")
    parser.add_argument("--candidates", type=int, default=8,
                        help="gaps sampled; the one that flows best into END is kept (default: 8)")
    parser.add_argument("--end-position", type=float, nargs=2, metavar=("X", "Z"),
                        help="where END's first frame should stand (metres on the ground plane)")
    parser.add_argument("-n", "--num-samples", type=int, default=1, help="in-betweens to make (default: 1)")
    add_model_arguments(parser)
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return show_warnings(NAME, _run, args)


def _run(args: argparse.Namespace) -> int:
    from t2mgpt.errors import InputError

    if not 1 <= args.candidates <= 64:
        raise InputError(f"--candidates must be between 1 and 64, got {args.candidates}")
    check_given(args.start, "start motion")
    check_given(args.end, "end motion")
    folder = check_request(args, "what happens in between, e.g. 'a person turns around'")
    return write_samples(args, folder, f"{Path(args.start).stem} to {Path(args.end).stem}",
                         lambda pipe, seed: pipe.inbetween(args.start, args.end, args.text, seconds=args.seconds,
                                                           seed=seed, candidates=args.candidates,
                                                           end_position=args.end_position, **sampling_options(args)))
