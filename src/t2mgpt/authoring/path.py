"""Path following by guided decoding: the pelvis passes near ground-plane waypoints on time.

Codes are sampled in chunks of `CHUNK` codes (0.6 s at 20 fps), `CANDIDATES` candidates per chunk
as one batch; each candidate's codes so far are decoded by the VQ-VAE, its root trajectory is
compared with the path, and every row continues from the best one. The score of a candidate
is the distance of its root from the path's position at the chunk's last frame (the path
interpolated linearly between waypoints, from the origin at time 0) plus its distances to the
waypoints that fall within the decoded frames. Motions start at the origin facing +z.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from t2mgpt.errors import InputError
from t2mgpt.motion import recover_root_rot_pos
from t2mgpt.utils.checks import check_records

CANDIDATES = 16
CHUNK = 3
MAX_WAYPOINTS = 64


def check_path(path, fps: float, frames: int) -> np.ndarray:
    """[(seconds, x, z), ...] -> (W, 3) array of (frame, x, z), checked against the motion length."""
    waypoints = check_records(path, ("seconds", "x", "z"), "path", "waypoint", MAX_WAYPOINTS,
                              example="[(2.0, 0.0, 1.5), (4.0, 1.0, 3.0)]")
    out = []
    for i, p in enumerate(waypoints):
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)
        if not ok or abs(p[1]) > 1e4 or abs(p[2]) > 1e4:
            raise InputError(f"waypoint #{i + 1} must be (seconds, x, z) with finite numbers (metres), got {p!r}")
        frame = float(p[0]) * fps
        if not 0 <= frame <= frames + 1e-6:
            raise InputError(f"waypoint #{i + 1} at {p[0]:g} s is outside the motion (0 to {frames / fps:g} s)")
        out.append((min(frame, frames - 1), float(p[1]), float(p[2])))  # the end time means the last frame
    out.sort()
    return np.array(out)


def path_guide(pipe, path, frames: int, sampling: dict) -> dict:
    """`sample_codes` options (rows, chunk, select) that steer the decoding along `path`."""
    waypoints = check_path(path, pipe.fps, frames)
    rows = 1 if sampling.get("greedy") else CANDIDATES
    return dict(rows=rows, chunk=CHUNK, select=lambda rows_codes: _best(pipe, rows_codes, waypoints))


def root_xz(pipe, codes: list[int]) -> np.ndarray:
    """Codes -> the decoded root trajectory (T, 2) on the ground plane."""
    feats = pipe.decode([torch.tensor(codes, dtype=torch.long)])[0][0]
    return recover_root_rot_pos(torch.from_numpy(feats).double())[1][:, [0, 2]].numpy()


def path_at(waypoints: np.ndarray, frame: float) -> np.ndarray:
    """The path's (x, z) at a frame: linear between waypoints, from the origin at frame 0."""
    f = np.concatenate([[0.0], waypoints[:, 0]])
    xz = np.concatenate([[[0.0, 0.0]], waypoints[:, 1:]])
    return np.array([np.interp(frame, f, xz[:, 0]), np.interp(frame, f, xz[:, 1])])


def path_score(root: np.ndarray, waypoints: np.ndarray) -> float:
    end = len(root) - 1
    score = float(np.linalg.norm(root[end] - path_at(waypoints, end)))
    for frame, x, z in waypoints:
        if frame <= end:
            score += float(np.linalg.norm(root[int(round(frame))] - (x, z)))
    return score


def waypoint_errors(joints: np.ndarray, path, fps: float) -> np.ndarray:
    """Distances (W,) in metres between the pelvis and each waypoint at its time."""
    w = check_path(path, fps, len(joints))
    return np.array([np.linalg.norm(joints[int(round(f)), 0, [0, 2]] - (x, z)) for f, x, z in w])


def _best(pipe, rows_codes: list[list[int]], waypoints: np.ndarray) -> int:
    scores = [path_score(root_xz(pipe, codes), waypoints) for codes in rows_codes]
    return int(np.argmin(scores))
