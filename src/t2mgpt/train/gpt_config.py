"""Hyper-parameters of GPT training (torch-free, so the CLI can build its flags quickly).

Defaults follow the authors' HumanML3D command (`train_t2m_trans.py --batch-size 128
--num-layers 9 --embed-dim-gpt 1024 --n-head-gpt 16 --block-size 51 --ff-rate 4
--drop-out-rate 0.1 --total-iter 300000 --lr-scheduler 150000 --lr 0.0001 --pkeep 0.5`,
with `--gamma 0.05 --weight-decay 1e-6 --seed 123` from `option_transformer.py`) and
`utils_model.initial_optim`: AdamW with betas (0.5, 0.9) on every parameter, no warm-up
(the GPT script never uses its --warm-up-iter), no gradient clipping. KIT-ML uses the same.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from t2mgpt.errors import InputError
from t2mgpt.generator.config import GPTConfig
from t2mgpt.train.config import TRAIN_HELP as BASE_HELP
from t2mgpt.train.config import TrainConfig, dataclass_flags
from t2mgpt.utils.checks import check_fractions


@dataclass
class GPTTrainConfig(TrainConfig):
    batch_size: int = 128  # GLOBAL batch of (caption, code sequence) pairs
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 1e-6
    lr_milestones: list[int] = field(default_factory=lambda: [150_000])
    eval_every: int = 10_000  # validation loss (best.pt), and FID with an evaluator (best_fid.pt)
    pkeep: float = 0.5  # keep each input code with this probability, else a random code; -1: U[0,1] per batch
    cond_drop: float = 0.0  # share of samples trained with a zero text feature (for classifier-free guidance)
    span_share: float = -1.0  # share of samples from time-span entries (-1: every entry once per epoch)
    init_from: str = ""  # model folder or name whose GPT weights start the run (fine-tuning); "": random
    amp: bool = False  # bfloat16 autocast (worth it on recent GPUs; off = the original's float32)
    val_max_samples: int = 4096  # cap on validation (caption, codes) pairs (0: all)

    NON_NEGATIVE = TrainConfig.NON_NEGATIVE + ("val_max_samples",)

    def __post_init__(self):
        super().__post_init__()
        check_fractions(self, ("cond_drop",))
        if not (self.span_share == -1 or 0.0 <= self.span_share <= 1.0):
            raise InputError(f"span_share must be in [0, 1] (or -1: every entry once per epoch), got {self.span_share}")
        if not (self.pkeep == -1 or 0.0 <= self.pkeep <= 1.0):
            raise InputError(f"pkeep must be in [0, 1] (or -1: drawn uniformly per batch), got {self.pkeep}")


TRAIN_HELP = {
    **BASE_HELP,
    "iters": "optimizer updates in total",
    "batch_size": "GLOBAL batch: (caption, codes) pairs per update over all processes",
    "warmup_iters": "linear learning-rate warm-up updates (the original: none)",
    "pkeep": "corruption: keep each input code with probability P, else a random code (-1: P ~ U[0,1] per batch)",
    "cond_drop": "train this share of samples with a zero text feature, the unconditional input of "
                 "classifier-free guidance (0: never, as the original)",
    "span_share": "draw this share of samples from time-span captions, the rest from whole-motion ones "
                  "(-1: every entry once per epoch, as the original)",
    "init_from": "start from the GPT weights of this model folder or name (fine-tuning; same sizes and "
                 "VQ-VAE codes) instead of random weights",
    "amp": "bfloat16 autocast (GPU speed-up; the original trains in float32)",
    "log_every": "log averaged training loss and accuracy every N updates",
    "val_max_samples": "validation (caption, codes) pairs at most (0: all)",
}

# --flags for the fields of t2mgpt.generator.config.GPTConfig set by hand (num_vq comes from the
# VQ-VAE; clip_dim from the text encoder, only the weight-free 'hashing' encoder takes it from here).
MODEL_FLAGS = dataclass_flags(GPTConfig, skip=("num_vq",), help={
    "embed_dim": "transformer width (the original's --embed-dim-gpt)",
    "clip_dim": "text feature size: set by the text encoder (only 'hashing' reads it)",
    "block_size": "text token + up to block_size - 1 codes",
    "num_layers": "blocks per stack (base and head: 2 x num_layers in total)",
    "n_head": "attention heads (the original's --n-head-gpt)",
    "drop_out_rate": "dropout",
    "fc_rate": "MLP hidden size / width (the original's --ff-rate)",
})
