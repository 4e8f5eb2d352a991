"""Network joints -> the motion every output is made from: rigid skeleton fit, then foot cleanup.

    rigid = postprocess(joints, "humanml3d", fps=20, channels=features[:, -4:])   # whole motion
    post = PostProcessor("humanml3d", fps=20)                                     # streaming
    for chunk in chunks: part = post.push(chunk_joints, chunk_channels)          # RigidMotion pieces

Steps: `RigidFitter` (rigid skeleton and rotations, look-ahead `CONFIG_FRAMES` at the start
only), forward kinematics, `FootCleanup` (no look-ahead), then the rotations are solved again
for the cleaned positions (exact: the cleanup keeps every bone length). The pieces of a stream
concatenate to the one-shot result.
"""
from __future__ import annotations

import numpy as np

from t2mgpt.errors import InputError
from t2mgpt.motion.cleanup import CleanupConfig, FootCleanup
from t2mgpt.motion.rigid import RigidFitter, RigidMotion, continuous, forward_kinematics, solve_rotations
from t2mgpt.motion.skeleton import Skeleton, get_skeleton


class PostProcessor:
    """Streaming post-processing; `push` returns the frames that are final as a `RigidMotion`."""

    def __init__(self, skeleton: str | Skeleton, fps: float = 20.0, cleanup: bool = True,
                 config: CleanupConfig = CleanupConfig(), lengths: np.ndarray | None = None):
        self.skeleton = get_skeleton(skeleton)
        self.fps = float(fps)
        self.fitter = RigidFitter(self.skeleton, fps, lengths)
        self.cleaner = FootCleanup(self.skeleton, fps, config) if cleanup else None
        self._channels: list[np.ndarray] = []  # channels of frames the fitter still holds
        self._last: np.ndarray | None = None

    def push(self, joints: np.ndarray, channels: np.ndarray | None = None) -> RigidMotion:
        """Add frames (n, J, 3) and their contact channels (n, 4) (or None)."""
        joints = np.asarray(joints, dtype=np.float64)
        self._channels.append(np.full((len(joints), 4), np.nan) if channels is None
                              else np.asarray(channels, dtype=np.float64).reshape(len(joints), 4))
        return self._finish(*self.fitter.push(joints))

    def finish(self) -> RigidMotion:
        """The frames still held back (only for motions shorter than `CONFIG_FRAMES`)."""
        return self._finish(*self.fitter.finish())

    def _finish(self, root: np.ndarray, rotations: np.ndarray) -> RigidMotion:
        n = len(root)
        pending = np.concatenate(self._channels) if self._channels else np.zeros((0, 4))
        channels, rest = pending[:n], pending[n:]
        self._channels = [rest]
        has_channels = not np.isnan(channels).any()
        contacts = np.clip(channels, 0.0, 1.0) if has_channels else None
        offsets = self.fitter.offsets
        if self.cleaner is not None and n:
            positions = forward_kinematics(rotations, root, offsets, self.skeleton)
            cleaned = self.cleaner.push(positions, channels if has_channels else None)
            rotations = continuous(solve_rotations(cleaned, self.skeleton, offsets), self._last)
            contacts = np.array(self.cleaner.contacts[-n:], dtype=np.float64)
        if n:
            self._last = rotations[-1]
        return RigidMotion(self.skeleton, offsets if offsets is not None else np.zeros((self.skeleton.num_joints, 3)),
                           root, rotations, self.fps, contacts)


def postprocess(joints, skeleton: str | Skeleton | None = None, fps: float = 20.0,
                channels: np.ndarray | None = None, cleanup: bool = True,
                config: CleanupConfig = CleanupConfig(), lengths: np.ndarray | None = None) -> RigidMotion:
    """The rigid, foot-cleaned motion of joint positions (T, J, 3) (see the module docstring).

    `channels`: the model's foot contacts (T, 4) (the last 4 feature channels), if known.
    `lengths`: bone lengths (J,) to use (generated motion: `reference_lengths`); default: the
    motion's own.
    """
    from t2mgpt.motion.validate import validate_joints

    joints = np.asarray(joints.detach().cpu().numpy() if hasattr(joints, "detach") else joints)
    sk = validate_joints(joints, skeleton, min_frames=2)
    if not (np.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be a positive number, got {fps}")
    parents = np.array(sk.parents)
    if np.abs(joints[:, 1:] - joints[:, parents[1:]]).max(initial=0.0) <= 1e-6:
        raise InputError("all joints sit at one point in every frame (every bone has zero length), so there is "
                         "no pose to export; check that this is the right motion file")
    if channels is not None:
        channels = np.asarray(channels, dtype=np.float64)
        if channels.shape != (len(joints), 4) or not np.isfinite(channels).all():
            raise InputError(f"foot contacts must be finite, of shape ({len(joints)}, 4); got {channels.shape}")
    post = PostProcessor(sk, fps, cleanup, config, lengths)
    return concat([post.push(joints, channels), post.finish()])


def concat(parts: list[RigidMotion]) -> RigidMotion:
    """One RigidMotion of consecutive pieces of the same skeleton."""
    parts = [p for p in parts if p.num_frames] or parts[:1]
    first = parts[0]
    contacts = None if any(p.contacts is None for p in parts) else np.concatenate([p.contacts for p in parts])
    return RigidMotion(first.skeleton, parts[-1].offsets, np.concatenate([p.root for p in parts]),
                       np.concatenate([p.rotations for p in parts]), first.fps, contacts)
