"""Reading a motion file given on the command line (shared by `render` and `export`)."""
from __future__ import annotations

import sys


def read_motion_file(path, normalized: bool, mean=None, std=None, *, redo_hint: str):
    """Joint positions (T, J, 3), skeleton and features (T, D) (None for a file of joint
    positions) from a .npy/.npz of features or joints.

    Features are de-normalised when `normalized` (with `mean`/`std` files, or the shipped
    HumanML3D statistics) and converted by `features_to_joints` (the "ric" path).
    `redo_hint` completes the warning printed when raw-looking features seem normalised.
    """
    import numpy as np

    from t2mgpt.errors import InputError
    from t2mgpt.motion import Normalizer, features_to_joints, load_motion, validate_features

    if (mean is None) != (std is None):
        raise InputError("give both --mean and --std, or neither")
    if mean is not None and not normalized:
        raise InputError("--mean/--std are used with --normalized only")
    motion = load_motion(path)
    skeleton = motion.skeleton
    if motion.kind == "joints":
        if normalized:
            raise InputError(f"{path} holds joint positions; --normalized/--mean/--std apply to features only")
        return motion.data, skeleton, None

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
    return features_to_joints(features, skeleton), skeleton, features
