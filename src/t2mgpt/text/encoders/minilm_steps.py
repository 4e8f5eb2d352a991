"""`minilm-sides` with the order of a caption's steps amplified too (`minilm-steps`).

    f(c) = s(c) + STEP_EMPHASIS * (s(c) - s(r(c))),   r(c) = c with its steps reversed

where s is the `minilm-sides` feature and r turns "a person walks forward and then sits down"
into "a person sits down and then walks forward" (steps joined by "then", "and then",
", then"). A caption with one step is its own reversal, so its feature is `minilm-sides`'.
Why: a pooled sentence feature barely sees word order (MiniLM's cosine between a two-step
caption and its reversal is 0.99), so a GPT conditioned on it cannot tell which step comes
first. Same weights and files as `minilm`.
"""
from __future__ import annotations

import re

import torch

from t2mgpt.text.encoders import register
from t2mgpt.text.encoders.minilm_sides import MiniLMSidesEncoder

STEP_EMPHASIS = 4.0
_THEN = re.compile(r"\s*,?\s+(?:and\s+)?then\s+|\s*,\s*then\s+", re.IGNORECASE)
_SUBJECT = re.compile(r"^((?:a|the)\s+(?:person|human|man|woman|figure)|someone|somebody|he|she)\s+", re.IGNORECASE)


def reverse_steps(text: str) -> str:
    """The caption with its "then"-joined steps in reverse order (the subject stays first)."""
    body = text.strip().rstrip(".")
    steps = [s for s in _THEN.split(body) if s]
    if len(steps) < 2:
        return text
    m = _SUBJECT.match(steps[0])
    subject = m.group(1) + " " if m else ""
    steps[0] = steps[0][m.end():] if m else steps[0]
    out = subject + " and then ".join(reversed(steps))
    return out + ("." if text.strip().endswith(".") else "")


@register("minilm-steps", dim=384)
class MiniLMStepsEncoder(MiniLMSidesEncoder):
    def _encode(self, texts: list[str]) -> torch.Tensor:
        revs = [reverse_steps(t) for t in texts]
        multi = [i for i, (t, r) in enumerate(zip(texts, revs)) if r != t]
        e = super()._encode(texts + [revs[i] for i in multi])  # (B + M, dim)
        own = e[:len(texts)]
        own[multi] += STEP_EMPHASIS * (own[multi] - e[len(texts):])
        return own
