"""The motion-token vocabulary shared by the VQ-VAE and the GPT.

Ids 0 .. nb_code - 1 are VQ codes (rows of the codebook); END = nb_code closes a motion and
PAD = nb_code + 1 fills training targets after END. The GPT embeds all nb_code + 2 ids and
predicts nb_code + 1 classes (codes and END; PAD is never predicted).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from t2mgpt.errors import InputError


@dataclass(frozen=True)
class CodeVocab:
    nb_code: int  # codebook size (the original's nb_code / num_vq)

    @property
    def end(self) -> int:
        return self.nb_code

    @property
    def pad(self) -> int:
        return self.nb_code + 1

    @property
    def num_embeddings(self) -> int:
        """Rows of the GPT's token embedding: codes, END, PAD."""
        return self.nb_code + 2

    @property
    def num_classes(self) -> int:
        """Outputs of the GPT's head: codes and END."""
        return self.nb_code + 1

    def check_codes(self, codes: torch.Tensor, what: str = "codes") -> None:
        """Raise unless `codes` are integer motion codes in [0, nb_code) (no END, no PAD)."""
        if codes.is_floating_point() or codes.is_complex() or codes.dtype == torch.bool:
            raise InputError(f"{what} must be integer code indices, got {codes.dtype}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.nb_code):
            raise InputError(f"{what} must be in [0, {self.nb_code}) (END={self.end} and PAD={self.pad} are not "
                             f"motion codes), got values in [{int(codes.min())}, {int(codes.max())}]")
