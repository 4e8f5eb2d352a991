"""JSON: the motion's metadata (text, model, seed, fps, tokens, skeleton) + joints rounded to mm."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from t2mgpt.export import Format, register

JSON_FORMAT = "t2mgpt-motion"


def motion_json(motion) -> dict[str, Any]:
    """The JSON document of a motion: metadata + joints rounded to millimetres."""
    from t2mgpt.motion.skeleton import get_skeleton

    sk = get_skeleton(motion.skeleton)
    joints = np.asarray(motion.joints, dtype=np.float64)
    return {
        "format": JSON_FORMAT,
        "version": 1,
        "text": motion.text,
        "model": motion.model,
        "seed": motion.seed,
        "fps": motion.fps,
        "num_frames": int(joints.shape[0]),
        "duration": round(joints.shape[0] / motion.fps, 4),
        "tokens": [int(t) for t in motion.tokens],
        "skeleton": {"name": sk.name, "joint_names": list(sk.joint_names), "parents": list(sk.parents)},
        "units": "metres, y up; joints[frame][joint] = [x, y, z]",
        "joints": np.round(joints, 3).tolist(),
        **({"segments": [s.to_dict() for s in motion.segments]} if getattr(motion, "segments", ()) else {}),
    }


def encode(motion) -> bytes:
    return (json.dumps(motion_json(motion), separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


FORMAT = register(Format(
    name="json", suffixes=(".json",), media_type="application/json",
    description="metadata + joints in metres rounded to mm (JSON)", encode=encode,
))
