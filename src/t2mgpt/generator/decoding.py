"""The open decoding engine of the GPT: text features -> code sequences, one code per step.

`decode` runs every row of a batch in lockstep with the KV cache, each row stopping at its own
END, and lets the caller steer it:

- `prefix` / `fixed`: codes given in advance (a prefix to continue, or codes kept at chosen
  positions, e.g. a keyframe); a row cannot end before its last given code. The leading
  positions given in every row are read in one pass (a prefill), so hooks and the callback
  start after them.
- `min_tokens` / `max_tokens`: length bounds; equal values give an exact length.
- `hooks`: `hook(step: DecodeStep) -> logits | None`, called at every step before the code is
  chosen. A hook returns new logits (e.g. -inf on codes a constraint forbids) or None, and may
  raise `StopDecoding` (keep the codes so far) or any other exception, such as
  `DecodingCancelled` (see `cancel_when`), to abandon the batch. A decoding constraint is one
  hook.
- `callback(step: DecodeStep)`: called after the choice, with the new codes appended (for
  streaming or progress); it may raise the same exceptions.

Per-row seeds: row i draws one uniform per step from its own generator (`sampling.row_uniforms`),
so its codes depend only on its text, its seed and its own given codes and hooks, never on the
other rows. Given codes still consume their step's uniform, so the rest of the row's random
stream does not move.

Where later work plugs in: `Stepper` computes the next-code logits for the rows still decoding.
Classifier-free guidance is a hook holding a second `Stepper` fed an unconditioned text
(`guidance.ClassifierFreeGuidance`: uncond + s * (cond - uncond)). A sliding window of codes
beyond the block_size - 1 context is a `Stepper` that refills its cache with the last codes
when it is full (plus lifting the max_tokens limit in `_check_lengths`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch

from t2mgpt.errors import InputError
from t2mgpt.generator.attention import KVCache
from t2mgpt.generator.sampling import (check_sampling_args, filter_logits, row_seeds, row_uniforms,
                                       sample_with_uniforms)
from t2mgpt.utils.checks import check_guidance_scale


class StopDecoding(Exception):
    """Raised by a hook or callback: end every row now, keeping the codes chosen so far."""


class DecodingCancelled(Exception):
    """Raised (e.g. by `cancel_when`) to abandon a decoding; nothing is returned."""


@dataclass(frozen=True)
class Sampling:
    """How a code is chosen from the logits (temperature, top_k and top_p are unused when greedy).

    guidance_scale: classifier-free guidance (`t2mgpt.generator.guidance`); 1 is off. It only
    means something for a GPT trained with condition dropout (`train-gpt --cond-drop`).
    """

    greedy: bool = False
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    guidance_scale: float = 1.0

    def check(self) -> None:
        if not self.greedy:
            check_sampling_args(self.temperature, self.top_k, self.top_p)
        check_guidance_scale(self.guidance_scale)

    def choose(self, logits: torch.Tensor, u: torch.Tensor | None) -> torch.Tensor:
        """logits (b, V), u (b,) uniforms -> (b,) token ids."""
        if self.greedy:
            return logits.argmax(dim=-1)
        return sample_with_uniforms(filter_logits(logits, self.temperature, self.top_k, self.top_p), u)


@dataclass
class DecodeStep:
    """What a hook (before the choice) or the callback (after it) sees at one step."""

    step: int  # position of the code being chosen, 0-based
    rows: torch.Tensor  # (b,) batch rows still decoding
    codes: torch.Tensor  # (b, step) their codes so far; (b, step + 1) in the callback (END may end a row)
    logits: torch.Tensor  # (b, V) float32 over codes and END (V = nb_code + 1)


Hook = Callable[[DecodeStep], Optional[torch.Tensor]]


def cancel_when(is_cancelled: Callable[[], bool]) -> Hook:
    """A hook that raises `DecodingCancelled` as soon as `is_cancelled()` is true (checked every step)."""

    def hook(state: DecodeStep) -> None:
        if is_cancelled():
            raise DecodingCancelled(f"decoding cancelled at step {state.step}")

    return hook


class Stepper:
    """Next-code logits of the rows still decoding: KV-cached, or recomputing the whole prefix."""

    def __init__(self, model, text: torch.Tensor, max_tokens: int, use_cache: bool):
        c = model.config
        self.model, self.text = model, text  # (B, clip_dim)
        self.cache = None
        if use_cache:
            self.cache = KVCache(2 * c.num_layers, text.size(0), c.n_head, max_tokens, c.embed_dim // c.n_head,
                                 model.device, model.dtype)

    def __call__(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (b, t) so far -> (b, V) float32 logits of code t."""
        m = self.model
        seen = 0 if self.cache is None else self.cache.length  # sequence positions already cached
        if seen == 0:
            x = m._embed(self.text, codes)  # (b, 1 + t, C): text token + codes so far (a prefill)
        else:
            x = m._embed(None, codes[:, seen - 1:], start=seen)  # the codes not cached yet (one, usually)
        return m._logits(m._transform(x, self.cache)[:, -1]).float()

    def keep(self, mask: torch.Tensor) -> None:
        """Drop the rows that ended (mask: bool (b,) of rows to keep)."""
        self.text = self.text[mask]
        if self.cache is not None:
            self.cache.keep(mask)


def decode(model, text_features, sampling: Sampling = Sampling(), *, min_tokens: int = 0,
           max_tokens: int | None = None, seed: int | Sequence[int] | None = None, prefix=None, fixed=None,
           hooks: Sequence[Hook] = (), callback: Callable[[DecodeStep], None] | None = None,
           use_cache: bool = True) -> list[torch.Tensor]:
    """Decode B code sequences (END excluded) for text features (B, clip_dim); see `MotionGPT.generate`.

    prefix: codes every row starts with (1-D), or one 1-D sequence per row.
    fixed: per row, a {position: code} dict (or None), codes kept at those positions.
    """
    c, vocab = model.config, model.config.vocab
    text = model._check_text(text_features)  # (B, clip_dim)
    B = text.size(0)
    max_tokens = _check_lengths(min_tokens, max_tokens, c.block_size - 1)
    sampling.check()
    given = _given_codes(prefix, fixed, B, max_tokens, vocab, model.device)  # (B, max_tokens), -1 = free
    last_given = torch.where(given >= 0, torch.arange(max_tokens, device=given.device), -1).amax(dim=1)
    row_min = torch.clamp(last_given + 1, min=max(int(min_tokens), 1))  # (B,) END is masked before this
    u = None if sampling.greedy else row_uniforms(row_seeds(seed, B), max_tokens, model.device)  # (B, max_tokens)

    out = torch.full((B, max_tokens), vocab.end, dtype=torch.long, device=model.device)
    lengths = torch.full((B,), max_tokens, dtype=torch.long)
    active = torch.arange(B, device=model.device)  # rows (of the full batch) still decoding
    stepper = Stepper(model, text, max_tokens, use_cache)
    if sampling.guidance_scale != 1.0:  # guided logits first: constraint hooks then mask those
        from t2mgpt.generator.guidance import ClassifierFreeGuidance

        hooks = [ClassifierFreeGuidance(model, model.null_text(), sampling.guidance_scale, use_cache), *hooks]
    shared = int((given >= 0).all(dim=0).long().cumprod(0).sum())  # leading positions given in every row
    out[:, :shared] = given[:, :shared]  # prefilled in one pass at the first step, without hooks
    for t in range(shared, max_tokens):
        codes = out[active, :t]
        logits = stepper(codes)  # (b, V)
        logits[t < row_min[active], vocab.end] = float("-inf")
        state = DecodeStep(t, active, codes, logits)
        try:
            idx = _choose(state, hooks, sampling, None if u is None else u[active, t], given[active, t])
        except StopDecoding:
            lengths[active.cpu()] = t
            break
        out[active, t] = idx
        ended = idx == vocab.end
        lengths[active[ended].cpu()] = t
        if callback is not None:
            try:
                callback(DecodeStep(t, active, out[active, :t + 1], state.logits))
            except StopDecoding:
                lengths[active[~ended].cpu()] = t + 1
                break
        if ended.any():
            keep = ~ended
            active = active[keep]
            stepper.keep(keep)
            if active.numel() == 0:
                break
    return [out[i, :n] for i, n in enumerate(lengths.tolist())]


def _choose(state: DecodeStep, hooks: Sequence[Hook], sampling: Sampling, u: torch.Tensor | None,
            given: torch.Tensor) -> torch.Tensor:
    """Run the hooks on the logits, then choose: the given code where there is one, else sample."""
    for hook in hooks:
        new = hook(state)
        if new is not None:
            state.logits = new
    free = given < 0
    dead = free & torch.isneginf(state.logits).all(dim=-1)
    if dead.any():
        row = int(state.rows[dead.nonzero()[0, 0]])
        raise InputError(f"the decoding constraints leave no allowed code for row {row} at step {state.step}")
    idx = sampling.choose(state.logits, u)
    return torch.where(free, idx, given)


def _check_lengths(min_tokens: int, max_tokens: int | None, limit: int) -> int:
    max_tokens = limit if max_tokens is None else int(max_tokens)
    if not 1 <= max_tokens <= limit:
        raise InputError(f"max_tokens must be in [1, {limit}] (got {max_tokens})")
    if not 0 <= min_tokens <= max_tokens:
        raise InputError(f"min_tokens must be in [0, max_tokens={max_tokens}] (got {min_tokens})")
    return max_tokens


def _given_codes(prefix, fixed, batch: int, max_tokens: int, vocab, device) -> torch.Tensor:
    """(B, max_tokens) long: the code given at each position, -1 where the GPT chooses."""
    given = torch.full((batch, max_tokens), -1, dtype=torch.long)
    if prefix is not None:
        rows = [prefix] * batch if torch.as_tensor(prefix[0] if len(prefix) else 0).ndim == 0 else list(prefix)
        if len(rows) != batch:
            raise InputError(f"got {len(rows)} prefixes for {batch} rows; pass one prefix or one per row")
        for r, p in enumerate(rows):
            p = torch.as_tensor(p).reshape(-1)
            if p.numel() > max_tokens:
                raise InputError(f"a prefix of {p.numel()} codes does not fit max_tokens={max_tokens}")
            vocab.check_codes(p, "prefix codes")
            given[r, :p.numel()] = p.long()
    if fixed is not None:
        if len(fixed) != batch:
            raise InputError(f"got {len(fixed)} entries of fixed codes for {batch} rows; pass one dict (or None) per row")
        for r, positions in enumerate(fixed):
            for pos, code in (positions or {}).items():
                if not 0 <= int(pos) < max_tokens:
                    raise InputError(f"fixed code position {pos} is outside [0, {max_tokens}) (max_tokens)")
                vocab.check_codes(torch.as_tensor([code]), "fixed codes")
                given[r, int(pos)] = int(code)
    return given.to(device)
