"""`T2MGPT`: text in, 3D human motion out.

    from t2mgpt import T2MGPT
    pipe = T2MGPT.from_pretrained("t2mgpt-cmu-demo")          # a name or a model folder
    motions = pipe(["a person walks forward", "a person jumps"], num_samples=2, seed=0)
    motions[0][1].save("walk_1.mp4")                             # prompt 0, sample 1

All prompts x samples are decoded as one batch by the GPT, then turned into motion by the
VQ-VAE decoder, de-normalised and converted to joint positions.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import torch

from t2mgpt.data.spec import HUMANML3D
from t2mgpt.errors import InputError
from t2mgpt.io.card import ModelCard
from t2mgpt.io.config import ModelConfig, make_config
from t2mgpt.io.folder import load_model_folder, save_model_folder
from t2mgpt.io.lookup import DEFAULT_MODEL, resolve_model
from t2mgpt.io.text_encoder import encoder_path_in_folder, load_text_encoder
from t2mgpt.generator.decoding import DecodeStep, Hook, Sampling
from t2mgpt.generator.gpt import MotionGPT
from t2mgpt.tokenizer.vqvae import VQVAE
from t2mgpt.motion.features import features_to_joints
from t2mgpt.motion.postprocess import PostProcessor, concat
from t2mgpt.motion.rigid import RigidMotion, reference_lengths
from t2mgpt.motion.skeleton import get_skeleton
from t2mgpt.motion.normalize import Normalizer
from t2mgpt.text.language import NonEnglishWarning, english_warning
from t2mgpt.utils.checks import check_candidates
from t2mgpt.utils.config_field import config_field
from t2mgpt.utils.device import resolve_device

if TYPE_CHECKING:
    from t2mgpt.streaming import MotionStream

MAX_BATCH = 64  # motions (prompts x samples) per call, unless the pipeline says otherwise
_MAX_SEED = 2**62


@dataclass
class GeneratedMotion:
    """One generated motion. `features` are de-normalised (T, D); `joints` (T, J, 3) in metres, y up.

    `joints` are those of `rigid` (the rigid-skeleton fit with foot cleanup that every output
    format is made from); `raw_joints` are the network's own (`features_to_joints(features)`).
    """

    text: str
    features: np.ndarray
    joints: np.ndarray
    fps: float
    tokens: np.ndarray  # (N,) code indices; T = N * frames per code
    seed: int | None  # the seed that reproduces this motion (None for greedy decoding)
    skeleton: str = "humanml3d"
    model: str | None = None
    sample: int = 0  # index among the samples of its prompt
    raw_joints: np.ndarray | None = None  # (T, J, 3) before the rigid fit and cleanup
    rigid: RigidMotion | None = None  # root + local rotations of one rigid skeleton; joints = rigid.joints
    segments: tuple = ()  # authored motions: `t2mgpt.authoring.timeline.Segment`s (text, start, end frame)
    candidates: int = 1  # best of how many sampled motions (`t2mgpt.rerank`); `seed` is the winner's

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.num_frames / self.fps

    def save(self, path: str | os.PathLike, fmt: str | None = None, **options) -> Path:
        """Write the motion in any registered format (`t2mgpt.export`), by default the one its
        suffix names: .mp4, .gif, .bvh, .npy (joints; what="features" for features), .json, ...
        Options go to the format's writer (e.g. scale=100.0 for a BVH in cm). Returns the path."""
        from t2mgpt.export import write_motion

        return write_motion(self, path, fmt, **options)

    def to_dict(self) -> dict:
        """Metadata and joints (rounded to mm) as plain Python values (the .json document)."""
        from t2mgpt.export.jsondoc import motion_json

        return motion_json(self)

    def __repr__(self) -> str:
        return (f"GeneratedMotion(text={self.text!r}, frames={self.num_frames}, duration={self.duration:.2f}s, "
                f"fps={self.fps:g}, tokens={len(self.tokens)}, seed={self.seed})")


class T2MGPT:
    """A text-to-motion pipeline: text encoder -> MotionGPT -> VQ-VAE decoder -> joints."""

    def __init__(self, vqvae: VQVAE, gpt: MotionGPT, text_encoder, normalizer: Normalizer | None = None,
                 dataset: str | None = None, card: ModelCard | None = None, *,
                 config: ModelConfig | None = None, name: str | None = None, max_batch: int = MAX_BATCH,
                 critic=None):
        if config is None:
            if normalizer is None:
                if vqvae.config.input_dim != HUMANML3D.feature_dim:
                    raise InputError("pass the normaliser (mean/std) of the training data; only HumanML3D's "
                                     "statistics are shipped")
                normalizer = Normalizer.humanml3d()
            config = make_config(vqvae.config, gpt.config, text_encoder.name, text_encoder.dim, dataset,
                                 text_encoder_path=getattr(text_encoder, "source", None) or None, card=card)
        if normalizer is None or normalizer.dim != config.feature_dim:
            raise InputError(f"the normaliser must have {config.feature_dim} entries (the model's feature size)")
        if text_encoder.dim != config.text_dim:
            raise InputError(f"the text encoder gives {text_encoder.dim}-d features but the GPT takes "
                             f"{config.text_dim}-d ({config.text_encoder}); use the encoder the model was trained with")
        self.config = config
        self.vqvae = vqvae.eval()
        self.gpt = gpt.eval()
        self.text_encoder = text_encoder
        self._recent_text = None  # RecentTextFeatures around text_encoder, made on first use
        self.normalizer = normalizer
        self.name = name or config.card.name
        self.max_batch = int(max_batch)
        self.critic = critic  # text-motion critic for best-of-k (`t2mgpt.rerank`), or None
        self.path: Path | None = None  # the model folder it was loaded from
        self._own_encoder = False  # True when the encoder is shared from the process cache
        self._text_source: tuple[str | None, bool] = (None, False)  # (path, path_is_hint) it was loaded with
        self.to(self.gpt.device)

    # ------------------------------------------------------------------ loading / saving

    @classmethod
    def from_pretrained(cls, path_or_name: str | os.PathLike = DEFAULT_MODEL, device: str | torch.device | None = "auto",
                        text_encoder=None, text_encoder_path: str | os.PathLike | None = None,
                        max_batch: int = MAX_BATCH, quantize: str | None = None) -> "T2MGPT":
        """Load a model folder (path) or a bundled/saved model (name).

        `text_encoder`: an encoder object to use instead of the one the config names (its dim must
        match); `text_encoder_path`: where to find the named encoder's weights (e.g. a CLIP folder).
        `quantize`: None (fp32) or "int8" (see `quantize`; CPU only: device "auto" means the CPU then).
        """
        dev = resolve_device("cpu" if quantize is not None and device == "auto" else device)
        _check_quantize(quantize, dev)
        folder = resolve_model(path_or_name)
        config, vqvae, gpt, normalizer = load_model_folder(folder)
        own = text_encoder is None
        if own:
            hint = text_encoder_path is None
            path = encoder_path_in_folder(config.text_encoder_path, folder) if hint else str(text_encoder_path)
            text_encoder = load_text_encoder(config.text_encoder, config.text_dim, path, dev, path_is_hint=hint)
        name = folder.name if config.card.name in ("", "t2mgpt model") else config.card.name
        from t2mgpt.rerank import load_critic

        pipe = cls(vqvae.to(dev), gpt.to(dev), text_encoder, normalizer, config=config, name=name, max_batch=max_batch,
                   critic=load_critic(folder, config.feature_dim))
        pipe.path = folder
        pipe._own_encoder = own
        pipe._text_source = (path, hint) if own else (None, False)
        return pipe.to(dev).quantize(quantize)

    def quantize(self, mode: str | None = "int8") -> "T2MGPT":
        """Opt-in int8 dynamic quantisation of the GPT's transformer blocks, for low-latency CPU
        decoding (about 2.3x less CPU time at batch 1 for the released size). The output changes
        slightly (docs/benchmarks.md), so it is off by default. CPU only; in place; returns self."""
        _check_quantize(mode, self.device)
        if mode is not None:
            self.gpt.quantize_int8()
        return self

    def save_pretrained(self, path: str | os.PathLike, overwrite: bool = False, card: ModelCard | None = None) -> Path:
        """Write this model as a model folder (atomically). `card` replaces the stored model card."""
        if self.gpt.quantized:
            raise InputError("this pipeline's GPT is int8-quantised; save the fp32 model (load it without "
                             "quantize) instead")
        if card is not None:
            self.config.card = card
        return save_model_folder(path, self.config, self.vqvae, self.gpt, self.normalizer, overwrite=overwrite,
                                 critic=self.critic)

    # ------------------------------------------------------------------ properties

    @property
    def device(self) -> torch.device:
        return self.gpt.device

    fps = config_field("fps", "frames per second of the motions (float)")
    skeleton = config_field("skeleton", "name of the motions' skeleton (str)")
    seconds_per_token = config_field("seconds_per_token", "seconds of motion per code (float)")

    @property
    def max_seconds(self) -> float:
        """Longest motion the model can make (block_size - 1 codes)."""
        return self.config.max_tokens * self.seconds_per_token

    def to(self, device: str | torch.device) -> "T2MGPT":
        dev = resolve_device(device)
        if self.gpt.quantized and dev.type != "cpu":
            raise InputError(f"int8 dynamic quantisation is CPU-only: this pipeline's GPT is int8-quantised and "
                             f"cannot move to {dev}; load the model again without quantize for the GPU")
        self.vqvae.to(dev)
        self.gpt.to(dev)
        if self.critic is not None:
            self.critic.to(dev)
        if str(getattr(self.text_encoder, "device", "")) != str(dev):
            if self._own_encoder:  # shared with other pipelines: get this device's copy instead
                c = self.config
                path, hint = self._text_source
                self.text_encoder = load_text_encoder(c.text_encoder, c.text_dim, path, dev, path_is_hint=hint)
            else:
                self.text_encoder.to(dev)
        return self

    def __repr__(self) -> str:
        c = self.config
        q = f", quantized={self.gpt.quantized}" if self.gpt.quantized else ""
        return (f"T2MGPT(name={self.name!r}, dataset={c.dataset}, text_encoder={c.text_encoder}, "
                f"device={self.device}{q})")

    # ------------------------------------------------------------------ generation

    def tokens_for_seconds(self, seconds: float) -> int:
        """The code count for a duration (nearest multiple of the code length), checked."""
        return self.config.tokens_for_seconds(seconds)

    def text_features(self, texts: list[str]) -> torch.Tensor:
        """(P, dim) float32 text features on the model's device. The last few thousand prompts'
        features are remembered, so a repeated prompt (`t2mgpt serve`, batches) is encoded once."""
        from t2mgpt.text.cache import RecentTextFeatures

        cache = self._recent_text
        if cache is None or cache.encoder is not self.text_encoder:  # new or replaced encoder
            cache = self._recent_text = RecentTextFeatures(self.text_encoder)
        return cache.encode(texts).to(self.device, torch.float32)

    @torch.inference_mode()
    def __call__(self, texts: str | Sequence[str], num_samples: int = 1, seconds: float | None = None,
                 temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                 seed: int | None = None, greedy: bool = False, *, guidance_scale: float | None = None, prefix_codes=None,
                 fixed_codes: Sequence[dict[int, int] | None] | None = None, hooks: Sequence[Hook] = (),
                 callback: Callable[[DecodeStep], None] | None = None,
                 cleanup: bool = True, path=None, candidates: int | None = None) -> list[list[GeneratedMotion]]:
        """Generate `num_samples` motions per prompt. Returns `[prompt][sample]` GeneratedMotions.

        - seconds: exact length, rounded to the nearest code (0.2 s at 20 fps); None lets the
          model end the motion itself (up to `max_seconds`).
        - seed: motion j of prompt i uses seed + i * num_samples + j (its `.seed`), so any one
          motion is reproduced by `pipe([text], seed=motion.seed, candidates=1, ...)`; None draws
          fresh seeds. With best-of-k (below) each motion draws k seeds.
        - temperature / top_k / top_p shape the sampling; greedy=True takes the most likely code
          (then all samples of a prompt are equal).
        - guidance_scale: classifier-free guidance (1 = off; > 1 follows the text more closely, for
          models trained with condition dropout); None takes the model's (`pipe.guidance_scale`).
        - prefix_codes: codes every motion starts with (e.g. another motion's `.tokens`), or one
          sequence per motion (prompt-major, prompts x samples); fixed_codes: per motion a
          {position: code} dict of codes kept in place.
        - hooks: `hook(step) -> logits | None` at every decoding step (constraints; raise
          `StopDecoding` / `DecodingCancelled` to stop); callback: `callback(step)` after each
          step, with the codes so far (streaming, progress). See `t2mgpt.generator.decoding`.
        - cleanup: pin the feet the model puts on the ground (`t2mgpt.motion.cleanup`); the
          rigid skeleton fit always runs.
        - path: [(seconds, x, z), ...] ground-plane waypoints (metres; the motion starts at the
          origin facing +z) the pelvis should pass at those times, by guided decoding.
        - candidates: best-of-k (`t2mgpt.rerank`): each motion is the best of k sampled ones,
          scored by the GPT's text evidence and the model's critic; None takes the model's
          (`pipe.candidates`), 1 is plain sampling. Motion j of prompt i then draws seeds
          seed + (i * num_samples + j) * k + r, r < k, and its `.seed` is the winner's, which
          reproduces it with candidates=1. Hooks and the callback then see the candidates' rows
          (row (i * num_samples + j) * k + r, counted within each batch of at most max_batch
          rows), and `StopDecoding` ends the current batch of candidates.

        Longer `seconds` than `max_seconds`, and `path`, go through `compose` (one segment).
        """
        authored = path is not None or self._too_long(seconds)
        k = n_candidates = self.candidates_used(candidates, seconds, greedy, path)
        texts, seeds = self._plan(texts, num_samples, seed, greedy, candidates=k)
        if authored:
            return self._authored(texts, num_samples, seconds, seeds, path, prefix_codes, fixed_codes, hooks,
                                  callback, temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy,
                                  guidance_scale=guidance_scale, cleanup=cleanup)
        n_tokens = None if seconds is None else self.tokens_for_seconds(seconds)
        features = self.text_features(texts)  # (P, dim)
        features = features.repeat_interleave(num_samples * k, dim=0)  # (P * S * k, dim), prompt-major
        sampling = Sampling(greedy, temperature, top_k, top_p, self._guidance(guidance_scale))
        for name, given in (("prefix_codes", prefix_codes), ("fixed_codes", fixed_codes)):
            if k > 1 and _is_per_motion(given) and len(given) != len(texts) * num_samples:
                raise InputError(f"{name} has {len(given)} entries; give one per motion ({len(texts)} prompt(s) x "
                                 f"{num_samples} sample(s)) or one prefix for all")
        prefix, fixed = _repeat(prefix_codes, k), _repeat(fixed_codes, k)
        if k == 1:
            codes = self._generate_codes(features, n_tokens, seeds, sampling,
                                         prefix=prefix, fixed=fixed, hooks=hooks, callback=callback)
            feats, joints = self.decode(codes)
        else:
            rows = [t for t in texts for _ in range(num_samples * k)]
            codes, feats, joints, seeds = self._best_of(k, rows, features, n_tokens, seeds, sampling, prefix, fixed,
                                                        hooks=hooks, callback=callback)
        out: list[list[GeneratedMotion]] = []
        for i, text in enumerate(texts):
            row = []
            for j in range(num_samples):
                k = i * num_samples + j
                post = self.post_processor(cleanup)
                rigid = concat([post.push(joints[k], feats[k][:, -4:]), post.finish()])
                row.append(GeneratedMotion(
                    text=text, features=feats[k], joints=rigid.joints.astype(np.float32), fps=self.fps,
                    tokens=codes[k].cpu().numpy().astype(np.int64), seed=None if seeds is None else seeds[k],
                    skeleton=self.skeleton, model=self.name, sample=j, raw_joints=joints[k], rigid=rigid,
                    candidates=n_candidates,
                ))
            out.append(row)
        return out

    def stream(self, text: str, seconds: float | None = None, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, seed: int | None = None, greedy: bool = False, *,
               guidance_scale: float | None = None, hooks: Sequence[Hook] = (),
               cleanup: bool = True) -> "MotionStream":
        """One motion as a stream of `MotionChunk`s (frames with their offsets) while it is decoded.

        Same arguments and the same motion as `pipe(text, ..., candidates=1)` for the same seed
        (a stream is one candidate); the concatenated chunks equal that one-shot result. Arguments are checked here, before
        anything runs; closing the stream (or `with pipe.stream(...) as s:`) stops the decoding.
        `cleanup` as in `pipe(...)`. See `t2mgpt.streaming`.
        """
        from t2mgpt.streaming import MotionStream

        if not isinstance(text, str):
            raise InputError(f"stream takes one prompt (a string), got {type(text).__name__}")
        texts, seeds = self._plan(text, 1, seed, greedy)
        n_tokens = None if seconds is None else self.tokens_for_seconds(seconds)
        sampling = Sampling(greedy, temperature, top_k, top_p, self._guidance(guidance_scale))
        sampling.check()
        features = self.text_features(texts)  # (1, dim)

        def run(hooks, report):
            codes = self._generate_codes(features, n_tokens, seeds, sampling, hooks=hooks,
                                         callback=lambda step: report(step.codes[0].tolist()))
            return codes[0].tolist()

        return MotionStream(self, texts[0], run, None if seeds is None else seeds[0], hooks, cleanup)

    def compose_stream(self, timeline, seed: int | None = None, **options) -> "MotionStream":
        """`compose` as a stream of `MotionChunk`s: the same motion for the same seed, its frames
        as soon as their codes are decoded. Same timeline and options as `compose`."""
        from t2mgpt.authoring.compose import compose_stream

        return compose_stream(self, timeline, seed, **options)

    @property
    def candidates(self) -> int:
        """Best-of-k the model samples with by default (config.json `sampling.candidates`; 1: none)."""
        return int(self.config.candidates)

    def candidates_used(self, candidates: int | None = None, seconds: float | None = None, greedy: bool = False,
                        path=None) -> int:
        """The k a call with these options samples each motion's best of: `candidates` (None: the
        model's), or 1 for greedy decoding and for timelines (path, seconds over max_seconds)."""
        k = check_candidates(self.candidates if candidates is None else candidates)
        return 1 if greedy or path is not None or self._too_long(seconds) else k

    def _too_long(self, seconds) -> bool:
        return isinstance(seconds, (int, float)) and seconds > self.max_seconds + 1e-9

    @property
    def guidance_scale(self) -> float:
        """The classifier-free guidance scale the model samples with by default (its config.json)."""
        return float(self.config.guidance_scale)

    def _guidance(self, scale: float | None) -> float:
        return self.guidance_scale if scale is None else scale

    def _plan(self, texts, num_samples: int, seed: int | None, greedy: bool,
              candidates: int = 1) -> tuple[list[str], list[int] | None]:
        """Checked (prompts, one seed per motion and candidate or None for greedy)."""
        texts = self._check_texts(texts)
        for text in texts:  # the text encoders are English-only: say so rather than fail
            message = english_warning(text)
            if message:
                warnings.warn(message, NonEnglishWarning, stacklevel=3)  # at the caller of __call__/stream
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples < 1:
            raise InputError(f"num_samples must be a positive integer, got {num_samples!r}")
        total = len(texts) * num_samples
        if total > self.max_batch:
            raise InputError(f"{len(texts)} prompt(s) x {num_samples} sample(s) = {total} motions is over the limit "
                             f"of {self.max_batch} per call; split the prompts into smaller batches")
        return texts, None if greedy else self._row_seeds(seed, total * candidates)

    def _generate_codes(self, features: torch.Tensor, n_tokens: int | None, seeds: list[int] | None,
                        sampling: Sampling, **engine) -> list[torch.Tensor]:
        """The GPT's code sequences for text features (B, dim); engine: prefix/fixed/hooks/callback."""
        s = sampling
        return self.gpt.generate(features, greedy=s.greedy, temperature=s.temperature, top_k=s.top_k, top_p=s.top_p,
                                 guidance_scale=s.guidance_scale,
                                 min_tokens=n_tokens or 0, max_tokens=n_tokens, seed=seeds, **engine)

    def _best_of(self, k: int, rows: list[str], features: torch.Tensor, n_tokens: int | None, seeds: list[int],
                 sampling: Sampling, prefix, fixed, **engine):
        """Each run of k rows -> its best candidate (`t2mgpt.rerank`), decoded in chunks of at most
        max_batch rows. -> (codes, features, joints, seeds) of the winners."""
        from t2mgpt.rerank import best_of

        per_row = _is_per_motion(prefix)
        step = max(1, self.max_batch // k) * k
        out = ([], [], [], [])
        for a in range(0, len(rows), step):
            b = min(a + step, len(rows))
            codes = self._generate_codes(features[a:b], n_tokens, seeds[a:b], sampling,
                                         prefix=prefix[a:b] if per_row else prefix,
                                         fixed=None if fixed is None else fixed[a:b], **engine)
            feats, joints = self.decode(codes)
            for r in best_of(k, self.gpt, codes, features[a:b], self.critic, rows[a:b], feats):
                for part, x in zip(out, (codes[r], feats[r], joints[r], seeds[a + r])):
                    part.append(x)
        return out

    def _authored(self, texts, num_samples, seconds, seeds, path, *steering, **sampling):
        """Motions longer than the context, or following a path: one-segment timelines."""
        if any(x for x in steering):
            raise InputError("prefix_codes, fixed_codes, hooks and callback work within the model's context "
                             f"({self.max_seconds:g} s) and without a path; use compose or continue_motion")
        if seconds is None:
            if not path:
                raise InputError("give seconds with a path (how long the motion lasts)")
            seconds = max(float(p[0]) for p in path if isinstance(p, (tuple, list)) and p) + self.seconds_per_token
        out = [[None] * num_samples for _ in texts]
        for k in range(len(texts) * num_samples):
            i, j = divmod(k, num_samples)
            m = self.compose([(texts[i], seconds)], seed=None if seeds is None else seeds[k], path=path, **sampling)
            out[i][j] = dataclasses.replace(m, text=texts[i], sample=j, segments=())
        return out

    def compose(self, timeline, seed: int | None = None, **options) -> GeneratedMotion:
        """One continuous motion from a timeline [(text, seconds), ...] (at most 32 segments, 300 s).

        Each segment is decoded with its own text, its exact length and the codes of what came
        before (the last `window`=20 codes once the 50-code context is full), and the whole code
        sequence is decoded by the VQ-VAE at once, so the motion flows across boundaries. The
        result's `segments` give each segment's text and frames. Options: temperature, top_k,
        top_p, greedy, guidance_scale, cleanup, hooks as in `__call__`; path=[(seconds, x, z), ...]; window.
        """
        from t2mgpt.authoring.compose import compose

        return compose(self, timeline, seed, **options)

    def continue_motion(self, motion, text: str, seconds: float = 4.0, seed: int | None = None,
                        **options) -> GeneratedMotion:
        """`motion` (a GeneratedMotion, features (T, D), joints (T, J, 3), or a .npy/.npz/.bvh file)
        followed by `seconds` of `text`. The given frames come back unchanged; the GPT continues
        the given motion's codes and the junction is blended (`t2mgpt.authoring.splice`). Options as
        in `compose` (no path)."""
        from t2mgpt.authoring.compose import continue_motion

        return continue_motion(self, motion, text, seconds, seed, **options)

    def inbetween(self, start, end, text: str, seconds: float = 2.0, seed: int | None = None,
                  **options) -> GeneratedMotion:
        """`start`'s frames, a gap of `seconds` following `text`, then `end`'s poses (motions as in
        `continue_motion`). `candidates` gaps (default 8) are sampled and the one whose decoded end
        flows best into `end` is kept; `end_position=(x, z)` places `end`'s first frame there. Other
        options as in `compose` (no path)."""
        from t2mgpt.authoring.inbetween import inbetween

        return inbetween(self, start, end, text, seconds, seed, **options)

    def post_processor(self, cleanup: bool = True) -> PostProcessor:
        """The streaming post-processing of this model's joints: rigid fit on the dataset's target
        skeleton, then foot cleanup. `push(joints, features[:, -4:])` returns the final frames."""
        return PostProcessor(self.skeleton, self.fps, cleanup, lengths=reference_lengths(get_skeleton(self.skeleton)))

    @torch.inference_mode()
    def decode(self, codes: Sequence[torch.Tensor]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Code sequences -> (de-normalised features (T, D), joints (T, J, 3)) per sequence."""
        feats, joints = [], []
        for x in self.vqvae.decode_each(codes):  # (4N, D) normalised
            x = self.normalizer.denormalize(x.float())
            feats.append(x.cpu().numpy())
            joints.append(features_to_joints(x, self.config.skeleton).cpu().numpy())  # (4N, J, 3)
        return feats, joints

    # ------------------------------------------------------------------ checks

    @staticmethod
    def _check_texts(texts) -> list[str]:
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, (list, tuple)):
            raise InputError(f"texts must be a string or a list of strings, got {type(texts).__name__}")
        if not texts:
            raise InputError("no text given; pass e.g. ['a person walks forward']")
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InputError(f"text #{i} is a {type(t).__name__}, not a string")
            if not t.strip():
                raise InputError(f"text #{i} is empty; describe the motion, e.g. 'a person walks forward'")
        return [t.strip() for t in texts]

    @staticmethod
    def _row_seeds(seed, n: int) -> list[int]:
        if seed is None:
            seed = secrets.randbelow(_MAX_SEED)
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= int(seed) < _MAX_SEED:
            raise InputError(f"seed must be an integer in [0, 2**62), got {seed!r}")
        return [(int(seed) + k) % _MAX_SEED for k in range(n)]  # wraps: every seed given back is valid


def _repeat(per_motion, k: int):
    """Per-motion steering (a list with one entry per motion) repeated for each of k candidates;
    None and a prefix shared by all motions (1-D) pass through."""
    if per_motion is None or k == 1:
        return per_motion
    if isinstance(per_motion, (torch.Tensor, np.ndarray)):
        per_motion = list(per_motion) if per_motion.ndim > 1 else per_motion
    if _is_per_motion(per_motion):
        return [x for x in per_motion for _ in range(k)]
    return per_motion


def _is_per_motion(x) -> bool:
    """A list of per-motion entries (dicts, None, sequences), not one shared 1-D prefix: the rule
    of `decoding._given_codes` (a first element that is a scalar means a shared prefix)."""
    if not isinstance(x, (list, tuple)) or not x:
        return False
    first = x[0]
    return first is None or isinstance(first, dict) or torch.as_tensor(first).ndim > 0


def _check_quantize(mode: str | None, device: torch.device) -> None:
    if mode is None:
        return
    if mode != "int8":
        raise InputError(f"unknown quantisation {mode!r}; the one available is 'int8' (or None for fp32)")
    if torch.device(device).type != "cpu":
        raise InputError(f"int8 dynamic quantisation is CPU-only, but the model is on {device}; use device='cpu' "
                         f"(or --device cpu) with int8, or leave it off on a GPU")
