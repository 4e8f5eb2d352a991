"""Physical plausibility of foot contact: foot skating and floor penetration.

`skating_ratio` is the foot-skating ratio of GMD (Karunratanakul et al., ICCV 2023), also
used by OmniControl: the share of frame pairs in which a foot (the HumanML3D toe joints 10 and
11) is within 5 cm of the floor in both frames and slides faster than 0.5 m/s on the floor
plane (2.5 cm per frame at 20 fps), in that frame and on average over a 5-frame window.
`floor_penetration` reports how far the feet go below the floor (y = 0).
"""
from __future__ import annotations

import numpy as np

from t2mgpt.motion.skeleton import Skeleton, get_skeleton

HEIGHT = 0.05  # m
SPEED = 0.5  # m/s
WINDOW = 5  # frames


def skating_ratio(joints: np.ndarray, skeleton: str | Skeleton = "humanml3d", fps: float = 20.0,
                  floor: float = 0.0) -> float:
    """GMD's foot-skating ratio of one motion (T, J, 3) (see the module docstring)."""
    from scipy.ndimage import uniform_filter1d

    sk = get_skeleton(skeleton)
    feet = np.asarray(joints, dtype=np.float64)[:, [sk.foot_left[1], sk.foot_right[1]]]  # (T, 2, 3)
    if len(feet) < 2:
        return 0.0
    speed = np.linalg.norm(np.diff(feet[..., [0, 2]], axis=0), axis=-1) * fps  # (T-1, 2)
    mean_speed = uniform_filter1d(speed, size=WINDOW, axis=0, mode="constant", origin=0)
    low = feet[..., 1] - floor < HEIGHT
    contact = low[:-1] & low[1:]
    skating = contact & (speed > SPEED) & (mean_speed > SPEED)
    return float(skating.any(-1).mean())


def floor_penetration(joints: np.ndarray, skeleton: str | Skeleton = "humanml3d",
                      floor: float = 0.0) -> dict[str, float]:
    """Depth (m) of the lowest foot joint below the floor: mean over frames, max, and the share
    of frames more than 1 cm below."""
    sk = get_skeleton(skeleton)
    feet = np.asarray(joints, dtype=np.float64)[:, [*sk.foot_left, *sk.foot_right], 1]
    depth = np.maximum(0.0, floor - feet.min(-1))
    return {"mean": float(depth.mean()), "max": float(depth.max()), "frames": float((depth > 0.01).mean())}
