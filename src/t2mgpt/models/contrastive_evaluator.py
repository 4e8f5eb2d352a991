"""A text-motion evaluator trained contrastively, for datasets without a released one.

Motion side as Guo et al. (CVPR 2022): a movement conv encoder over the features without
foot contacts (4 frames -> 1 movement unit) and a BiGRU over the movement units, floored
lengths // 4. Text side: a BiGRU over word embeddings learned from scratch on a vocabulary
of the training captions (+ `<unk>`), so R-precision is not measured in the generator's own
text space (MiniLM / CLIP).

Both sides are projected to unit vectors; training uses the CLIP-style symmetric InfoNCE
loss with a learned temperature. On unit vectors, euclidean ranking (what R-precision uses)
equals cosine ranking (what the loss trains), and every distance lies in [0, 2].

Saved as a folder: config.json, evaluator.safetensors, vocab.json, mean.npy, std.npy
(+ metrics.json written by the trainer).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from t2mgpt.data.spec import HUMANML3D
from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.models.evaluator import (N_FOOT_CONTACTS, BiGRUEncoder, MotionEncoderBiGRUCo, MovementConvEncoder,
                                     normalize_padded)
from t2mgpt.utils.checks import check_positive_ints
from t2mgpt.utils.config_field import config_field

KIND = "t2mgpt.contrastive_evaluator"
PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokenize(text: str) -> list[str]:
    """Lower-case words and numbers of a caption ('A man walks.' -> ['a', 'man', 'walks'])."""
    return _WORD.findall(text.lower())


@dataclass
class ContrastiveConfig:
    dim_pose: int = HUMANML3D.feature_dim  # motion features, foot contacts included (they are dropped inside)
    vocab_size: int = 2  # <pad>, <unk> + training words
    dim_word: int = 128
    dim_text_hidden: int = 128
    dim_movement_enc_hidden: int = 128
    dim_movement_latent: int = 128
    dim_motion_hidden: int = 128
    dim_embed: int = 128  # co-embedding; small so FID covariances stay well-posed on small test splits
    max_text_len: int = 32  # words kept per caption
    unit_length: int = 4  # frames per movement unit (fixed by the conv encoder)
    init_temperature: float = 0.07

    def __post_init__(self):
        check_positive_ints(self, [f.name for f in dataclasses.fields(self) if f.name != "init_temperature"],
                            "ContrastiveConfig.")
        if self.dim_pose <= N_FOOT_CONTACTS:
            raise InputError(f"dim_pose must exceed the {N_FOOT_CONTACTS} foot-contact features, got {self.dim_pose}")
        if self.unit_length != 4:
            raise InputError("unit_length must be 4: the movement encoder downsamples by 4")
        if not 0 < self.init_temperature < 1:
            raise InputError(f"init_temperature must be in (0, 1), got {self.init_temperature}")


class Vocabulary:
    """word <-> id; 0 is padding, 1 is `<unk>` (unknown words)."""

    def __init__(self, words: Sequence[str]):
        words = list(words)
        if words[:2] != [PAD, UNK] or len(set(words)) != len(words):
            raise InputError(f"a vocabulary starts with {PAD!r}, {UNK!r} and has no duplicates")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}

    @classmethod
    def build(cls, texts: Sequence[str], min_count: int = 1) -> "Vocabulary":
        counts: dict[str, int] = {}
        for t in texts:
            for w in tokenize(t):
                counts[w] = counts.get(w, 0) + 1
        kept = sorted(w for w, n in counts.items() if n >= min_count)
        return cls([PAD, UNK, *kept])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str, max_len: int) -> list[int]:
        ids = [self.index.get(w, 1) for w in tokenize(text)[:max_len]]
        return ids or [1]  # an empty caption reads as <unk>

    def batch(self, texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """-> ids (B, L) long, 0-padded, and lengths (B,)."""
        rows = [self.encode(t, max_len) for t in texts]
        ids = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
        return ids, torch.tensor([len(r) for r in rows])


class WordTextEncoder(BiGRUEncoder):
    """Word ids (B, L) -> (B, out): learned word embeddings, BiGRU, MLP (as Guo et al.'s text side)."""

    def __init__(self, vocab_size: int, word_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.word_emb = nn.Embedding(vocab_size, word_size, padding_idx=0)
        self._build_bigru(word_size, hidden_size, output_size)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self._encode(self.word_emb(ids), lengths)


class ContrastiveEvaluator(nn.Module):
    """Text and motion encoders into one space of unit vectors (see module docstring)."""

    kind = "contrastive"

    def __init__(self, config: ContrastiveConfig, vocab: Vocabulary, mean, std):
        super().__init__()
        self.config = c = config
        if len(vocab) != c.vocab_size:
            raise InputError(f"vocabulary has {len(vocab)} words, config says {c.vocab_size}")
        self.vocab = vocab
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        if self.mean.shape != (c.dim_pose,) or self.std.shape != (c.dim_pose,) or (self.std <= 0).any():
            raise InputError(f"mean/std must be ({c.dim_pose},) with positive std, got {self.mean.shape}, {self.std.shape}")
        self.movement_encoder = MovementConvEncoder(
            c.dim_pose - N_FOOT_CONTACTS, c.dim_movement_enc_hidden, c.dim_movement_latent)
        self.motion_encoder = MotionEncoderBiGRUCo(c.dim_movement_latent, c.dim_motion_hidden, c.dim_embed)
        self.text_encoder = WordTextEncoder(c.vocab_size, c.dim_word, c.dim_text_hidden, c.dim_embed)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / c.init_temperature)))

    dim_pose = config_field("dim_pose", "feature size of the motions it reads, foot contacts included (int)")
    unit_length = config_field("unit_length", "frames per movement unit (int)")

    @property
    def device(self) -> torch.device:
        return self.logit_scale.device

    # ------------------------------------------------------------------ differentiable encoders

    def encode_text(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids (B, L), lengths (B,) -> (B, dim_embed) unit vectors."""
        return F.normalize(self.text_encoder(ids.to(self.device), lengths), dim=-1)

    def encode_motion(self, motions: torch.Tensor, m_lens: torch.Tensor) -> torch.Tensor:
        """Normalised, zero-padded motions (B, T, D), T a multiple of 4; lengths (B,) -> (B, dim_embed)."""
        movements = self.movement_encoder(motions[..., :-N_FOOT_CONTACTS])  # (B, T // 4, latent)
        units = torch.clamp(m_lens.cpu() // self.config.unit_length, min=1, max=movements.shape[1])
        return F.normalize(self.motion_encoder(movements, units), dim=-1)

    def loss(self, text_emb: torch.Tensor, motion_emb: torch.Tensor, same_text: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE. same_text (B, B) bool: pairs whose captions are identical are all positives."""
        scale = self.logit_scale.exp().clamp(max=100.0)
        logits = scale * text_emb @ motion_emb.T  # (B, B) text i vs motion j
        target = same_text.float() / same_text.float().sum(dim=1, keepdim=True)
        return 0.5 * (torch.sum(-target * F.log_softmax(logits, dim=1), dim=1).mean()
                      + torch.sum(-target * F.log_softmax(logits.T, dim=1), dim=1).mean())

    # ------------------------------------------------------------------ protocol interface

    @torch.no_grad()
    def text_embedding(self, captions: Sequence) -> torch.Tensor:
        """Captions (`Caption`s or plain strings) -> (B, dim_embed)."""
        texts = [c if isinstance(c, str) else c.text for c in captions]
        if not texts:
            raise InputError("no captions given")
        ids, lengths = self.vocab.batch(texts, self.config.max_text_len)
        return self.encode_text(ids, lengths)

    @torch.no_grad()
    def motion_embedding(self, motions, m_lens) -> torch.Tensor:
        """Unnormalised motions (B, T, D) valid for m_lens frames -> (B, dim_embed)."""
        lens = torch.as_tensor(np.asarray(m_lens)).long()
        if (lens < self.unit_length).any():
            raise InputError(f"motion lengths must be at least {self.unit_length} frames, got {lens.tolist()}")
        x = normalize_padded(motions, lens, self.mean, self.std, self.device)
        pad = (-x.shape[1]) % self.unit_length
        x = F.pad(x, (0, 0, 0, pad)) if pad else x
        return self.encode_motion(x, lens)

    # ------------------------------------------------------------------ folder

    def save(self, folder: str | os.PathLike) -> None:
        """Write the folder (each file atomically)."""
        from safetensors.torch import save_file

        from t2mgpt.utils.io import atomic_path

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "evaluator.safetensors") as tmp:
            save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}, str(tmp))
        for name, arr in (("mean.npy", self.mean), ("std.npy", self.std)):
            with atomic_path(folder / name) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, arr)
        _write_json(folder / "vocab.json", self.vocab.words)
        _write_json(folder / "config.json", {"kind": KIND, "version": 1, "config": dataclasses.asdict(self.config)})

    @classmethod
    def load(cls, folder: str | os.PathLike, device="cpu") -> "ContrastiveEvaluator":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        folder = Path(folder)
        meta = _read_json(folder / "config.json")
        if not isinstance(meta, dict) or meta.get("kind") != KIND:
            raise CheckpointError(f"{folder}/config.json is not a t2mgpt trained evaluator (kind {KIND!r})")
        try:
            config = ContrastiveConfig(**meta["config"])
        except (KeyError, TypeError, InputError) as e:
            raise CheckpointError(f"{folder}/config.json has an invalid config: {e}") from e
        words = _read_json(folder / "vocab.json")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise CheckpointError(f"{folder}/vocab.json must be a list of words")
        mean, std = (_read_npy(folder / n) for n in ("mean.npy", "std.npy"))
        try:
            model = cls(config, Vocabulary(words), mean, std)
            model.load_state_dict(load_file(str(folder / "evaluator.safetensors")))
        except FileNotFoundError as e:
            raise CheckpointError(f"{folder}/evaluator.safetensors not found; the evaluator folder is incomplete") from e
        except (InputError, RuntimeError, SafetensorError, OSError) as e:
            raise CheckpointError(f"{folder}: the evaluator files do not fit together: {e}") from e
        return model.to(device).eval()


def is_evaluator_folder(folder: str | os.PathLike) -> bool:
    path = Path(folder) / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("kind") == KIND
    except (OSError, ValueError, AttributeError):
        return False


def _write_json(path: Path, obj) -> None:
    from t2mgpt.utils.io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def _read_json(path: Path):
    if not path.is_file():
        raise CheckpointError(f"{path} not found; the evaluator folder is incomplete (re-run t2mgpt train-evaluator)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from e


def _read_npy(path: Path) -> np.ndarray:
    if not path.is_file():
        raise CheckpointError(f"{path} not found; the evaluator folder is incomplete (re-run t2mgpt train-evaluator)")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise CheckpointError(f"{path} is not a readable .npy file: {e}") from e
