"""In-betweening: `start`'s frames, a generated gap following a text, then `end`'s poses.

The GPT cannot look ahead, so the gap is chosen by search: `candidates` gaps are sampled as one
batch (each continuing `start`'s codes), each candidate's codes are decoded together with the
first codes of `end` (the decoder then blends the two), and the candidate whose decoded frames
at the junction are closest to `end`'s first frames (normalised features, plus the distance of
`end`'s first root position to `end_position` when one is given) is kept. Then `end`'s own
feature frames replace the decoded ones: `end`'s pelvis-relative poses come back exactly, placed
where the gap leads; the remaining difference is faded into the gap's last frames, and with
`end_position` the gap's root velocities are shifted evenly so that `end` starts there.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from t2mgpt.authoring.chunked import WINDOW, check_sampling, sample_codes
from t2mgpt.authoring.compose import (decode_features, encode_features, given_codes, given_segments, joints_of,
                                      motion_from_codes, world_joints)
from t2mgpt.authoring.inputs import given_motion
from t2mgpt.authoring.splice import blend_backward, blend_forward, place, yaw_fit
from t2mgpt.authoring.timeline import Segment, codes_for
from t2mgpt.errors import InputError
from t2mgpt.motion import recover_root_rot_pos
from t2mgpt.motion.quaternion import qrot

CANDIDATES = 8
END_CODES = 4  # codes of `end` decoded with each candidate (the decoder's reach at the junction)


@torch.inference_mode()
def inbetween(pipe, start, end, text: str, seconds: float, seed: int | None = None, *,
              candidates: int = CANDIDATES, end_position=None, window: int = WINDOW, hooks: Sequence = (),
              **sampling):
    S, E = given_motion(pipe, start, "start motion"), given_motion(pipe, end, "end motion")
    text = pipe._check_texts(text)[0]
    n = codes_for(seconds, pipe.seconds_per_token)
    if not isinstance(candidates, int) or isinstance(candidates, bool) or not 1 <= candidates <= 64:
        raise InputError(f"candidates must be an integer in [1, 64], got {candidates!r}")
    target = _check_position(end_position)
    sampling = check_sampling(sampling, pipe)
    seed = pipe._row_seeds(seed, 1)[0]
    unit = pipe.config.unit_length
    prefix = given_codes(pipe, S, start)
    prefix = prefix[max(0, len(prefix) - window):]
    tail = _head_codes(pipe, E, end)
    gaps = sample_codes(pipe.gpt, [(pipe.text_features([text])[0], n)], prefix, rows=candidates, seed=seed,
                        sampling=sampling, window=window, hooks=hooks)
    k, j0 = len(prefix) * unit, (len(prefix) + n) * unit
    scored = []
    for gap in gaps:
        dec = decode_features(pipe, prefix + gap + tail)
        score = _feature_distance(pipe, dec[j0:j0 + unit], E.features[:unit])
        features = _assemble(S.features, dec, E.features, k, j0)
        if target is not None:
            score += float(np.linalg.norm(_root_xz(pipe, features, S, len(S.features) + j0 - k) - target))
        scored.append((score, gap, features))
    _, gap, features = min(scored, key=lambda x: x[0])
    e0 = len(S.features) + j0 - k  # first frame of `end` in the output features
    if target is not None:
        features = _shift_root(pipe, features, S, len(S.features), e0, target)
    raw = world_joints(pipe, features, S)
    s0 = len(S.joints)
    segments = given_segments(S, s0) + (Segment(text, s0, e0), Segment(E.text or "(end motion)", e0, len(raw)))
    return motion_from_codes(pipe, text, prefix + gap + tail, seed, sampling, segments, features, raw, S)


def _assemble(start: np.ndarray, dec: np.ndarray, end: np.ndarray, k: int, j0: int) -> np.ndarray:
    """start frames, the decoded gap (junctions blended), end frames."""
    gap = blend_forward(dec[k:j0], start[-1] - dec[k - 1]) if k else dec[:j0].copy()
    gap = blend_backward(gap, end[0] - dec[j0])
    return np.concatenate([start, gap, end]).astype(np.float32)


def _head_codes(pipe, E, end) -> list[int]:
    """The first END_CODES codes of `end`: its own tokens when it is a generated motion."""
    unit = pipe.config.unit_length
    tokens = getattr(end, "tokens", None)
    if E.ours and tokens is not None and len(tokens) * unit == len(E.features):
        return [int(t) for t in tokens[:END_CODES]]
    return encode_features(pipe, E.features[:min(len(E.features) // unit, END_CODES) * unit])


def _feature_distance(pipe, a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared distance of normalised features."""
    na, nb = (pipe.normalizer.normalize(torch.from_numpy(np.ascontiguousarray(x))).numpy() for x in (a, b))
    return float(((na - nb) ** 2).mean())


def _check_position(position):
    if position is None:
        return None
    p = np.asarray(position, dtype=np.float64) if isinstance(position, (tuple, list, np.ndarray)) else None
    if p is None or p.shape != (2,) or not np.isfinite(p).all() or np.abs(p).max() > 1e4:
        raise InputError(f"end_position must be (x, z) in metres, got {position!r}")
    return p


def _root_xz(pipe, features: np.ndarray, S, frame: int) -> np.ndarray:
    joints = joints_of(pipe, features[:frame + 1])
    if not S.ours:
        joints = place(joints, S.raw, len(S.features))
    return joints[frame, 0, [0, 2]]


def _shift_root(pipe, features: np.ndarray, S, g0: int, e0: int, target: np.ndarray) -> np.ndarray:
    """Add one constant world velocity to the gap frames [g0, e0) so that frame e0's root is at target."""
    here = _root_xz(pipe, features, S, e0)
    world = np.array([target[0] - here[0], 0.0, target[1] - here[1]]) / max(e0 - g0, 1)
    if not S.ours:  # world -> the features' own frame (undo the placement's rotation)
        R = _placement_rotation(pipe, features, S)
        world = R.T @ world
    r_rot = recover_root_rot_pos(torch.from_numpy(features[:e0]).double())[0][g0:e0]
    step = qrot(r_rot, torch.from_numpy(world).expand(e0 - g0, 3))  # world step -> facing frame
    out = features.copy()
    out[g0:e0, 1] += step[:, 0].numpy()
    out[g0:e0, 2] += step[:, 2].numpy()
    return out


def _placement_rotation(pipe, features, S) -> np.ndarray:
    T = len(S.features)
    joints = joints_of(pipe, features[:T])
    lo = max(0, T - 8)
    return yaw_fit(joints[lo:T].reshape(-1, 3).astype(np.float64), S.raw[lo:T].reshape(-1, 3).astype(np.float64))[0]
