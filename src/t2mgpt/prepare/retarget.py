"""Declarative joint maps: joint positions of another skeleton -> the 22 SMPL joints of HumanML3D.

A map says, for each SMPL joint, which source joint it is, or which weighted blend of
source joints for joints the source lacks (SMPL has three spine joints, collars, a neck and
a head; CMU has pelvis, upper spine, neck and head). It also gives the length unit (`scale`
to metres) and the axes (`axes`: a 3x3 matrix taking source coordinates to HumanML3D's:
y up, and a person facing +z has their left at +x, i.e. right-handed).

Only bone *directions* matter downstream: `joints_to_features` re-targets every motion onto
HumanML3D's target skeleton (its bone lengths) by inverse + forward kinematics, so a mapped
joint needs to lie in the right direction from its parent, not at the exact SMPL spot.

JSON form (see docs/data.md):
    {"source_joints": ["pelvis", "upper_spine", ...],     # names of the array's joints, in order
     "scale": 1.0, "up": "y",                              # or "axes": [[1,0,0],[0,1,0],[0,0,1]]
     "fps": 12,
     "joints": {"pelvis": "pelvis",                        # one source joint
                "spine1": {"pelvis": 0.6, "upper_spine": 0.4}, ...}}   # a blend (weights sum to 1)
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from t2mgpt.errors import DataError
from t2mgpt.motion.kinematics import default_offsets
from t2mgpt.motion.skeleton import HUMANML3D

SMPL_JOINTS = HUMANML3D.joint_names

# The joints of /work/shared/data/cmu_ml (Action2Motion's CMU extraction).
CMU_JOINTS = (
    "pelvis", "upper_spine", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_toe",
    "right_hip", "right_knee", "right_ankle", "right_toe",
)
CMU_PARENTS = (-1, 0, 1, 2, 1, 4, 5, 6, 1, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18)
CMU_FPS = 12.0

# Axis changes to HumanML3D's frame (y up, right-handed), for sources that give only "up".
UP_AXES = {
    "y": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "z": ((1, 0, 0), (0, 0, 1), (0, -1, 0)),  # z-up right-handed (Blender, AMASS): (x, y, z) -> (x, z, -y)
}


@dataclass(frozen=True)
class JointMap:
    """Source joint positions (T, J, 3) -> SMPL-22 positions (T, 22, 3) in metres, y up."""
    source_joints: tuple[str, ...]
    joints: dict[str, dict[str, float]]  # SMPL joint -> {source joint: weight}
    scale: float = 1.0
    axes: tuple[tuple[float, ...], ...] = UP_AXES["y"]
    fps: float | None = None
    weights: np.ndarray = field(init=False, repr=False, compare=False)  # (22, J)

    def __post_init__(self):
        names = list(self.source_joints)
        if len(set(names)) != len(names):
            raise DataError(f"joint map: source_joints has duplicate names: {names}")
        missing = [j for j in SMPL_JOINTS if j not in self.joints]
        extra = [j for j in self.joints if j not in SMPL_JOINTS]
        if missing or extra:
            raise DataError(
                f"joint map must give every one of the 22 SMPL joints {list(SMPL_JOINTS)}"
                + (f"; missing: {missing}" if missing else "") + (f"; unknown: {extra}" if extra else ""))
        w = np.zeros((len(SMPL_JOINTS), len(names)))
        for k, target in enumerate(SMPL_JOINTS):
            blend = self.joints[target]
            for src, weight in blend.items():
                if src not in names:
                    raise DataError(f"joint map: {target!r} uses source joint {src!r}, which is not in "
                                    f"source_joints {names}")
                w[k, names.index(src)] += float(weight)
            if not np.isclose(w[k].sum(), 1.0, atol=1e-6):
                raise DataError(f"joint map: the weights of {target!r} sum to {w[k].sum():.6g}; they must sum to 1")
        axes = np.asarray(self.axes, dtype=np.float64)
        if axes.shape != (3, 3) or not np.allclose(axes @ axes.T, np.eye(3), atol=1e-6):
            raise DataError(f"joint map: axes must be an orthonormal 3x3 matrix, got {self.axes}")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise DataError(f"joint map: scale must be a positive number, got {self.scale}")
        if self.fps is not None and not (np.isfinite(self.fps) and self.fps > 0):
            raise DataError(f"joint map: fps must be a positive number, got {self.fps}")
        object.__setattr__(self, "weights", w)

    @property
    def num_source_joints(self) -> int:
        return len(self.source_joints)

    def apply(self, joints: np.ndarray) -> np.ndarray:
        """(T, J, 3) source positions -> (T, 22, 3) float64, metres, HumanML3D axes."""
        joints = np.asarray(joints, dtype=np.float64)
        if joints.ndim != 3 or joints.shape[1:] != (self.num_source_joints, 3):
            raise DataError(f"motion has shape {joints.shape}; the joint map expects (T, "
                            f"{self.num_source_joints}, 3)")
        out = np.einsum("kj,tjd->tkd", self.weights, joints)
        return (out @ np.asarray(self.axes, dtype=np.float64).T) * self.scale

    # --- JSON -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        joints = {}
        for target in SMPL_JOINTS:
            blend = {k: v for k, v in self.joints[target].items() if v != 0}
            joints[target] = next(iter(blend)) if len(blend) == 1 else {k: round(v, 6) for k, v in blend.items()}
        out = {"source_joints": list(self.source_joints), "scale": self.scale,
               "axes": [list(r) for r in self.axes], "joints": joints}
        if self.fps is not None:
            out["fps"] = self.fps
        return out

    @classmethod
    def from_dict(cls, d: dict, where: str = "joint map") -> "JointMap":
        if not isinstance(d, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(d).__name__}")
        unknown = set(d) - {"source_joints", "scale", "axes", "up", "fps", "joints"}
        if unknown:
            raise DataError(f"{where}: unknown keys {sorted(unknown)} (allowed: source_joints, scale, "
                            "axes or up, fps, joints)")
        if "joints" not in d or not isinstance(d["joints"], dict):
            raise DataError(f"{where}: needs a 'joints' object mapping each SMPL joint to a source joint or blend")
        source = d.get("source_joints")
        if source is None:  # joints referred to by index
            count = 1 + max(int(s) for spec in d["joints"].values()
                            for s in ([spec] if not isinstance(spec, dict) else spec))
            source = [str(i) for i in range(count)]
        source = tuple(str(s) for s in source)
        joints = {}
        for target, spec in d["joints"].items():
            if isinstance(spec, (str, int)):
                joints[target] = {str(spec): 1.0}
            elif isinstance(spec, dict) and spec:
                try:
                    joints[target] = {str(k): float(v) for k, v in spec.items()}
                except (TypeError, ValueError):
                    raise DataError(f"{where}: weights of {target!r} must be numbers, got {spec}") from None
            else:
                raise DataError(f"{where}: {target!r} must be a source joint name or an object "
                                f"{{source joint: weight}}, got {spec!r}")
        if "axes" in d and "up" in d:
            raise DataError(f"{where}: give either 'axes' or 'up', not both")
        if "up" in d:
            up = str(d["up"]).lower()
            if up not in UP_AXES:
                raise DataError(f"{where}: 'up' must be one of {sorted(UP_AXES)} (or give 'axes'), got {d['up']!r}")
            axes = UP_AXES[up]
        else:
            axes = d.get("axes", UP_AXES["y"])
        try:
            axes = tuple(tuple(float(x) for x in row) for row in axes)
            scale = float(d.get("scale", 1.0))
            fps = float(d["fps"]) if d.get("fps") is not None else None
        except (TypeError, ValueError) as e:
            raise DataError(f"{where}: scale, fps and axes must be numbers ({e})") from None
        return cls(source_joints=source, joints=joints, scale=scale, axes=axes, fps=fps)

    @classmethod
    def load(cls, path: str | Path) -> "JointMap":
        path = Path(path)
        if not path.is_file():
            raise DataError(f"joint map {path} not found")
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"{path} is not valid JSON: {e}") from None
        return cls.from_dict(d, where=str(path))


def smpl_spine_fractions(offsets: np.ndarray | None = None) -> tuple[float, float]:
    """Where spine1 and spine2 lie on the pelvis -> spine3 line, by the SMPL target bone lengths."""
    off = default_offsets(HUMANML3D) if offsets is None else np.asarray(offsets)
    l1, l2, l3 = (float(np.linalg.norm(off[i])) for i in (3, 6, 9))
    total = l1 + l2 + l3
    return l1 / total, (l1 + l2) / total


def smpl_collar_fraction(offsets: np.ndarray | None = None) -> float:
    """Where the collar lies on the spine3 -> shoulder line, by the SMPL target bone lengths."""
    off = default_offsets(HUMANML3D) if offsets is None else np.asarray(offsets)
    collar = (np.linalg.norm(off[13]) + np.linalg.norm(off[14])) / 2
    shoulder = (np.linalg.norm(off[16]) + np.linalg.norm(off[17])) / 2
    return float(collar / (collar + shoulder))


def _blend(a: str, b: str, t: float) -> dict[str, float]:
    """The point a fraction t of the way from joint a to joint b."""
    return {a: 1.0 - t, b: t}


def cmu_joint_map() -> JointMap:
    """The built-in map for the CMU 20-joint skeleton of cmu_ml (metres, y up, 12 fps).

    CMU's upper spine (top of the thorax, where the shoulders attach) plays SMPL's spine3;
    spine1/spine2 lie on the pelvis -> upper spine line and the collars on the upper spine ->
    shoulder lines, in the proportions of the SMPL target bones. CMU's neck (upper neck) and
    head (mid-head) give SMPL's neck -> head direction; SMPL's wrist is CMU's wrist (not the
    hand's end) and SMPL's 'foot' joint (ball of the foot) is CMU's toe. Axes are the same
    (checked on the data: left at +x when facing +z), so the axis matrix is the identity.
    """
    s1, s2 = smpl_spine_fractions()
    c = smpl_collar_fraction()
    same = {
        "pelvis": "pelvis", "left_hip": "left_hip", "right_hip": "right_hip",
        "left_knee": "left_knee", "right_knee": "right_knee",
        "left_ankle": "left_ankle", "right_ankle": "right_ankle",
        "left_foot": "left_toe", "right_foot": "right_toe",
        "spine3": "upper_spine", "neck": "neck", "head": "head",
        "left_shoulder": "left_shoulder", "right_shoulder": "right_shoulder",
        "left_elbow": "left_elbow", "right_elbow": "right_elbow",
        "left_wrist": "left_wrist", "right_wrist": "right_wrist",
    }
    joints = {k: {v: 1.0} for k, v in same.items()}
    joints["spine1"] = _blend("pelvis", "upper_spine", s1)
    joints["spine2"] = _blend("pelvis", "upper_spine", s2)
    joints["left_collar"] = _blend("upper_spine", "left_shoulder", c)
    joints["right_collar"] = _blend("upper_spine", "right_shoulder", c)
    return JointMap(source_joints=CMU_JOINTS, joints=joints, scale=1.0, axes=UP_AXES["y"], fps=CMU_FPS)


def facing_forward_fraction(joints: np.ndarray, fps: float, min_speed: float = 0.8) -> tuple[float, int]:
    """Left/right convention check on SMPL-22 joints (T, 22, 3), y up.

    In frames where the pelvis moves faster than `min_speed` m/s horizontally, the share in
    which the direction the body faces -- computed HumanML3D's way, up x (right - left) over
    hips and shoulders, which assumes the person's left is at +x when facing +z -- points
    along the motion. Mostly forward walking gives ~1; a left/right-swapped (mirrored) source
    gives ~0. Returns (fraction, number of moving frames).
    """
    across = (joints[:, 2] - joints[:, 1]) + (joints[:, 17] - joints[:, 16])  # right - left
    forward = np.cross(np.array([0.0, 1.0, 0.0]), across)
    forward[:, 1] = 0
    vel = np.zeros_like(forward)
    vel[1:-1] = (joints[2:, 0] - joints[:-2, 0]) * fps / 2
    vel[:, 1] = 0
    speed = np.linalg.norm(vel, axis=-1)
    moving = speed > min_speed
    if not moving.any():
        return float("nan"), 0
    dots = (forward[moving] * vel[moving]).sum(-1)
    return float((dots > 0).mean()), int(moving.sum())
