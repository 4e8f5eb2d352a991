"""`t2mgpt inbetween START END TEXT --seconds S`: fill the gap between two motion files."""
from __future__ import annotations

import argparse
from pathlib import Path

from t2mgpt.commands._outputs import EditCommand, MotionArg, sampling_options, show_warnings, write_samples

NAME = "inbetween"
HELP = ("Generate the motion between two motion files (.npy or .bvh): START's frames, a gap following TEXT, "
        "then END's poses.")
EDIT = EditCommand((MotionArg("start", "start motion", "the motion to start from"),
                    MotionArg("end", "end motion", "the motion to end with")),
                   happens="in between", example="a person turns around", seconds=2.0, length_of="gap",
                   samples="in-betweens")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    EDIT.add_arguments(parser, _own_options)


def _own_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candidates", type=int, default=8,
                        help="gaps sampled; the one that flows best into END is kept (default: 8)")
    parser.add_argument("--end-position", type=float, nargs=2, metavar=("X", "Z"),
                        help="where END's first frame should stand (metres on the ground plane)")


def run(args: argparse.Namespace) -> int:
    return show_warnings(NAME, _run, args)


def _run(args: argparse.Namespace) -> int:
    from t2mgpt.errors import InputError

    if not 1 <= args.candidates <= 64:
        raise InputError(f"--candidates must be between 1 and 64, got {args.candidates}")
    folder = EDIT.check(args)
    return write_samples(args, folder, f"{Path(args.start).stem} to {Path(args.end).stem}",
                         lambda pipe, seed: pipe.inbetween(args.start, args.end, args.text, seconds=args.seconds,
                                                           seed=seed, candidates=args.candidates,
                                                           end_position=args.end_position, **sampling_options(args)))
