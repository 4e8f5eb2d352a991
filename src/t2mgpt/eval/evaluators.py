"""One interface for the text-motion evaluators the protocol can use.

Every metric of the protocol is computed on embeddings from a `MotionTextEvaluator`:

    text_embedding(captions)           -> (B, E) float tensor
    motion_embedding(motions, m_lens)  -> (B, E) float tensor

`captions` are `Caption`s (text and `word/POS` tokens) or plain strings (only for evaluators
that read raw text); `motions` are UNNORMALISED features (B, T, D), valid for the first
`m_lens[i]` frames. Each evaluator normalises with its own statistics and zeroes the padding,
which is exactly what the original eval loader fed the evaluator.

Two implementations:
- `GuoEvaluator`: the published evaluator of Guo et al. (`finest.tar` + GloVe + meta mean/std);
- `t2mgpt.models.contrastive_evaluator.ContrastiveEvaluator`: one trained with
  `t2mgpt train-evaluator` (a folder).
`load_evaluator(path, ...)` picks by what `path` is.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np
import torch

from t2mgpt.data.humanml3d import Caption
from t2mgpt.errors import DataError, InputError
from t2mgpt.models.evaluator import normalize_padded


@runtime_checkable
class MotionTextEvaluator(Protocol):
    dim_pose: int  # feature size D the evaluator reads (with foot contacts)
    unit_length: int  # motion lengths are floored to multiples of this

    def text_embedding(self, captions: Sequence[Caption | str]) -> torch.Tensor: ...

    def motion_embedding(self, motions, m_lens) -> torch.Tensor: ...


class GuoEvaluator:
    """The published evaluator of Guo et al. behind the common interface.

    evaluator: `t2mgpt.models.evaluator.Evaluator`; vectorizer: GloVe `WordVectorizer`;
    mean/std: the evaluator's meta statistics (`t2m/Comp_v6_KLD01/meta/mean.npy`, `std.npy`).
    """

    kind = "guo"

    def __init__(self, evaluator, vectorizer, mean, std):
        self.evaluator, self.vectorizer = evaluator, vectorizer
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        c = evaluator.config
        self.dim_pose, self.unit_length = c.dim_pose, c.unit_length
        if self.mean.shape != (c.dim_pose,) or self.std.shape != (c.dim_pose,):
            raise DataError(f"evaluator meta mean/std have shapes {self.mean.shape}, {self.std.shape}, but the "
                            f"evaluator reads {c.dim_pose}-d motions: they belong to another dataset's evaluator")

    @property
    def device(self) -> torch.device:
        return self.evaluator.device

    def to(self, device) -> "GuoEvaluator":
        self.evaluator.to(device)
        return self

    def text_embedding(self, captions: Sequence[Caption | str]) -> torch.Tensor:
        from t2mgpt.eval.word_vectorizer import vectorize_captions

        tokens = []
        for c in captions:
            if not isinstance(c, Caption) or not c.tokens:
                raise InputError("the evaluator of Guo et al. reads 'word/POS' caption tokens (as in HumanML3D "
                                 f"texts/*.txt), not plain text; got {c!r}")
            tokens.append(list(c.tokens))
        word_embs, pos_ohot, cap_lens = vectorize_captions(tokens, self.vectorizer)
        return self.evaluator.text_embedding(word_embs, pos_ohot, cap_lens)

    def motion_embedding(self, motions, m_lens) -> torch.Tensor:
        x = normalize_padded(motions, m_lens, self.mean, self.std, self.device)
        return self.evaluator.motion_embedding(x, torch.as_tensor(np.asarray(m_lens)).long())


# Where the release keeps the evaluator's statistics, relative to the folder of
# checkpoints/t2m/text_mot_match/model/finest.tar: T2M-GPT's eval loader reads the first,
# Guo et al.'s code the second; the third is a <name>/model + <name>/meta layout.
META_CANDIDATES = ("../../VQVAEV3_CB1024_CMT_H1024_NRES3/meta", "../../Comp_v6_KLD01/meta", "../meta")


def _find_meta(path: Path) -> Path | None:
    model_dir = path.resolve().parent
    for rel in META_CANDIDATES:
        cand = Path(os.path.normpath(model_dir / rel))
        if (cand / "mean.npy").is_file() and (cand / "std.npy").is_file():
            return cand
    return None


def load_evaluator(path: str | os.PathLike, glove: str | os.PathLike | None = None,
                   meta: str | os.PathLike | None = None, device="cpu") -> MotionTextEvaluator:
    """A trained-evaluator folder (`t2mgpt train-evaluator`) or a released `finest.tar`.

    For `finest.tar`, `glove` (folder with our_vab_data.npy, our_vab_words.pkl, our_vab_idx.pkl)
    is required; `meta` (mean.npy, std.npy) defaults to the release's layout around
    `checkpoints/t2m/text_mot_match/model/finest.tar`: `../VQVAEV3_CB1024_CMT_H1024_NRES3/meta`
    (what T2M-GPT's eval loader reads), then `../Comp_v6_KLD01/meta`.
    """
    from t2mgpt.utils.device import resolve_device

    path = Path(path)
    dev = resolve_device(device)
    if path.is_dir():
        from t2mgpt.models.contrastive_evaluator import ContrastiveEvaluator, is_evaluator_folder

        if not is_evaluator_folder(path):
            raise DataError(
                f"{path} is a folder but not an evaluator made by `t2mgpt train-evaluator` (no config.json of kind "
                f"'t2mgpt.contrastive_evaluator'); pass that folder or the released text_mot_match/model/finest.tar"
            )
        return ContrastiveEvaluator.load(path, device=dev)
    if not path.is_file():
        raise DataError(
            f"evaluator {path} not found: pass the released finest.tar (checkpoints/t2m/text_mot_match/model/finest.tar "
            f"from T2M-GPT's dataset/prepare/download_extractor.sh) or a folder made by `t2mgpt train-evaluator`"
        )
    if glove is None:
        raise InputError(
            "the released evaluator needs GloVe word vectors: pass --glove DIR, the glove/ folder with our_vab_data.npy, "
            "our_vab_words.pkl and our_vab_idx.pkl (T2M-GPT's dataset/prepare/download_glove.sh)"
        )
    if meta is None:
        meta = _find_meta(path)
        if meta is None:
            raise InputError(
                f"the released evaluator needs its normalisation statistics: pass --evaluator-meta DIR, the folder "
                f"with mean.npy and std.npy (checkpoints/t2m/VQVAEV3_CB1024_CMT_H1024_NRES3/meta/ or "
                f"checkpoints/t2m/Comp_v6_KLD01/meta/ from download_extractor.sh; none found near {path})"
            )
    from t2mgpt.eval.word_vectorizer import WordVectorizer
    from t2mgpt.models.evaluator import Evaluator

    vectorizer = WordVectorizer.from_folder(glove)
    from t2mgpt.motion.normalize import read_stats

    meta = Path(meta)
    mean, std = read_stats(meta / "mean.npy", meta / "std.npy", error=DataError,
                           hint=": --evaluator-meta must be the evaluator's meta folder with mean.npy and std.npy "
                                "(checkpoints/t2m/Comp_v6_KLD01/meta/ from T2M-GPT's dataset/prepare/download_extractor.sh)")
    return GuoEvaluator(Evaluator.from_original(path, device=dev), vectorizer, mean, std)
