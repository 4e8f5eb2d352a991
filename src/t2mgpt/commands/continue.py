"""`t2mgpt continue MOTION TEXT --seconds S`: a motion file followed by a generated continuation."""
from __future__ import annotations

import argparse
from pathlib import Path

from t2mgpt.commands._outputs import (add_model_arguments, add_output_arguments, check_given, check_request,
                                      sampling_options, show_warnings, write_samples)

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
    check_given(args.motion, "motion")
    folder = check_request(args, "what happens next, e.g. 'a person sits down'")
    return write_samples(args, folder, f"{Path(args.motion).stem} then {args.text}",
                         lambda pipe, seed: pipe.continue_motion(args.motion, args.text, seconds=args.seconds,
                                                                 seed=seed, **sampling_options(args)))
