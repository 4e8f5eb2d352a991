"""Motions given to the authoring calls: a GeneratedMotion, a features or joints array, or a file."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from t2mgpt.errors import InputError
from t2mgpt.motion import features_to_joints, joints_to_features, load_motion, validate_features, validate_joints
from t2mgpt.motion.skeleton import get_skeleton


@dataclass
class GivenMotion:
    """features (T_f, D) de-normalised; joints (T, J, 3) as given; raw (T, J, 3) the joints the
    features give (the network's, before any rigid fit; the given joints for a joints input).
    `ours`: the features are the motion's own (T == T_f); otherwise they were computed from the
    joints (T_f = T - 1). `rigid`: a generated motion's rigid skeleton motion, if it has one."""

    features: np.ndarray
    joints: np.ndarray
    raw: np.ndarray
    ours: bool
    rigid: object = None
    text: str = ""
    segments: tuple = ()


def given_motion(pipe, motion, what: str = "motion") -> GivenMotion:
    """Read and check a motion for `pipe`'s skeleton; at least one code (unit_length frames) long."""
    sk = get_skeleton(pipe.skeleton)
    unit = pipe.config.unit_length
    if hasattr(motion, "features") and hasattr(motion, "joints"):
        if getattr(motion, "skeleton", sk.name) != sk.name:
            raise InputError(f"the {what} is a {motion.skeleton} motion but this model makes {sk.name} motions")
        feats = np.asarray(motion.features, dtype=np.float32)
        _check(lambda: validate_features(feats, skeleton=sk, min_frames=unit), what)
        joints = np.asarray(motion.joints)
        raw = getattr(motion, "raw_joints", None)
        return GivenMotion(feats, joints, joints if raw is None else np.asarray(raw), True,
                           getattr(motion, "rigid", None), getattr(motion, "text", ""),
                           tuple(getattr(motion, "segments", ())))
    if isinstance(motion, (str, os.PathLike)):
        return _from_file(pipe, Path(motion), what)
    if isinstance(motion, torch.Tensor):
        motion = motion.detach().cpu().numpy()
    if not isinstance(motion, np.ndarray):
        raise InputError(f"the {what} must be a GeneratedMotion, a features (T, {sk.feature_dim}) or joints "
                         f"(T, {sk.num_joints}, 3) array, or a .npy/.bvh file; got {type(motion).__name__}")
    if motion.ndim == 3:
        return _from_joints(pipe, motion, what)
    return _from_features(pipe, motion, what)


def _check(fn, what):
    try:
        return fn()
    except InputError as e:
        raise InputError(f"the {what}: {e}") from None


def _from_features(pipe, feats: np.ndarray, what: str) -> GivenMotion:
    sk = get_skeleton(pipe.skeleton)
    _check(lambda: validate_features(feats, skeleton=sk, min_frames=pipe.config.unit_length), what)
    feats = feats.astype(np.float32)
    joints = features_to_joints(torch.from_numpy(feats), sk).numpy()  # as the pipeline computes them
    return GivenMotion(feats, joints, joints, True)


def _from_joints(pipe, joints: np.ndarray, what: str) -> GivenMotion:
    sk = get_skeleton(pipe.skeleton)
    _check(lambda: validate_joints(joints, sk, min_frames=pipe.config.unit_length + 1), what)
    # the motion's own bone lengths (no retargeting), so that its poses come back as they are
    feats = _check(lambda: joints_to_features(joints, sk, retarget=False), what)
    joints = np.asarray(joints, dtype=np.float32)
    return GivenMotion(feats, joints, joints, False)


def _from_file(pipe, path: Path, what: str) -> GivenMotion:
    sk = get_skeleton(pipe.skeleton)
    if path.suffix.lower() == ".bvh":
        from t2mgpt.motion.bvh_read import read_bvh

        return _from_joints(pipe, _check(lambda: read_bvh(path, sk), what), what)
    if path.suffix.lower() not in (".npy", ".npz"):
        raise InputError(f"the {what} file {path} must be .npy, .npz or .bvh (written by t2mgpt)")
    motion = _check(lambda: load_motion(path), what)
    if motion.skeleton.name != sk.name:
        raise InputError(f"the {what} file {path} holds a {motion.skeleton.name} motion but this model makes "
                         f"{sk.name} motions")
    if motion.kind == "joints":
        return _from_joints(pipe, motion.data, what)
    return _from_features(pipe, motion.data, what)
