"""NPZ: the rigid motion for programs: positions, local rotations, root, contacts, skeleton.

Arrays (NumPy `.npz`, no pickles; T frames, J joints; metres, y up, the character faces +z):

| key          | shape    | dtype   | content                                                        |
|--------------|----------|---------|----------------------------------------------------------------|
| `joints`     | (T, J, 3)| float32 | global joint positions (= forward kinematics of the rest)      |
| `rotations`  | (T, J, 4)| float64 | local joint rotations, unit quaternions (w, x, y, z), relative |
|              |          |         | to the parent joint (the root's: relative to the world)        |
| `root`       | (T, 3)   | float64 | root (pelvis) translation                                      |
| `offsets`    | (J, 3)   | float64 | rest offsets from the parent in the T-pose (root: 0)           |
| `parents`    | (J,)     | int32   | parent index of every joint (-1 for the root)                  |
| `joint_names`| (J,)     | str     | joint names (HumanML3D / SMPL order)                           |
| `contacts`   | (T, 4)   | float32 | foot contacts in [0, 1]: left ankle, left toe, right ankle,    |
|              |          |         | right toe (pinned by the cleanup, else the model's channels;   |
|              |          |         | absent when unknown)                                           |
| `fps`        | ()       | float64 | frames per second                                              |
| `format`     | ()       | str     | "t2mgpt-motion-npz"; `version` () int32 = 1; `text` () str     |

World positions: joints[t, j] = joints[t, parents[j]] + R(world rotation of parents[j]) @
offsets[j], world rotation of j = world rotation of parents[j] * rotations[t, j]; joints[t, 0]
= root[t]. `np.load(path)` reads it; `t2mgpt export motion.npz -o motion.bvh|glb` converts it
without refitting.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from t2mgpt.errors import InputError
from t2mgpt.export import Format, MotionData, register, rigid_of

NPZ_FORMAT = "t2mgpt-motion-npz"
VERSION = 1


def encode(motion) -> bytes:
    rigid = rigid_of(motion)
    sk = rigid.skeleton
    arrays = {
        "format": np.array(NPZ_FORMAT), "version": np.array(VERSION, np.int32),
        "text": np.array(str(getattr(motion, "text", "") or "")),
        "joints": rigid.joints.astype(np.float32), "rotations": rigid.rotations.astype(np.float64),
        "root": rigid.root.astype(np.float64), "offsets": rigid.offsets.astype(np.float64),
        "parents": np.array(sk.parents, np.int32), "joint_names": np.array(sk.joint_names),
        "fps": np.array(float(rigid.fps)),
    }
    if rigid.contacts is not None:
        arrays["contacts"] = rigid.contacts.astype(np.float32)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def is_motion_npz(path: str | Path) -> bool:
    """Whether `path` is a .npz written by this format (it has `format` = "t2mgpt-motion-npz")."""
    path = Path(path)
    if path.suffix.lower() != ".npz" or not path.is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as z:
            return "format" in z.files and str(z["format"]) == NPZ_FORMAT
    except Exception:
        return False


def read_npz(path: str | Path) -> MotionData:
    """The motion of a file written by this format (rotations as stored: no refit)."""
    from t2mgpt.motion.rigid import RigidMotion
    from t2mgpt.motion.skeleton import SKELETONS

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:
        raise InputError(f"{path}: cannot be read as a motion .npz ({type(e).__name__}: {e})") from None
    missing = [k for k in ("rotations", "root", "offsets", "joint_names", "fps") if k not in data]
    if missing:
        raise InputError(f"{path}: a {NPZ_FORMAT} file needs {', '.join(missing)}")
    names = tuple(str(n) for n in data["joint_names"])
    sk = next((s for s in SKELETONS.values() if s.joint_names == names), None)
    if sk is None:
        raise InputError(f"{path}: joints {names[:3]}... are not those of a supported skeleton (humanml3d, kit)")
    rot, root, offsets = (np.asarray(data[k], np.float64) for k in ("rotations", "root", "offsets"))
    num_frames = len(root)
    if rot.shape != (num_frames, sk.num_joints, 4) or root.shape != (num_frames, 3) or offsets.shape != (sk.num_joints, 3):
        raise InputError(f"{path}: rotations {rot.shape}, root {root.shape}, offsets {offsets.shape} do not fit "
                         f"{num_frames} frames of {sk.num_joints} joints")
    if num_frames < 2:
        raise InputError(f"{path}: the motion has {num_frames} frame(s) but at least 2 are needed")
    fps = float(data["fps"])
    contacts = data.get("contacts")
    if not all(np.isfinite(a).all() for a in (rot, root, offsets, [fps])):
        raise InputError(f"{path}: NaN or infinite values in the motion")
    norms = np.linalg.norm(rot, axis=-1, keepdims=True)
    if (norms < 0.5).any():
        raise InputError(f"{path}: rotations must be unit quaternions (w, x, y, z)")
    rot = rot / norms
    rigid = RigidMotion(sk, offsets, root, rot, fps, None if contacts is None else np.asarray(contacts, np.float64))
    text = str(data.get("text", ""))
    return MotionData(text=text, joints=rigid.joints, fps=fps, skeleton=sk.name, rigid=rigid)


FORMAT = register(Format(
    name="npz", suffixes=(".npz",), media_type="application/octet-stream",
    description="rigid motion for programs: positions, local rotations (quaternions), root, contacts, "
                "skeleton (NumPy)", encode=encode,
))
