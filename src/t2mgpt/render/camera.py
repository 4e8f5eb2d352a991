"""A pinhole camera that frames (or follows) a motion so the person is always in view."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from t2mgpt.motion.skeleton import Skeleton

UP = np.array([0.0, 1.0, 0.0])
SHIN = 0.43  # metres, knee-to-ankle length of the HumanML3D target skeleton


@dataclass
class Camera:
    """Per-frame pinhole cameras sharing one focal length and principal point.

    Pixel coordinates: x to the right, y down, in output-image pixels.
    """

    position: np.ndarray  # (T, 3) world position of the eye
    target: np.ndarray  # (T, 3) the point it looks at
    basis: np.ndarray  # (T, 3, 3) rows: right, up, forward (world axes of the camera)
    focal: float  # pixels
    center: np.ndarray  # (2,) principal point, pixels

    def to_camera(self, points: np.ndarray, t: int) -> np.ndarray:
        """(..., 3) world points at frame t -> (..., 3) camera coords (right, up, depth)."""
        return (points - self.position[t]) @ self.basis[t].T

    def depth_and_plane(self, points: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(..., 3) world points at frame t -> (..., 2) normalised plane coords, (...) depth."""
        cam = self.to_camera(points, t)
        return cam[..., :2] / np.maximum(cam[..., 2:], 1e-6), cam[..., 2]

    def pixels(self, cam: np.ndarray) -> np.ndarray:
        """(..., 3) camera coords (in front of the eye) -> (..., 2) pixels."""
        plane = cam[..., :2] / np.maximum(cam[..., 2:], 1e-6)
        return np.stack([self.center[0] + self.focal * plane[..., 0],
                         self.center[1] - self.focal * plane[..., 1]], axis=-1)

    def project(self, points: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(..., 3) world points at frame t -> (..., 2) pixels, (...) depth along the view axis."""
        cam = self.to_camera(points, t)
        return self.pixels(cam), cam[..., 2]

    def polylines(self, points: np.ndarray, t: int, near: float) -> list[np.ndarray]:
        """Pixels of the world polyline `points` (N, 3), clipped at depth `near`: the parts
        in front of the camera, each (M, 2). Points behind the eye would project to
        meaningless, huge coordinates."""
        cam = self.to_camera(points, t)
        front = cam[:, 2] > near
        edges = np.flatnonzero(np.diff(np.concatenate([[0], front.astype(np.int8), [0]])))
        lines = []
        for start, stop in zip(edges[::2], edges[1::2]):  # runs of points in front
            run = [cam[start:stop]]
            if start > 0:
                run.insert(0, _cut(cam[start - 1], cam[start], near)[None])
            if stop < len(cam):
                run.append(_cut(cam[stop], cam[stop - 1], near)[None])
            lines.append(self.pixels(np.concatenate(run)))
        return lines

    def scaled(self, k: float) -> "Camera":
        """The same view for an image k times larger (supersampling)."""
        return Camera(self.position, self.target, self.basis, self.focal * k, self.center * k)


def _cut(behind: np.ndarray, front: np.ndarray, near: float) -> np.ndarray:
    """The point of segment behind->front (camera coords) at depth `near`."""
    w = (near - behind[2]) / (front[2] - behind[2])
    return behind + w * (front - behind)


def body_unit(joints: np.ndarray, skeleton: Skeleton) -> float:
    """Size of the body relative to the HumanML3D skeleton (1 for metres, ~1000 for mm)."""
    knee, ankle = skeleton.leg_joints
    shin = float(np.median(np.linalg.norm(joints[:, knee] - joints[:, ankle], axis=-1)))
    if shin > 1e-6:
        return shin / SHIN
    extent = float(np.ptp(joints.reshape(-1, 3), axis=0).max())
    return extent / 1.7 if extent > 1e-6 else 1.0


def facing(joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Horizontal unit vector the person faces in the first frame (HumanML3D convention)."""
    r_hip, l_hip, r_sh, l_sh = skeleton.face_joints
    across = joints[0, r_hip] - joints[0, l_hip] + joints[0, r_sh] - joints[0, l_sh]
    forward = np.cross(UP, across)
    forward[1] = 0.0
    n = np.linalg.norm(forward)
    return forward / n if n > 1e-8 else np.array([0.0, 0.0, 1.0])


def smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 with edge padding."""
    if sigma <= 0 or len(x) < 2:
        return x.copy()
    radius = int(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.concatenate([np.repeat(x[:1], radius, 0), x, np.repeat(x[-1:], radius, 0)])
    return np.stack([np.convolve(padded[:, i], k, mode="valid") for i in range(x.shape[1])], 1)


def view_direction(forward: np.ndarray, azimuth: float, elevation: float) -> np.ndarray:
    """Unit vector from the target to the eye."""
    a, e = np.radians(azimuth), np.radians(elevation)
    c, s = np.cos(a), np.sin(a)
    horizontal = np.array([c * forward[0] + s * forward[2], 0.0, -s * forward[0] + c * forward[2]])
    return np.cos(e) * horizontal + np.sin(e) * UP


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(T, 3) eyes and targets -> (T, 3, 3) camera bases (rows right, up, forward)."""
    fwd = target - eye
    fwd /= np.linalg.norm(fwd, axis=-1, keepdims=True)
    right = np.cross(fwd, UP)
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    up = np.cross(right, fwd)
    return np.stack([right, up, fwd], axis=1)


def choose_mode(joints: np.ndarray, unit: float, mode: str) -> str:
    """'auto': a fixed camera unless the root travels more than ~2 m, then follow it."""
    if mode != "auto":
        return mode
    travel = np.ptp(joints[:, 0, [0, 2]], axis=0).max()
    return "fixed" if travel <= 2.0 * unit else "follow"


def plan_camera(
    joints: np.ndarray,  # (T, J, 3), floor at y = 0
    skeleton: Skeleton,
    viewport: tuple[float, float, float, float],  # x0, y0, x1, y1 pixels the body must fit in
    mode: str = "auto",
    azimuth: float = 35.0,
    elevation: float = 18.0,
    fps: float = 20.0,
    margin: float = 0.06,
) -> tuple[Camera, str]:
    """Cameras for every frame and the mode used ('fixed' or 'follow')."""
    T = joints.shape[0]
    unit = body_unit(joints, skeleton)
    mode = choose_mode(joints, unit, mode)
    height = float(np.median(joints[..., 1].max(axis=1)))  # typical top of the body
    look_y = max(0.5 * height, 0.3 * unit)
    if mode == "fixed":
        lo, hi = joints.reshape(-1, 3).min(0), joints.reshape(-1, 3).max(0)
        target = np.repeat([[0.5 * (lo[0] + hi[0]), look_y, 0.5 * (lo[2] + hi[2])]], T, axis=0)
        reach = 0.5 * float(np.hypot(hi[0] - lo[0], hi[2] - lo[2]))
        distance = max(4.0 * unit, 2.2 * reach + 2.0 * unit)
    else:
        root = smooth(joints[:, 0, [0, 2]].astype(np.float64), sigma=0.6 * fps)
        target = np.stack([root[:, 0], np.full(T, look_y), root[:, 1]], axis=1)
        distance = 4.5 * unit
    eye = target + distance * view_direction(facing(joints, skeleton), azimuth, elevation)
    cam = Camera(eye, target, look_at(eye, target), focal=1.0, center=np.zeros(2))

    # Fit everything the viewer must see (joints and a patch of floor around the root)
    # into the viewport: one focal length and principal point for all frames.
    ring = 0.45 * unit * np.array([[1, 0, 0], [-1, 0, 0], [0, 0, 1], [0, 0, -1]], dtype=np.float64)
    feet = joints[:, :1] * np.array([1.0, 0.0, 1.0]) + ring  # (T, 4, 3)
    pts = np.concatenate([joints, feet], axis=1).astype(np.float64)
    plane = np.concatenate([cam.depth_and_plane(pts[t], t)[0] for t in range(T)])
    lo, hi = plane.min(0), plane.max(0)
    span = np.maximum(hi - lo, 1e-6)
    x0, y0, x1, y1 = viewport
    w, h = (x1 - x0) * (1 - 2 * margin), (y1 - y0) * (1 - 2 * margin)
    focal = float(min(w / span[0], h / span[1]))
    mid = 0.5 * (lo + hi)
    center = np.array([0.5 * (x0 + x1) - focal * mid[0], 0.5 * (y0 + y1) + focal * mid[1]])
    return Camera(eye, target, cam.basis, focal, center), mode
