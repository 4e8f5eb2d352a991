"""`t2mgpt export`: a motion file (.npy/.npz features or joint positions) -> BVH."""
from __future__ import annotations

import argparse
from pathlib import Path

NAME = "export"
HELP = "Export a motion (.npy/.npz features or joint positions) as BVH for Blender, Maya, Unity, Unreal."

_ORDERS = ("auto", "ZXY", "ZYX", "YXZ", "XZY", "YZX", "XYZ")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("motion", help="motion .npy/.npz: features (T, 263) / (T, 251) or joint "
                                       "positions (T, 22, 3) / (T, 21, 3) in metres, y up")
    parser.add_argument("-o", "--output", required=True, help="BVH file to write (.bvh)")
    parser.add_argument("--fps", type=float, default=20.0,
                        help="frame rate of the motion (default: 20, as HumanML3D and KIT-ML)")
    parser.add_argument("--normalized", action="store_true",
                        help="the features are normalised by the dataset mean/std (as the models "
                             "output them): undo that first (HumanML3D statistics unless --mean/--std)")
    parser.add_argument("--mean", help="Mean.npy for --normalized (needed for KIT-ML features)")
    parser.add_argument("--std", help="Std.npy for --normalized (needed for KIT-ML features)")
    parser.add_argument("--scale", choices=("m", "cm"), default="m",
                        help="length unit of the file: m (Blender; default) or cm (Maya, "
                             "MotionBuilder, Unreal)")
    parser.add_argument("--rotation-order", choices=_ORDERS, default="auto", type=str.upper,
                        help="Euler order of the rotation channels: auto (per joint, away from "
                             "gimbal lock; default) or one order for every joint")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")


def run(args: argparse.Namespace) -> int:
    from t2mgpt.bvh import write_bvh
    from t2mgpt.errors import InputError
    from t2mgpt.commands._motion_input import motion_file_to_joints

    out = Path(args.output)
    if out.suffix.lower() != ".bvh":
        raise InputError(f"output {out} must end in .bvh")
    if out.is_dir():
        raise InputError(f"output {out} is a folder; give a file name ending in .bvh")
    if out.exists() and not args.overwrite:
        raise InputError(f"{out} already exists; pass --overwrite to replace it")
    if not (args.fps > 0 and args.fps < float("inf")):
        raise InputError(f"--fps must be a positive number, got {args.fps}")
    joints, skeleton = motion_file_to_joints(args.motion, args.normalized, args.mean, args.std,
                                             redo_hint="export again")

    scale = 100.0 if args.scale == "cm" else 1.0
    write_bvh(out, joints, skeleton, fps=args.fps, scale=scale, rotation_order=args.rotation_order)
    frames = len(joints)
    print(f"wrote {out} ({frames} frames, {frames / args.fps:.2f} s at {args.fps:g} fps, "
          f"{skeleton.name} skeleton, {skeleton.num_joints} joints, units: {args.scale})")
    return 0

