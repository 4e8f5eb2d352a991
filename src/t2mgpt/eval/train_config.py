"""Training settings of the contrastive evaluator (torch-free, so the CLI can read the defaults)."""
from __future__ import annotations

from dataclasses import dataclass

from t2mgpt.errors import InputError
from t2mgpt.utils.checks import check_positive_ints


@dataclass
class EvaluatorTrainConfig:
    epochs: int = 20
    batch_size: int = 64  # pairs per contrastive batch (more negatives: a harder, better task)
    lr: float = 1e-3
    weight_decay: float = 0.01
    word_dropout: float = 0.2  # probability of replacing a word by <unk>
    crop_min: float = 0.7  # training windows: a random [crop_min, 1] part of the drawn window (1: as evaluated)
    min_word_count: int = 1
    eval_batch_size: int = 32  # R-precision batches (32 = the protocol's)
    val_draws: int = 3  # draws of the validation split averaged per epoch
    test_draws: int = 10  # draws of the test split for the final report
    seed: int = 0

    def __post_init__(self):
        check_positive_ints(self, ("epochs", "batch_size", "min_word_count", "eval_batch_size", "val_draws", "test_draws"))
        if self.batch_size < 2:
            raise InputError(f"batch_size must be at least 2 (contrastive negatives), got {self.batch_size}")
        if not self.lr > 0 or self.weight_decay < 0 or not 0 <= self.word_dropout < 1:
            raise InputError("need lr > 0, weight_decay >= 0 and 0 <= word_dropout < 1")
        if not 0 < self.crop_min <= 1:
            raise InputError(f"crop_min must be in (0, 1], got {self.crop_min}")
