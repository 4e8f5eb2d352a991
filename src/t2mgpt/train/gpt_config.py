"""Hyper-parameters of GPT training (torch-free, so the CLI can build its flags quickly).

Defaults follow the authors' HumanML3D command (`train_t2m_trans.py --batch-size 128
--num-layers 9 --embed-dim-gpt 1024 --n-head-gpt 16 --block-size 51 --ff-rate 4
--drop-out-rate 0.1 --total-iter 300000 --lr-scheduler 150000 --lr 0.0001 --pkeep 0.5`,
with `--gamma 0.05 --weight-decay 1e-6 --seed 123` from `option_transformer.py`) and
`utils_model.initial_optim`: AdamW with betas (0.5, 0.9) on every parameter, no warm-up
(the GPT script never uses its --warm-up-iter), no gradient clipping. KIT-ML uses the same.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from t2mgpt.errors import InputError
from t2mgpt.train.config import Flag


@dataclass
class GPTTrainConfig:
    iters: int = 300_000  # optimizer updates in total
    batch_size: int = 128  # GLOBAL batch of (caption, code sequence) pairs
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 1e-6
    warmup_iters: int = 0  # linear warm-up updates (the original has none for the GPT)
    lr_milestones: list[int] = field(default_factory=lambda: [150_000])
    gamma: float = 0.05  # LR factor at each milestone
    pkeep: float = 0.5  # keep each input code with this probability, else a random code; -1: U[0,1] per batch
    grad_clip: float = 0.0  # max gradient norm (0: no clipping, as the original)
    cond_drop: float = 0.0  # share of samples trained with a zero text feature (for classifier-free guidance)
    init_from: str = ""  # model folder or name whose GPT weights start the run (fine-tuning); "": random
    amp: bool = False  # bfloat16 autocast (worth it on recent GPUs; off = the original's float32)
    seed: int = 123
    train_split: str = "train"
    val_split: str = "val"  # "" disables validation
    log_every: int = 200  # average and log training loss / accuracy every N updates
    eval_every: int = 10_000  # validation loss (best.pt), and FID with an evaluator (best_fid.pt)
    save_every: int = 2000  # write last.pt every N updates (and at the end)
    val_max_samples: int = 4096  # cap on validation (caption, codes) pairs (0: all)

    def __post_init__(self):
        self.betas = tuple(float(b) for b in self.betas)
        self.lr_milestones = [int(m) for m in self.lr_milestones]
        for name in ("iters", "batch_size", "log_every", "eval_every", "save_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise InputError(f"betas must be two numbers in [0, 1), got {self.betas}")
        if not self.lr > 0 or not self.gamma > 0:
            raise InputError(f"lr and gamma must be positive, got lr {self.lr}, gamma {self.gamma}")
        if self.warmup_iters < 0 or self.val_max_samples < 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise InputError("warmup_iters, val_max_samples, weight_decay and grad_clip must be >= 0")
        if not 0.0 <= self.cond_drop < 1.0:
            raise InputError(f"cond_drop must be in [0, 1), got {self.cond_drop}")
        if not (self.pkeep == -1 or 0.0 <= self.pkeep <= 1.0):
            raise InputError(f"pkeep must be in [0, 1] (or -1: drawn uniformly per batch), got {self.pkeep}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d


# Fields that may change on --resume: how long the run goes and how often it logs and saves.
RESUMABLE = {"train.iters", "train.log_every", "train.eval_every", "train.save_every"}

TRAIN_HELP = {
    "iters": "optimizer updates in total",
    "batch_size": "GLOBAL batch: (caption, codes) pairs per update over all processes",
    "warmup_iters": "linear learning-rate warm-up updates (the original: none)",
    "lr_milestones": "updates after which the lr is multiplied by --gamma",
    "pkeep": "corruption: keep each input code with probability P, else a random code (-1: P ~ U[0,1] per batch)",
    "cond_drop": "train this share of samples with a zero text feature, the unconditional input of "
                 "classifier-free guidance (0: never, as the original)",
    "init_from": "start from the GPT weights of this model folder or name (fine-tuning; same sizes and "
                 "VQ-VAE codes) instead of random weights",
    "grad_clip": "clip the gradient norm (0: no clipping, as the original)",
    "amp": "bfloat16 autocast (GPU speed-up; the original trains in float32)",
    "val_split": "validation split ('' disables validation and best.pt)",
    "log_every": "log averaged training loss and accuracy every N updates",
    "eval_every": "validation loss (keeps best.pt) and, with --evaluator, FID (keeps best_fid.pt) every N updates",
    "save_every": "write last.pt every N updates",
    "val_max_samples": "validation (caption, codes) pairs at most (0: all)",
}

# The fields of t2mgpt.generator.gpt.GPTConfig set by hand (num_vq comes from the VQ-VAE; clip_dim
# from the text encoder, only the weight-free 'hashing' encoder takes it from here); listed
# without importing torch; tests check they match the dataclass.
MODEL_FLAGS = [
    Flag("embed_dim", int, 1024, "transformer width (the original's --embed-dim-gpt)"),
    Flag("clip_dim", int, 512, "text feature size: set by the text encoder (only 'hashing' reads it)"),
    Flag("block_size", int, 51, "text token + up to block_size - 1 codes"),
    Flag("num_layers", int, 9, "blocks per stack (base and head: 2 x num_layers in total)"),
    Flag("n_head", int, 16, "attention heads (the original's --n-head-gpt)"),
    Flag("drop_out_rate", float, 0.1, "dropout"),
    Flag("fc_rate", int, 4, "MLP hidden size / width (the original's --ff-rate)"),
]
