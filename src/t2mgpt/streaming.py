"""Streaming generation: motion frames while the GPT is still writing codes.

    with pipe.stream("a person walks forward", seconds=10, seed=0) as stream:
        for chunk in stream:
            play(chunk.joints)          # (n, J, 3): frames chunk.start .. chunk.end - 1

The GPT decodes in a worker thread, by the same call as `pipe(...)` (or `pipe.compose(...)` for
`pipe.compose_stream`), so the codes are those of the one-shot result for the same seed. The VQ-VAE decoder turns codes into frames as soon as
every code a frame reads is known: the decoder's receptive field
(`t2mgpt.tokenizer.receptive_field`, 22 codes on either side for the paper's decoder, at most
K ahead for one built with `decoder_lookahead=K`) is the look-ahead, and each window is decoded with all the context its frames read, so they equal the
one-shot decode. Joints continue the root's integrated rotation and position from chunk to
chunk. Concatenated, the chunks are the one-shot motion (to float rounding, far below 1 mm).

Then the post-processing every output is made from runs online (`pipe.post_processor`:
the rigid skeleton fit, whose look-ahead is `CONFIG_FRAMES` frames at the start only, and the foot
cleanup, with none): `push(joints, contacts)` returns the frames it has made final as a
`RigidMotion`, `finish()` the rest. Any stage with that interface and a bounded look-ahead fits.

Each `next()` decodes every frame that is ready by then, so chunks grow when the reader is
slower than the GPT. Closing the stream (or leaving its `with` block, or dropping it) cancels
the decoding at its next step.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from t2mgpt.generator.decoding import DecodingCancelled, Hook, cancel_when
from t2mgpt.motion.features import features_to_joints
from t2mgpt.motion.postprocess import PostProcessor, concat
from t2mgpt.motion.rigid import RigidMotion
from t2mgpt.motion.skeleton import get_skeleton
from t2mgpt.tokenizer.receptive_field import receptive_field
from t2mgpt.tokenizer.vqvae import VQVAE


@dataclass
class MotionChunk:
    """Frames start .. end - 1 of a streamed motion."""

    start: int
    features: np.ndarray  # (n, D) de-normalised
    joints: np.ndarray  # (n, J, 3) metres, y up: the rigid fit with foot cleanup (as GeneratedMotion.joints)
    fps: float
    final: bool  # the last chunk of the motion
    raw_joints: np.ndarray | None = None  # (n, J, 3) the network's own, before post-processing
    rigid: RigidMotion | None = None  # root + local rotations of these frames

    @property
    def end(self) -> int:
        return self.start + len(self.joints)


class CodeDecoder:
    """Codes arriving in order -> the normalised frames the one-shot `vqvae.decode` gives them."""

    def __init__(self, vqvae: VQVAE):
        self.vqvae = vqvae
        self.field = receptive_field(vqvae.decoder, vqvae.config.downsample)
        self.codes: list[int] = []
        self.done = 0  # frames returned so far

    @torch.inference_mode()
    def push(self, codes: list[int], final: bool = False) -> torch.Tensor:
        """Add codes; return the frames (n, D) that no later code can change (all when final)."""
        self.codes.extend(codes)
        n, f = len(self.codes), self.field.frames_per_code
        ready = n * f if final else self.field.frames_ready(n)
        if ready <= self.done:
            return torch.zeros(0, self.vqvae.config.input_dim)
        lo, hi = self.field.codes_read(self.done, ready - 1)
        lo, hi = max(lo, 0), min(hi, n - 1)  # the sequence's true ends: zero padding as in one shot
        window = torch.tensor(self.codes[lo:hi + 1], device=self.vqvae.quantizer.codebook.device)
        frames = self.vqvae.decode(window[None])[0]  # (f * (hi - lo + 1), D)
        out = frames[self.done - lo * f:ready - lo * f]
        self.done = ready
        return out


class JointsStream:
    """De-normalised feature chunks -> joints, the root continued from the chunk before."""

    def __init__(self, skeleton: str):
        self.skeleton = skeleton
        self._start = None  # (features of the last frame, its root angle, its root position)

    def push(self, features: torch.Tensor) -> torch.Tensor:  # (n, D) -> (n, J, 3)
        if len(features) == 0:
            return features.new_zeros(0, get_skeleton(self.skeleton).num_joints, 3)
        joints = features_to_joints(features, self.skeleton, self._start)
        turned = features[:-1, 0].sum()  # the root angle is the sum of the earlier frames' y-velocities
        if self._start is not None:
            before, angle, _ = self._start
            turned = turned + angle + before[0]
        self._start = (features[-1], turned, joints[-1, 0])
        return joints


_DONE = object()
# generate(hooks, report) -> all codes: runs the GPT with the decoding hooks, calling report(codes so
# far) as they grow (END may end the last report), e.g. from the engine's per-step callback
CodeSource = Callable[[list[Hook], Callable[[list[int]], None]], list[int]]


class MotionStream:
    """An iterator of `MotionChunk`s; see the module docstring. Made by `T2MGPT.stream`."""

    def __init__(self, pipe, text: str, generate: CodeSource, seed: int | None, hooks: Sequence[Hook] = (),
                 cleanup: bool = True, segments: tuple = ()):
        self.text, self.seed, self.fps = text, seed, pipe.fps
        self.skeleton, self.model, self.segments = pipe.skeleton, pipe.name, segments
        self._parts: list[MotionChunk] = []  # handed out
        self.normalizer = pipe.normalizer
        self.decoder = CodeDecoder(pipe.vqvae)
        self.joints = JointsStream(pipe.skeleton)
        self.post = pipe.post_processor(cleanup)  # online, bounded look-ahead (module docstring)
        self._held: list[tuple[np.ndarray, np.ndarray]] = []  # (features, raw joints) the post-processor holds
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._finished = False
        self._complete = False  # the final chunk was handed out
        self._frames = 0  # frames handed out
        # the worker holds no reference to the stream, so dropping the stream stops it (__del__)
        self._thread = threading.Thread(target=_decode, args=(generate, list(hooks), self._stop, self._queue),
                                        name="t2mgpt-stream", daemon=True)
        self._thread.start()

    @property
    def codes(self) -> np.ndarray:
        """The codes decoded so far (all of them once the stream is finished)."""
        return np.asarray(self.decoder.codes, dtype=np.int64)

    # ------------------------------------------------------------------ reader side
    # ------------------------------------------------------------------ reader side

    def __iter__(self) -> "MotionStream":
        return self

    def __next__(self) -> MotionChunk:
        while not self._finished:
            latest, final = None, False
            for item in self._drain():
                if isinstance(item, BaseException):
                    self._finished = True
                    raise item
                if item is _DONE:
                    final = True
                else:
                    latest = item
            chunk = self._chunk(latest, final)
            if chunk is not None:
                return chunk
        raise StopIteration

    def _drain(self) -> list:
        items = [self._queue.get()]  # wait for one, then take whatever else is there
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    def _chunk(self, latest: list[int] | None, final: bool) -> MotionChunk | None:
        new = [] if latest is None else latest[len(self.decoder.codes):]
        new = [c for c in new if c < self.decoder.vqvae.config.nb_code]  # END ends the row
        x = self.decoder.push(new, final)  # (n, D) normalised
        if len(x) == 0 and not final:  # no frame is final yet: wait for more codes
            return None
        with torch.inference_mode():
            features = self.normalizer.denormalize(x.float())
            joints = self.joints.push(features)
        features, raw = features.cpu().numpy(), joints.cpu().numpy()
        rigid = self._post(features, raw, final)
        n = rigid.num_frames
        if final:
            self._finished = self._complete = True
        elif n == 0:
            return None
        held_f, held_r = (np.concatenate(x) for x in zip(*self._held))
        self._held = [(held_f[n:], held_r[n:])]
        chunk = MotionChunk(self._frames, held_f[:n], rigid.joints.astype(np.float32), self.fps, final,
                            raw_joints=held_r[:n], rigid=rigid)
        self._frames = chunk.end
        self._parts.append(chunk)
        return chunk

    def _post(self, features: np.ndarray, raw: np.ndarray, final: bool) -> RigidMotion:
        """The frames the post-processor has made final (all of them when final)."""
        self._held.append((features, raw))
        parts = [self.post.push(raw, features[:, -4:])] if len(raw) else []
        if final:
            parts.append(self.post.finish())
        if not parts:
            return _empty(self.post)
        return concat(parts)

    def motion(self, sample: int = 0):
        """The whole motion as a `GeneratedMotion` (what `pipe(...)` returns), once the stream has ended."""
        from t2mgpt.pipeline import GeneratedMotion

        if not self._complete:
            raise RuntimeError("the stream has not been read to its end")
        rigid = concat([c.rigid for c in self._parts])
        return GeneratedMotion(text=self.text, features=np.concatenate([c.features for c in self._parts]),
                               joints=rigid.joints.astype(np.float32), fps=self.fps, tokens=self.codes,
                               seed=self.seed, skeleton=self.skeleton, model=self.model, sample=sample,
                               raw_joints=np.concatenate([c.raw_joints for c in self._parts]), rigid=rigid,
                               segments=self.segments)

    def close(self) -> None:
        """Stop the decoding (at its next step) and wait for the worker to end."""
        self._stop.set()
        self._finished = True
        if self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> "MotionStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self._stop.set()


def _decode(generate: CodeSource, hooks: list[Hook], stop: threading.Event, out: queue.Queue) -> None:
    """The worker thread: run the GPT, putting the codes so far on `out` after every step."""
    try:
        with torch.inference_mode():
            codes = generate([cancel_when(stop.is_set), *hooks], out.put)
        out.put(list(codes))
        out.put(_DONE)
    except DecodingCancelled:
        out.put(_DONE)
    except BaseException as e:  # handed to the reader, who raises it
        out.put(e)


def _empty(post: PostProcessor) -> RigidMotion:
    J = post.skeleton.num_joints
    return RigidMotion(post.skeleton, np.zeros((J, 3)), np.zeros((0, 3)), np.zeros((0, J, 4)), post.fps)
