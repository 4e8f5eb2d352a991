"""Best-of-k sampling: draw k candidate motions per request, keep the one that fits the text best.

A candidate (codes c, features x) for text t is scored by

- the GPT's own text evidence, log p(c | t) - log p(c | no text), teacher-forced (the pointwise
  mutual information of the codes and the text; the contrast classifier-free guidance samples
  with), and
- with a critic (a `t2mgpt train-evaluator` folder kept in the model folder as `critic/`): the
  cosine of the critic's text and motion embeddings. The critic reads words in order and sees
  the decoded motion, which the GPT's pooled text feature and its codes do not;

each z-scored over the k candidates of a request and summed. Sampling a candidate is one more
row of the same batched decoding, so k = 8 costs about 2-3x one motion on a CPU, not 8x.
Streaming and timelines decode one candidate (their frames go out while they are made).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

CRITIC_DIR = "critic"  # subfolder of a model folder


@torch.no_grad()
def code_evidence(gpt, codes: Sequence[torch.Tensor], text_features: torch.Tensor) -> torch.Tensor:
    """(B,) log p(codes, END | text) - log p(codes, END | no text) under `gpt`, teacher-forced.

    codes: B code sequences (each 1..block_size-1 codes); text_features (B, dim)."""
    B, end = len(codes), gpt.config.vocab.end
    n = torch.tensor([len(c) for c in codes])
    T = int(n.max())
    inputs = torch.zeros(B, T, dtype=torch.long, device=gpt.device)
    target = torch.full((B, T + 1), -1, dtype=torch.long, device=gpt.device)
    for i, c in enumerate(codes):
        inputs[i, :len(c)] = c
        target[i, :len(c)] = c
        target[i, len(c)] = end

    def log_p(text: torch.Tensor) -> torch.Tensor:
        logits = gpt(inputs, text).float().log_softmax(-1)  # (B, 1 + T, V)
        picked = logits.gather(-1, target.clamp(min=0)[..., None])[..., 0]
        return (picked * (target >= 0)).sum(1)  # (B,)

    return log_p(text_features) - log_p(gpt.null_text().expand(B, -1))


@torch.no_grad()
def critic_similarity(critic, texts: Sequence[str], features: Sequence[np.ndarray]) -> torch.Tensor:
    """(B,) cosine of the critic's embeddings of texts[i] and the de-normalised features[i] (T_i, D),
    cut to whole movement units. Motions of one length are embedded together and never padded,
    so a motion's score does not depend on the others'."""
    unit = critic.unit_length
    lens = np.array([max(len(f) // unit, 1) * unit for f in features])
    m = torch.zeros(len(features), critic.config.dim_embed)
    for n in np.unique(lens):
        rows = np.flatnonzero(lens == n)
        x = np.stack([features[i][:n] for i in rows]).astype(np.float32)
        m[torch.as_tensor(rows)] = critic.motion_embedding(x, [int(n)] * len(rows)).float().cpu()
    t = torch.nn.functional.normalize(critic.text_embedding(list(texts)).float().cpu(), dim=-1)
    return (t * torch.nn.functional.normalize(m, dim=-1)).sum(-1)


def _zscore(s: torch.Tensor) -> torch.Tensor:
    """(G, k) -> z-scores within each row (0 where a row is constant)."""
    return (s - s.mean(1, keepdim=True)) / s.std(1, keepdim=True, unbiased=False).clamp(min=1e-6)


def best_of(k: int, gpt, codes: Sequence[torch.Tensor], text_features: torch.Tensor, critic=None,
            texts: Sequence[str] | None = None, features: Sequence[np.ndarray] | None = None) -> list[int]:
    """Index (into the B = G * k rows, k consecutive rows per request) of each request's best candidate."""
    B = len(codes)
    if k == 1:
        return list(range(B))
    score = _zscore(code_evidence(gpt, codes, text_features).cpu().view(-1, k))
    if critic is not None:
        score = score + _zscore(critic_similarity(critic, texts, features).view(-1, k))
    return (score.argmax(1) + torch.arange(0, B, k)).tolist()


def critic_dir(folder: str | Path) -> Path | None:
    """The model folder's critic folder (`critic/`), or None."""
    path = Path(folder) / CRITIC_DIR
    return path if path.is_dir() else None


def read_critic(path: str | Path, feature_dim: int, device="cpu"):
    """A `t2mgpt train-evaluator` folder as the critic of a model making `feature_dim`-d motions."""
    from t2mgpt.errors import CheckpointError
    from t2mgpt.models.contrastive_evaluator import ContrastiveEvaluator, is_evaluator_folder

    path = Path(path).expanduser()
    if not is_evaluator_folder(path):
        raise CheckpointError(f"{path} is not a folder made by `t2mgpt train-evaluator`")
    critic = ContrastiveEvaluator.load(path, device=device).eval()
    if critic.dim_pose != feature_dim:
        raise CheckpointError(f"{path} reads {critic.dim_pose}-d motions but the model makes {feature_dim}-d ones; "
                              f"the critic belongs to another model or dataset")
    return critic


def load_critic(folder: str | Path, feature_dim: int, device="cpu"):
    """The model folder's critic (`critic/`), or None."""
    path = critic_dir(folder)
    return None if path is None else read_critic(path, feature_dim, device)
