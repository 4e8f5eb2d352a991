"""`t2mgpt export`: a motion file (.npy/.npz features or joint positions) -> BVH."""
from __future__ import annotations

import argparse
import sys
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
    from t2mgpt.motion import Normalizer, features_to_joints, load_motion

    out = Path(args.output)
    if out.suffix.lower() != ".bvh":
        raise InputError(f"output {out} must end in .bvh")
    if out.is_dir():
        raise InputError(f"output {out} is a folder; give a file name ending in .bvh")
    if out.exists() and not args.overwrite:
        raise InputError(f"{out} already exists; pass --overwrite to replace it")
    if not (args.fps > 0 and args.fps < float("inf")):
        raise InputError(f"--fps must be a positive number, got {args.fps}")
    if (args.mean is None) != (args.std is None):
        raise InputError("give both --mean and --std, or neither")

    motion = load_motion(args.motion)
    if motion.kind == "features":
        features = motion.data
        if args.normalized:
            if args.mean is not None:
                norm = Normalizer.from_files(args.mean, args.std, dim=features.shape[-1])
            elif motion.skeleton.name == "humanml3d":
                norm = Normalizer.humanml3d()
            else:
                raise InputError(f"--normalized {motion.skeleton.name} features need the dataset's "
                                 "statistics: pass --mean Mean.npy --std Std.npy")
            features = norm.denormalize(features)
        elif motion.skeleton.name == "humanml3d" and _looks_normalized(features):
            print("warning: these features look normalised (far from the dataset's range); "
                  "if the motion looks wrong, export again with --normalized", file=sys.stderr)
        joints = features_to_joints(features, motion.skeleton)
    else:
        if args.normalized or args.mean is not None:
            raise InputError(f"{args.motion} holds joint positions; --normalized/--mean/--std "
                             "apply to features only")
        joints = motion.data

    scale = 100.0 if args.scale == "cm" else 1.0
    write_bvh(out, joints, motion.skeleton, fps=args.fps, scale=scale, rotation_order=args.rotation_order)
    frames = len(joints)
    print(f"wrote {out} ({frames} frames, {frames / args.fps:.2f} s at {args.fps:g} fps, "
          f"{motion.skeleton.name} skeleton, {motion.skeleton.num_joints} joints, units: {args.scale})")
    return 0


def _looks_normalized(features) -> bool:
    """Raw features sit within ~1 std of the dataset mean; normalised ones are ~5 stds off."""
    import numpy as np

    from t2mgpt.motion import Normalizer

    return float(np.median(np.abs(Normalizer.humanml3d().normalize(features)))) > 2.5
