"""Classifier-free guidance as a decoding hook: logits = uncond + scale * (cond - uncond).

The unconditioned logits come from a second pass of the same GPT over the same codes, with
`null_text` in place of each row's text feature (with its own KV cache, dropping rows as the
engine does). `train-gpt --cond-drop p` trains that input: a share p of the samples get the
zero feature (`MotionGPT.null_text`), which is what `Sampling(guidance_scale=s)` passes here.
The released T2M-GPT was trained without it, so guidance means little for its checkpoints.
Put this hook before constraint hooks, which then mask the guided logits.
"""
from __future__ import annotations

import torch

from t2mgpt.generator.decoding import DecodeStep, Stepper


class ClassifierFreeGuidance:
    def __init__(self, model, null_text: torch.Tensor, scale: float, use_cache: bool = True):
        self.model, self.scale, self.use_cache = model, float(scale), use_cache
        self.null_text = model._check_text(null_text)[:1]  # (1, clip_dim)
        self.stepper: Stepper | None = None
        self.rows: torch.Tensor | None = None  # batch rows the second pass is tracking
        self.last_step = -1

    def __call__(self, state: DecodeStep) -> torch.Tensor:
        if self.stepper is None or state.step <= self.last_step:  # a new decoding
            text = self.null_text.expand(len(state.rows), -1)
            self.stepper = Stepper(self.model, text, self.model.config.block_size - 1, self.use_cache)
            self.rows = state.rows
        elif len(state.rows) != len(self.rows):
            keep = torch.isin(self.rows, state.rows)
            self.stepper.keep(keep)
            self.rows = self.rows[keep]
        self.last_step = state.step
        uncond = self.stepper(state.codes)  # (b, V)
        cond = state.logits
        guided = uncond + self.scale * (cond - uncond)
        return guided.masked_fill(torch.isneginf(cond), float("-inf"))  # keep what the engine masked (END)
