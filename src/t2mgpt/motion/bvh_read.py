"""Reading BVH files back into joint positions (T, J, 3) in metres, y up.

Made for the BVH files t2mgpt writes (`t2mgpt.export.bvh`), but any BVH whose joints are named
like the skeleton's (pelvis, left_hip, ...) works: per-joint channel orders, root OFFSET added
to the root position, End Sites skipped. Files in centimetres (`--scale cm`) are recognised by
their size (bones ten times too long for metres) and scaled to metres.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from t2mgpt.errors import InputError
from t2mgpt.motion.skeleton import Skeleton

_AXES = {"X": 0, "Y": 1, "Z": 2}


def _axis_rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    """(T,) radians -> (T, 3, 3) rotation about x, y or z."""
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros(angle.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[:, axis, axis] = 1.0
    m[:, i, i], m[:, i, j], m[:, j, i], m[:, j, j] = c, -s, s, c
    return m


def _parse(text: str, path) -> tuple[list, np.ndarray]:
    """-> joints [(name, parent index, offset (3,), channels [names], first column)], motion (T, C)."""
    tokens = text.split()
    joints, stack, col, i = [], [], 0, 0
    try:
        while tokens[i] != "MOTION":
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                joints.append([tokens[i + 1], stack[-1] if stack else -1, None, [], 0])
                i += 2
            elif tok == "End":  # End Site { OFFSET x y z }
                i += 2 + 1 + 4 + 1
            elif tok == "{":
                stack.append(len(joints) - 1)
                i += 1
            elif tok == "}":
                stack.pop()
                i += 1
            elif tok == "OFFSET":
                joints[-1][2] = np.array([float(v) for v in tokens[i + 1:i + 4]])
                i += 4
            elif tok == "CHANNELS":
                n = int(tokens[i + 1])
                joints[-1][3], joints[-1][4] = tokens[i + 2:i + 2 + n], col
                col += n
                i += 2 + n
            else:
                i += 1
        frames = int(tokens[tokens.index("Frames:", i) + 1])
        start = tokens.index("Time:", i) + 2
        data = np.array(tokens[start:start + frames * col], dtype=np.float64).reshape(frames, col)
    except (IndexError, ValueError) as e:
        raise InputError(f"{path}: not a readable BVH file ({type(e).__name__}: {e})") from None
    return joints, data


def read_bvh(path: str | Path, skeleton: Skeleton) -> np.ndarray:
    """A BVH file -> joint positions (T, J, 3) in metres, in the skeleton's joint order."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"motion file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text BVH file") from None
    if not text.lstrip().startswith("HIERARCHY"):
        raise InputError(f"{path}: not a BVH file (it does not start with HIERARCHY)")
    joints, data = _parse(text, path)
    names = [j[0] for j in joints]
    missing = [n for n in skeleton.joint_names if n not in names]
    if missing or not len(data):
        raise InputError(f"{path}: not a BVH of the {skeleton.name} skeleton (no joint {missing[0]!r}); "
                         f"give a BVH written by t2mgpt for this model's skeleton" if missing else
                         f"{path}: the BVH has no frames")
    T = len(data)
    pos = np.zeros((len(joints), T, 3))
    rot = np.zeros((len(joints), T, 3, 3))
    for k, (_, parent, offset, channels, col) in enumerate(joints):
        r = np.broadcast_to(np.eye(3), (T, 3, 3)).copy()
        p = np.broadcast_to(offset, (T, 3)).copy()
        for c, ch in enumerate(channels):
            values = data[:, col + c]
            if ch.endswith("position"):
                p[:, _AXES[ch[0]]] += values
            else:
                r = r @ _axis_rotation(_AXES[ch[0]], np.radians(values))
        if parent < 0:
            pos[k], rot[k] = p, r
        else:
            pos[k] = pos[parent] + np.einsum("tij,j->ti", rot[parent], offset)
            rot[k] = rot[parent] @ r
    out = pos[[names.index(n) for n in skeleton.joint_names]].transpose(1, 0, 2)  # (T, J, 3)
    bones = sum(np.linalg.norm(j[2]) for j in joints)  # about 3.5 for a body in metres
    if bones > 30.0:  # bones 10x too long for metres: centimetres
        out = out / 100.0
    if not np.isfinite(out).all():
        raise InputError(f"{path}: the BVH holds NaN/inf values")
    return out.astype(np.float32)
