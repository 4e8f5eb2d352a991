"""all-MiniLM-L6-v2 with the left/right direction of each caption amplified (`minilm-sides`).

    f(c) = e(c) + SIDE_EMPHASIS * (e(c) - e(c')),   c' = c with its sides swapped

where e is MiniLM's feature and c' is `prepare.text.swap_left_right(c)` ('left' <-> 'right',
'clockwise' <-> 'counterclockwise'). A caption without such words is its own swap, so its
feature is MiniLM's. Why: a pooled sentence feature keeps the side word only faintly (cosine
0.98 between "a person kicks with the left leg" and "... right leg"), and a GPT conditioned on
it learns the sides slowly; here the two features are 5x further apart. The bundled demo model
uses it (docs/prompt_suite.md, session 6). Same weights and files as `minilm`.
"""
from __future__ import annotations

import torch

from t2mgpt.text.encoders import register
from t2mgpt.text.encoders.minilm import MiniLMEncoder

SIDE_EMPHASIS = 2.0


@register("minilm-sides", dim=384)
class MiniLMSidesEncoder(MiniLMEncoder):
    def _encode(self, texts: list[str]) -> torch.Tensor:
        from t2mgpt.prepare.text import swap_left_right

        swaps = [swap_left_right(t) for t in texts]
        sided = [i for i, (t, s) in enumerate(zip(texts, swaps)) if s != t]  # the others are their own swap
        e = super()._encode(texts + [swaps[i] for i in sided])  # (B + S, dim), one batch
        own = e[:len(texts)]
        own[sided] += SIDE_EMPHASIS * (own[sided] - e[len(texts):])
        return own
