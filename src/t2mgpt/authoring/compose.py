"""Timelines and continuations: `T2MGPT.compose` and `T2MGPT.continue_motion`."""
from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch

from t2mgpt.authoring.chunked import WINDOW, check_sampling, sample_codes
from t2mgpt.authoring.inputs import GivenMotion, given_motion
from t2mgpt.authoring.splice import blend_forward, place, splice_joints
from t2mgpt.authoring.timeline import Segment, check_timeline, codes_for, segments_of
from t2mgpt.motion import features_to_joints


@torch.inference_mode()
def compose(pipe, timeline, seed: int | None = None, *, path=None, window: int = WINDOW, hooks: Sequence = (),
            **sampling):
    """One continuous motion from [(text, seconds), ...]; see `T2MGPT.compose`."""
    plan, sampling, seed, codes_of = timeline_codes(pipe, timeline, seed, path, window, sampling)
    return motion_from_codes(pipe, " / ".join(t for t, _ in plan), codes_of(hooks=hooks)[0], seed, sampling,
                             segments_of(plan, pipe.config.unit_length))


def compose_stream(pipe, timeline, seed: int | None = None, *, path=None, window: int = WINDOW,
                   hooks: Sequence = (), **sampling):
    """`compose` as a `MotionStream` (`t2mgpt.streaming`); see `T2MGPT.compose_stream`."""
    from t2mgpt.streaming import MotionStream

    plan, sampling, seed, codes_of = timeline_codes(pipe, timeline, seed, path, window, sampling)
    return MotionStream(pipe, " / ".join(t for t, _ in plan),
                        lambda engine, report: codes_of(hooks=[*engine, *hooks], on_codes=report)[0],
                        None if sampling.get("greedy") else seed, cleanup=sampling.get("cleanup", True),
                        segments=segments_of(plan, pipe.config.unit_length))


def timeline_codes(pipe, timeline, seed: int | None, path, window: int, sampling: dict):
    """(plan [(text, n codes)], checked options, seed, codes_of(**engine) -> [codes]) of a timeline."""
    plan = check_timeline(timeline, pipe.seconds_per_token)
    sampling = check_sampling(sampling, pipe)
    seed = pipe._row_seeds(seed, 1)[0]
    features = pipe.text_features([t for t, _ in plan])
    guide = {}
    if path is not None:
        from t2mgpt.authoring.path import path_guide

        guide = path_guide(pipe, path, sum(n for _, n in plan) * pipe.config.unit_length, sampling)
    if not guide and not sampling.get("greedy"):
        guide = dict(at_boundary=lambda rows, b: smoothest(pipe, rows, b))
    return plan, sampling, seed, functools.partial(
        sample_codes, pipe.gpt, [(f, n) for f, (_, n) in zip(features, plan)], seed=seed, sampling=sampling,
        window=window, **guide)


@torch.inference_mode()
def continue_motion(pipe, motion, text: str, seconds: float, seed: int | None = None, *, window: int = WINDOW,
                    hooks: Sequence = (), **sampling):
    """`motion` followed by `seconds` of `text`; see `T2MGPT.continue_motion`."""
    given = given_motion(pipe, motion)
    text = pipe._check_texts(text)[0]
    n = codes_for(seconds, pipe.seconds_per_token)
    sampling = check_sampling(sampling, pipe)
    seed = pipe._row_seeds(seed, 1)[0]
    prefix = given_codes(pipe, given, motion)
    k = min(len(prefix), window)
    new = sample_codes(pipe.gpt, [(pipe.text_features([text])[0], n)], prefix[len(prefix) - k:], seed=seed,
                       sampling=sampling, window=window, hooks=hooks)[0]
    unit = pipe.config.unit_length
    dec = decode_features(pipe, prefix[len(prefix) - k:] + new)  # (unit * (k + n), D)
    tail = blend_forward(dec[k * unit:], given.features[-1] - dec[k * unit - 1])
    features = np.concatenate([given.features, tail])
    raw = world_joints(pipe, features, given)
    segments = given_segments(given, len(given.joints)) + (Segment(text, len(given.joints), len(raw)),)
    return motion_from_codes(pipe, text, prefix + new, seed, sampling, segments, features, raw, given)


# ------------------------------------------------------------------------------ shared helpers


def smoothest(pipe, rows: list[list[int]], boundary: int) -> int:
    """The candidate whose decoded motion moves least at the boundary (code index), relative to
    its own motion elsewhere (`boundary_smoothness`)."""
    from t2mgpt.authoring.smoothness import boundary_smoothness

    frame = boundary * pipe.config.unit_length
    scores = [boundary_smoothness(pipe.decode([torch.tensor(r, dtype=torch.long)])[1][0], [frame])[0] for r in rows]
    return int(np.argmin(scores))


def given_codes(pipe, given: GivenMotion, motion) -> list[int]:
    """The codes of a given motion: its own tokens when it is a generated motion, else encoded."""
    tokens = getattr(motion, "tokens", None)
    unit = pipe.config.unit_length
    if given.ours and tokens is not None and len(tokens) * unit == len(given.features):
        return [int(t) for t in tokens]
    return encode_features(pipe, given.features[len(given.features) % unit:])


def encode_features(pipe, features: np.ndarray) -> list[int]:
    """De-normalised features (T, D) -> T // unit_length codes."""
    x = pipe.normalizer.normalize(torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)))
    return pipe.vqvae.encode(x[None].to(pipe.device))[0].tolist()


def decode_features(pipe, codes: list[int]) -> np.ndarray:
    """Codes -> de-normalised features (unit_length * N, D), the whole sequence at once."""
    return pipe.decode([torch.tensor(codes, dtype=torch.long)])[0][0]


def joints_of(pipe, features: np.ndarray) -> np.ndarray:
    """Features -> joints, computed as the pipeline computes them (torch)."""
    return features_to_joints(torch.from_numpy(features), pipe.skeleton).numpy()


def world_joints(pipe, features: np.ndarray, given: GivenMotion) -> np.ndarray:
    """Raw joints of features that start with the given motion's: the given raw frames kept, the
    rest placed in the given motion's world and spliced to it."""
    joints = joints_of(pipe, features)
    if not given.ours:  # the features were computed from the joints, moved to the origin
        joints = place(joints, given.raw, len(given.features))
    return splice_joints(given.raw, joints)


def rigid_and_joints(pipe, features: np.ndarray, raw: np.ndarray, given: GivenMotion | None, cleanup: bool = True):
    """The rigid skeleton motion (or None) and final joints of raw joints (T, J, 3), the given
    motion's frames first: a generated motion's fit is continued (its frames kept to the bit),
    features are fitted as the pipeline fits them, given joints are kept and only the rest fitted."""
    from t2mgpt.motion.postprocess import PostProcessor, concat

    contacts = features[:, -4:]
    if given is None or given.ours:
        post = pipe.post_processor(cleanup)
        parts = []
        if given is not None and given.rigid is not None:  # continue its own fit from the same state
            T = len(given.joints)
            post.push(given.raw, contacts[:T])
            parts, raw, contacts = [given.rigid], raw[T:], contacts[T:]
        new = concat([post.push(raw, contacts), post.finish()])
        if not parts:
            return new, new.joints.astype(np.float32)
        return concat(parts + [new]), np.concatenate([given.joints, new.joints.astype(given.joints.dtype)])
    post = PostProcessor(pipe.skeleton, pipe.fps, cleanup)  # the given joints' own bone lengths
    fitted = concat([post.push(raw, contacts), post.finish()])
    return None, splice_joints(given.joints, fitted.joints.astype(np.float32))


def given_segments(given: GivenMotion, frames: int) -> tuple[Segment, ...]:
    return given.segments or (Segment(given.text or "(given motion)", 0, frames),)


def motion_from_codes(pipe, text: str, codes: list[int], seed: int, options: dict, segments=(),
                      features: np.ndarray | None = None, raw: np.ndarray | None = None,
                      given: GivenMotion | None = None):
    """A GeneratedMotion of `codes` (decoded here unless its features and raw joints are given)."""
    from t2mgpt.pipeline import GeneratedMotion

    if features is None:
        (features,), (raw,) = pipe.decode([torch.tensor(codes, dtype=torch.long)])
    rigid, joints = rigid_and_joints(pipe, features, raw, given, options.get("cleanup", True))
    return GeneratedMotion(text=text, features=features, joints=joints, fps=pipe.fps,
                           tokens=np.asarray(codes, dtype=np.int64), seed=None if options.get("greedy") else seed,
                           skeleton=pipe.skeleton, model=pipe.name, raw_joints=raw, rigid=rigid,
                           segments=tuple(segments))
