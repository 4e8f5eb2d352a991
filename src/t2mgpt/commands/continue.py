"""`t2mgpt continue MOTION TEXT --seconds S`: a motion file followed by a generated continuation."""
from __future__ import annotations

import argparse
from pathlib import Path

from t2mgpt.commands._outputs import EditCommand, MotionArg, sampling_options, show_warnings, write_samples

NAME = "continue"
HELP = ("Continue a motion file (.npy features or joints, or a .bvh written by t2mgpt) with TEXT; "
        "the given frames are kept as they are.")
EDIT = EditCommand((MotionArg("motion", "motion", "the motion to continue"),), happens="next",
                   example="a person sits down", seconds=4.0, length_of="continuation", samples="continuations")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    EDIT.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return show_warnings(NAME, _run, args)


def _run(args: argparse.Namespace) -> int:
    folder = EDIT.check(args)
    return write_samples(args, folder, f"{Path(args.motion).stem} then {args.text}",
                         lambda pipe, seed: pipe.continue_motion(args.motion, args.text, seconds=args.seconds,
                                                                 seed=seed, **sampling_options(args)))
