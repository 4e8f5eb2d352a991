"""Reading a motion file given on the command line (shared by `render` and `export`)."""
from __future__ import annotations

import argparse
import sys


def add_motion_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that say how to read a motion file (features, joints or our .npz)."""
    parser.add_argument("--normalized", action="store_true",
                        help="the features are normalised by the dataset mean/std (as the models "
                             "output them): undo that first (HumanML3D statistics unless --mean/--std)")
    parser.add_argument("--mean", help="Mean.npy for --normalized (needed for KIT-ML features)")
    parser.add_argument("--std", help="Std.npy for --normalized (needed for KIT-ML features)")
    parser.add_argument("--no-cleanup", action="store_true",
                        help="features: leave the feet as the model drew them (no foot-contact cleanup; "
                             "joint files are never cleaned)")
    parser.add_argument("--raw-joints", action="store_true",
                        help="npy/json/videos: the file's own joints, not fitted to a rigid skeleton "
                             "(BVH, glTF and npz always hold the rigid fit)")


def read_motion_file(path, args: argparse.Namespace, *, fps: float, text: str = "", redo_hint: str,
                     check_frames=None):
    """The motion (`t2mgpt.export.MotionData`, with its rigid motion) of a .npy/.npz file of
    features or joint positions, or of a .npz written by the npz format (used as stored).

    Features are de-normalised when `args.normalized` (with `--mean/--std` files, or the shipped
    HumanML3D statistics), converted by `features_to_joints` (the "ric" path), fitted to a rigid
    skeleton (the dataset's bone lengths, as for generated motion) and foot-cleaned with their
    contact channels (unless `--no-cleanup`). Joint
    positions are fitted to a rigid skeleton of their own bone lengths (not cleaned).
    `redo_hint` completes the warning printed when raw-looking features seem normalised;
    `check_frames(num_frames)` may refuse the motion before the (costly) fit.
    """
    import numpy as np

    from t2mgpt.errors import InputError
    from t2mgpt.export import MotionData
    from t2mgpt.export.npz import is_motion_npz, read_npz
    from t2mgpt.motion import Normalizer, features_to_joints, load_motion, validate_features
    from t2mgpt.motion.postprocess import postprocess
    from t2mgpt.motion.rigid import reference_lengths

    mean, std, normalized = args.mean, args.std, args.normalized
    if (mean is None) != (std is None):
        raise InputError("give both --mean and --std, or neither")
    if mean is not None and not normalized:
        raise InputError("--mean/--std are used with --normalized only")
    if is_motion_npz(path):
        if normalized:
            raise InputError(f"{path} holds a rigid motion; --normalized/--mean/--std apply to features only")
        motion = read_npz(path)
        motion.text = text or motion.text
        return motion
    motion = load_motion(path)
    skeleton = motion.skeleton
    if check_frames is not None:
        check_frames(len(motion.data))
    if motion.kind == "joints":
        if normalized:
            raise InputError(f"{path} holds joint positions; --normalized/--mean/--std apply to features only")
        rigid = postprocess(motion.data, skeleton, fps, cleanup=False)
        joints = motion.data if args.raw_joints else rigid.joints.astype(np.float32)
        return MotionData(text=text, joints=joints, fps=fps, skeleton=skeleton.name, rigid=rigid)

    features = motion.data
    if normalized:
        if mean is not None:
            norm = Normalizer.from_files(mean, std, dim=features.shape[-1])
        elif skeleton.name == "humanml3d":
            norm = Normalizer.humanml3d()
        else:
            raise InputError(f"--normalized {skeleton.name} features need the dataset's statistics: "
                             "pass --mean Mean.npy --std Std.npy")
        features = norm.denormalize(features)
    elif skeleton.name == "humanml3d" and np.median(np.abs(Normalizer.humanml3d().normalize(features))) > 2.5:
        # Raw features sit within ~1 std of the dataset mean; normalised ones are far off.
        print("warning: these features look normalised (as the models output them); if the "
              f"motion looks wrong, {redo_hint} with --normalized", file=sys.stderr)
    validate_features(features, skeleton=skeleton, min_frames=2)
    raw = features_to_joints(features, skeleton)
    rigid = postprocess(raw, skeleton, fps, channels=features[:, -4:], cleanup=not args.no_cleanup,
                        lengths=reference_lengths(skeleton))  # as `T2MGPT` does for what it generates
    joints = raw if args.raw_joints else rigid.joints.astype(np.float32)
    return MotionData(text=text, joints=joints, fps=fps, skeleton=skeleton.name, features=features, rigid=rigid)
