"""`t2mgpt export`: a motion file (.npy/.npz features or joint positions) -> any format of
`t2mgpt.export` (BVH, NPY, JSON, MP4, GIF, ...); each format's options become flags here."""
from __future__ import annotations

import argparse
from pathlib import Path

NAME = "export"
HELP = ("Export a motion (.npy/.npz features or joint positions) as BVH for Blender, Maya, Unity, Unreal, "
        "or any other output format (the output's suffix or --format chooses).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from t2mgpt.commands._motion_input import add_motion_arguments
    from t2mgpt.export import formats

    known = formats()
    parser.add_argument("motion", help="motion .npy/.npz: features (T, 263) / (T, 251), joint "
                                       "positions (T, 22, 3) / (T, 21, 3) in metres, y up, or a .npz "
                                       "written by t2mgpt (rotations used as stored)")
    parser.add_argument("-o", "--output", required=True,
                        help="file to write; its suffix gives the format: "
                             + ", ".join(f"{f.suffix} ({f.description})" for f in known))
    parser.add_argument("--format", help="the output format, if not the one the suffix names")
    parser.add_argument("--fps", type=float, default=20.0,
                        help="frame rate of the motion (default: 20, as HumanML3D and KIT-ML)")
    parser.add_argument("--text", default="", help="the motion's description (JSON metadata; video title)")
    add_motion_arguments(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    seen = set()
    for fmt in known:
        for opt in fmt.options:
            if opt.cli and opt.name not in seen:
                seen.add(opt.name)
                try:
                    parser.add_argument(opt.flag, dest=f"option_{opt.name}", type=_cli_value(opt), help=opt.help,
                                        metavar="{" + ",".join(opt.choices) + "}" if opt.choices else None)
                except argparse.ArgumentError:  # the flag is taken (e.g. --fps): a Python-only option
                    pass


def _cli_value(opt):
    """argparse type: check the text against the option's choices, then parse it."""
    def convert(text: str):
        if opt.choices:
            match = [c for c in opt.choices if c.lower() == text.lower()]
            if not match:
                raise argparse.ArgumentTypeError(f"choose from {', '.join(opt.choices)}")
            text = match[0]
        try:
            return opt.parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    convert.__name__ = opt.name
    return convert


def run(args: argparse.Namespace) -> int:
    from t2mgpt.commands._motion_input import read_motion_file
    from t2mgpt.errors import InputError
    from t2mgpt.export import format_of, get_format

    out = Path(args.output)
    fmt = format_of(out) if args.format is None else get_format(args.format)
    options = {k.removeprefix("option_"): v for k, v in vars(args).items()
               if k.startswith("option_") and v is not None}
    given = {o.name for o in fmt.options}
    stray = sorted(k for k in options if k not in given)
    if stray:
        flags = ", ".join("--" + k.replace("_", "-") for k in stray)
        raise InputError(f"{flags} do(es) not apply to {fmt.name} output")
    if out.is_dir():
        raise InputError(f"output {out} is a folder; give a file name ending in {fmt.suffix}")
    if out.exists() and not args.overwrite:
        raise InputError(f"{out} already exists; pass --overwrite to replace it")
    if not (args.fps > 0 and args.fps < float("inf")):
        raise InputError(f"--fps must be a positive number, got {args.fps}")
    check_frames = None
    if fmt.renders:  # refuse an over-long video before fitting the motion
        from t2mgpt.render import check_length
        from t2mgpt.render.style import RenderConfig

        limit = RenderConfig(fps=args.fps, **{k: v for k, v in options.items() if k == "max_frames"})
        check_frames = lambda n: check_length(n, limit)  # noqa: E731
    motion = read_motion_file(args.motion, args, fps=args.fps, text=args.text, redo_hint="export again",
                              check_frames=check_frames)
    fmt.save(motion, out, **options)
    frames, sk = len(motion.joints), motion.rigid.skeleton
    print(f"wrote {out} ({fmt.name}, {frames} frames, {frames / motion.fps:.2f} s at {motion.fps:g} fps, "
          f"{sk.name} skeleton, {sk.num_joints} joints)")
    return 0
