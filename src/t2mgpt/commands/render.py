"""`t2mgpt render`: a motion file (features or joint positions) -> MP4 or GIF stick-figure video."""
from __future__ import annotations

import argparse
from pathlib import Path

NAME = "render"
HELP = "Render a motion (features or joint positions, .npy/.npz) as an MP4 or GIF stick-figure video."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from t2mgpt.commands._motion_input import add_motion_arguments

    parser.add_argument("motion", nargs="?", help="motion .npy/.npz: features (T, 263) / (T, 251) or "
                                                  "joint positions (T, 22, 3) / (T, 21, 3) in metres, y up")
    parser.add_argument("-o", "--output", required=True, help="video to write: .mp4 (H.264) or .gif")
    parser.add_argument("--title", help="text shown above the figure (e.g. the prompt)")
    add_motion_arguments(parser)
    parser.add_argument("--fps", type=float, default=20.0, help="frame rate (default: 20, as HumanML3D)")
    parser.add_argument("--size", type=int, default=480, help="frame width and height in pixels (default: 480)")
    parser.add_argument("--camera", default="auto",
                        help="auto (default), fixed (frame the whole motion) or follow (track the root)")
    parser.add_argument("--max-frames", type=int,
                        help="refuse motions longer than this many frames (default: 6000, 5 min at 20 fps)")
    parser.add_argument("--skeleton", help="humanml3d or kit (default: inferred from the array shape)")
    parser.add_argument("--sample", action="store_true",
                        help="render the bundled sample clip (HumanML3D 012314) instead of a file")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")


def run(args: argparse.Namespace) -> int:
    from t2mgpt.errors import InputError
    from t2mgpt.render import render_motion
    from t2mgpt.render.writers import output_format

    out = Path(args.output)
    output_format(out)
    if out.is_dir():
        raise InputError(f"output {out} is a folder; give a file name ending in .mp4 or .gif")
    if out.exists() and not args.overwrite:
        raise InputError(f"{out} already exists; pass --overwrite to replace it")
    if args.sample == (args.motion is not None):
        raise InputError("give a motion file or --sample (one of them)")
    if (args.mean is None) != (args.std is None):
        raise InputError("give both --mean and --std, or neither")

    joints, skeleton = _load_joints(args)
    render_motion(joints, out, title=args.title, fps=args.fps, skeleton=skeleton,
                  width=args.size, height=args.size, camera=args.camera,
                  **({} if args.max_frames is None else {"max_frames": args.max_frames}))
    print(f"wrote {out} ({len(joints)} frames, {len(joints) / args.fps:.2f} s at {args.fps:g} fps)")
    return 0


def _load_joints(args: argparse.Namespace):
    """Joint positions (T, J, 3) and skeleton from the file (features are converted)."""
    from importlib.resources import files

    import numpy as np

    from t2mgpt.errors import InputError
    from t2mgpt.commands._motion_input import read_motion_file
    from t2mgpt.motion import get_skeleton

    if args.sample:
        if args.normalized or args.mean is not None:
            raise InputError("--sample is a clip of joint positions; --normalized/--mean/--std do not apply")
        with (files("t2mgpt.assets") / "sample_motion.npy").open("rb") as f:
            return np.load(f), get_skeleton("humanml3d")

    from t2mgpt.render import check_length
    from t2mgpt.render.style import RenderConfig

    limit = RenderConfig(fps=args.fps, **({} if args.max_frames is None else {"max_frames": args.max_frames}))
    motion = read_motion_file(args.motion, args, fps=args.fps, redo_hint="render again",
                              check_frames=lambda n: check_length(n, limit))
    joints, skeleton = motion.joints, get_skeleton(motion.skeleton)
    if args.skeleton is not None and get_skeleton(args.skeleton) is not skeleton:
        raise InputError(f"{args.motion} is a {skeleton.name} motion ({joints.shape}), "
                         f"not {get_skeleton(args.skeleton).name}")
    return joints, skeleton
