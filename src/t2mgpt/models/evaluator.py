"""The published text-motion matching evaluator of Guo et al. (CVPR 2022).

FID, R-precision, MM-Dist, diversity and multimodality of T2M-GPT are all computed on
embeddings of this network. It has three parts (EricGuo5513/text-to-motion
`networks/modules.py`, copied into T2M-GPT `models/modules.py`):

- `MovementConvEncoder`: motion features without foot contacts (B, T, dim_pose - 4)
  -> movement codes (B, T / 4, dim_movement_latent);
- `MotionEncoderBiGRUCo`: movement codes -> motion embedding (B, dim_coemb_hidden);
- `TextEncoderBiGRUCo`: GloVe word vectors + POS one-hots -> text embedding (B, dim_coemb_hidden).

Module and parameter names match the released `text_mot_match/model/finest.tar`.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

from t2mgpt.data.spec import HUMANML3D, get_dataset_spec
from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.utils.device import resolve_device
from t2mgpt.utils.io import safe_torch_load


def normalize_padded(motions, m_lens, mean: np.ndarray, std: np.ndarray, device) -> torch.Tensor:
    """(B, T, D) unnormalised -> normalised float32 tensor on `device`, zero after each length."""
    x = torch.as_tensor(np.asarray(motions, dtype=np.float32) if not torch.is_tensor(motions) else motions)
    x = x.to(device=device, dtype=torch.float32)
    if x.ndim != 3 or x.shape[-1] != mean.shape[0]:
        raise InputError(f"motions must have shape (batch, frames, {mean.shape[0]}), got {tuple(x.shape)}")
    lens = torch.as_tensor(np.asarray(m_lens), device=device).long()
    if lens.shape != (x.shape[0],):
        raise InputError(f"need one length per motion ({x.shape[0]}), got shape {tuple(lens.shape)}")
    x = (x - torch.as_tensor(mean, device=device)) / torch.as_tensor(std, device=device)
    valid = torch.arange(x.shape[1], device=device)[None, :] < lens[:, None]  # (B, T)
    return x * valid[..., None]


N_FOOT_CONTACTS = 4  # last 4 feature dims, not seen by the evaluator


@dataclass
class EvaluatorConfig:
    """Sizes of the evaluator; defaults are the released HumanML3D ("t2m") ones."""

    dim_pose: int = HUMANML3D.feature_dim
    dim_word: int = 300
    dim_pos_ohot: int = 15
    dim_movement_enc_hidden: int = 512
    dim_movement_latent: int = 512
    dim_text_hidden: int = 512
    dim_motion_hidden: int = 1024
    dim_coemb_hidden: int = 512
    unit_length: int = 4  # frames per movement code (the conv encoder downsamples by 4)

    @classmethod
    def for_dataset(cls, name: str) -> "EvaluatorConfig":
        """Released sizes for 't2m' (HumanML3D, 263 dims) or 'kit' (KIT-ML, 251 dims)."""
        try:
            spec = get_dataset_spec(name)
        except InputError:
            raise InputError(f"unknown dataset {name!r}: use 't2m' (HumanML3D) or 'kit'") from None
        return cls(dim_pose=spec.feature_dim, unit_length=spec.unit_length)


def init_weight(m: nn.Module) -> None:
    """Xavier-normal weights, zero biases: the original `init_weight`."""
    if isinstance(m, (nn.Conv1d, nn.Linear, nn.ConvTranspose1d)):
        nn.init.xavier_normal_(m.weight)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)


class BiGRUEncoder(nn.Module):
    """input_emb -> bidirectional GRU -> output_net: the shared back end of Guo et al.'s text and
    motion encoders. Subclasses register their own front end, then call `_build_bigru` (the
    creation order is the original's, so random initialisation draws the same numbers)."""

    def _build_bigru(self, input_size: int, hidden_size: int, output_size: int) -> None:
        self.input_emb = nn.Linear(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_net = nn.Sequential(
            nn.Linear(hidden_size * 2, hidden_size),
            nn.LayerNorm(hidden_size),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden_size, output_size),
        )
        self.apply(init_weight)
        self.hidden = nn.Parameter(torch.randn(2, 1, hidden_size))  # learned initial GRU state

    def _encode(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Padded sequences x (B, T, input_size) -> (B, output_size) from the final forward and
        backward GRU states. Lengths need not be sorted: packing sorts them and the states come
        back in input order (the original text encoder required descending lengths)."""
        x = self.input_emb(x)
        packed = pack_padded_sequence(x, lengths.cpu().long(), batch_first=True, enforce_sorted=False)
        _, last = self.gru(packed, self.hidden.repeat(1, x.shape[0], 1))  # last: (2, B, H)
        return self.output_net(torch.cat([last[0], last[1]], dim=-1))


class MovementConvEncoder(nn.Module):
    """(B, T, input_size) -> (B, T // 4, output_size): two stride-2 convolutions + linear."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.main = nn.Sequential(  # indices 0 and 3 are the checkpoint's conv layers
            nn.Conv1d(input_size, hidden_size, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(hidden_size, output_size, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(0.2),
        )
        self.out_net = nn.Linear(output_size, output_size)
        self.apply(init_weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_net(self.main(x.permute(0, 2, 1)).permute(0, 2, 1))


class TextEncoderBiGRUCo(BiGRUEncoder):
    """Word vectors (B, T, word_size) + POS one-hots (B, T, pos_size) -> (B, output_size)."""

    def __init__(self, word_size: int, pos_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.pos_emb = nn.Linear(pos_size, word_size)
        self._build_bigru(word_size, hidden_size, output_size)

    def forward(self, word_embs: torch.Tensor, pos_ohot: torch.Tensor, cap_lens: torch.Tensor) -> torch.Tensor:
        return self._encode(word_embs + self.pos_emb(pos_ohot), cap_lens)


class MotionEncoderBiGRUCo(BiGRUEncoder):
    """Movement codes (B, T, input_size) -> (B, output_size)."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self._build_bigru(input_size, hidden_size, output_size)

    def forward(self, movements: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self._encode(movements, lengths)


class Evaluator(nn.Module):
    """Text and motion embeddings of the published evaluator (`EvaluatorModelWrapper`).

    Motions are the full feature vectors (with foot contacts), normalised as the evaluator
    was trained (the release's `meta/mean.npy`, `meta/std.npy`), zero-padded in time.
    Batches may come in any order of lengths; outputs follow the input order.
    """

    def __init__(self, config: EvaluatorConfig | None = None):
        super().__init__()
        self.config = c = config or EvaluatorConfig()
        self.movement_encoder = MovementConvEncoder(
            c.dim_pose - N_FOOT_CONTACTS, c.dim_movement_enc_hidden, c.dim_movement_latent)
        self.text_encoder = TextEncoderBiGRUCo(c.dim_word, c.dim_pos_ohot, c.dim_text_hidden, c.dim_coemb_hidden)
        self.motion_encoder = MotionEncoderBiGRUCo(c.dim_movement_latent, c.dim_motion_hidden, c.dim_coemb_hidden)
        self.eval()  # an inference-only network (dropout off), as the original wrapper

    @property
    def device(self) -> torch.device:
        return self.text_encoder.hidden.device

    # -------------------------------------------------------------------------- loading

    @classmethod
    def from_original(cls, path: str | os.PathLike, device: str | torch.device | None = "cpu",
                      **hparams) -> "Evaluator":
        """Load a released `text_mot_match/model/finest.tar` (weights_only), in eval mode.

        Sizes are read from the weights; `hparams` (EvaluatorConfig field names) may be
        given to check them and must set `unit_length` if it is not the released 4.
        """
        ckpt = safe_torch_load(path)
        states = _evaluator_states(ckpt, path)
        config = _config_from_states(states, hparams, path)
        model = cls(config)
        for name, state in states.items():
            try:
                getattr(model, name).load_state_dict(state)
            except RuntimeError as e:
                raise CheckpointError(f"{path}: '{name}' does not fit the evaluator networks: {e}") from e
        return model.to(resolve_device(device)).eval()

    # -------------------------------------------------------------------------- embeddings

    @torch.no_grad()
    def text_embedding(self, word_embs, pos_ohot, cap_lens) -> torch.Tensor:
        """(B, T, dim_word), (B, T, 15), (B,) caption lengths incl. sos/eos -> (B, dim_coemb_hidden)."""
        c = self.config
        word_embs = self._tensor(word_embs, "word_embs", c.dim_word)
        pos_ohot = self._tensor(pos_ohot, "pos_ohot", c.dim_pos_ohot)
        if pos_ohot.shape[:2] != word_embs.shape[:2]:
            raise InputError(f"word_embs {tuple(word_embs.shape)} and pos_ohot {tuple(pos_ohot.shape)} "
                             f"must share batch and length")
        cap_lens = _lengths(cap_lens, "cap_lens", word_embs.shape[0], max_len=word_embs.shape[1])
        return self.text_encoder(word_embs, pos_ohot, cap_lens)

    @torch.no_grad()
    def motion_embedding(self, motions, m_lens) -> torch.Tensor:
        """(B, T, dim_pose) normalised motions, (B,) lengths in frames -> (B, dim_coemb_hidden).

        As the original, lengths are floored to whole movement units (m_lens // unit_length).
        """
        unit = self.config.unit_length
        motions = self._tensor(motions, "motions", self.config.dim_pose)
        m_lens = _lengths(m_lens, "m_lens", motions.shape[0], max_len=motions.shape[1])
        if (m_lens < unit).any():
            raise InputError(f"motion lengths must be at least unit_length={unit} frames, got {m_lens.tolist()}")
        movements = self.movement_encoder(motions[..., :-N_FOOT_CONTACTS])  # (B, T // 4, latent)
        units = torch.clamp(m_lens // unit, max=movements.shape[1])  # only if unit_length < 4
        return self.motion_encoder(movements, units)

    def co_embeddings(self, word_embs, pos_ohot, cap_lens, motions, m_lens) -> tuple[torch.Tensor, torch.Tensor]:
        """(text_embedding, motion_embedding) as the original `get_co_embeddings` (in input order)."""
        return self.text_embedding(word_embs, pos_ohot, cap_lens), self.motion_embedding(motions, m_lens)

    def _tensor(self, x, name: str, dim: int) -> torch.Tensor:
        x = torch.as_tensor(x).to(device=self.device, dtype=torch.float32)
        if x.ndim != 3 or x.shape[-1] != dim or x.shape[0] == 0 or x.shape[1] == 0:
            raise InputError(f"{name} must have shape (batch, length, {dim}), got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise InputError(f"{name} contains NaN or inf values")
        return x


def _lengths(lengths, name: str, batch: int, max_len: int) -> torch.Tensor:
    lengths = torch.as_tensor(lengths).detach().cpu()
    if lengths.ndim != 1 or lengths.shape[0] != batch or lengths.is_floating_point() or lengths.is_complex():
        raise InputError(f"{name} must be {batch} integer lengths (one per batch item), got {tuple(lengths.shape)} "
                         f"{lengths.dtype}")
    if (lengths < 1).any() or (lengths > max_len).any():
        raise InputError(f"{name} must lie in 1..{max_len} (the padded length), got {lengths.tolist()}")
    return lengths.long()


# ------------------------------------------------------------------------------ checkpoint

_PARTS = ("movement_encoder", "text_encoder", "motion_encoder")


def _evaluator_states(ckpt, path) -> dict[str, dict[str, torch.Tensor]]:
    if not isinstance(ckpt, dict) or not all(isinstance(ckpt.get(k), dict) for k in _PARTS):
        found = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(
            f"{path} is not an evaluator checkpoint: expected keys {list(_PARTS)} "
            f"(text_mot_match/model/finest.tar), found {found}"
        )
    return {k: ckpt[k] for k in _PARTS}


def _config_from_states(states, hparams: dict, path) -> EvaluatorConfig:
    """Read the sizes from the weights; check any given hparams against them."""
    fields = {f.name for f in dataclasses.fields(EvaluatorConfig)}
    unknown = sorted(set(hparams) - fields)
    if unknown:
        raise InputError(f"unknown evaluator hyper-parameters {unknown}; valid: {sorted(fields)}")
    mov, txt, mot = (states[k] for k in _PARTS)
    try:
        found = dict(
            dim_pose=mov["main.0.weight"].shape[1] + N_FOOT_CONTACTS,
            dim_movement_enc_hidden=mov["main.0.weight"].shape[0],
            dim_movement_latent=mov["main.3.weight"].shape[0],
            dim_word=txt["pos_emb.weight"].shape[0],
            dim_pos_ohot=txt["pos_emb.weight"].shape[1],
            dim_text_hidden=txt["input_emb.weight"].shape[0],
            dim_motion_hidden=mot["input_emb.weight"].shape[0],
            dim_coemb_hidden=txt["output_net.3.weight"].shape[0],
        )
    except (KeyError, AttributeError, IndexError) as e:
        raise CheckpointError(f"{path}: evaluator weights lack or misshape {e}; not an original finest.tar") from e
    wrong = {k: (v, found[k]) for k, v in hparams.items() if k in found and int(v) != found[k]}
    if wrong:
        detail = ", ".join(f"{k}={v} (weights say {w})" for k, (v, w) in wrong.items())
        raise CheckpointError(f"{path}: hyper-parameters disagree with the weights: {detail}")
    return EvaluatorConfig(**{**found, "unit_length": int(hparams.get("unit_length", 4))})
