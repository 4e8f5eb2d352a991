"""Hyper-parameters of VQ-VAE training (torch-free, so the CLI can build its flags quickly).

Defaults follow the authors' HumanML3D command (`train_vq.py --batch-size 256 --lr 2e-4
--total-iter 300000 --lr-scheduler 200000 --nb-code 512 --down-t 2 --depth 3
--dilation-growth-rate 3 --vq-act relu --quantizer ema_reset --loss-vel 0.5
--recons-loss l1_smooth`, with `--commit 0.02 --gamma 0.05 --warm-up-iter 1000
--window-size 64 --weight-decay 0.0 --seed 123` from `option_vq.py`), AdamW betas (0.9, 0.99).
One difference, for a single clean schedule: the original ran 999 warm-up updates before
its 300,000 main ones (and decayed after 200,000 of those); here the 1,000 warm-up updates
are the first of `iters` and milestones count every update.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from t2mgpt.errors import InputError
from t2mgpt.tokenizer.config import VQVAEConfig
from t2mgpt.train.config import TRAIN_HELP as BASE_HELP
from t2mgpt.train.config import TrainConfig, dataclass_flags
from t2mgpt.utils.checks import check_choices

RECONS_LOSSES = ("l1_smooth", "l1", "l2")  # = t2mgpt.losses.RECONS_LOSSES


@dataclass
class VQTrainConfig(TrainConfig):
    batch_size: int = 256  # GLOBAL batch of windows
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.99)
    warmup_iters: int = 1000  # linear warm-up updates
    lr_milestones: list[int] = field(default_factory=lambda: [200_000])
    window_size: int = 64  # frames per training window
    recons_loss: str = "l1_smooth"  # l1_smooth | l1 | l2
    commit: float = 0.02  # commitment loss weight (beta)
    loss_vel: float = 0.5  # weight of the joint-position loss (the original's "velocity" loss)
    val_max_windows: int = 2048  # cap on validation windows (0: all)
    init_from: str = ""  # VQ run, checkpoint or model folder whose VQ-VAE starts the run; "": random
    decoder_only: bool = False  # train only the decoder: encoder and codebook stay as init_from's (same codes)

    POSITIVE = TrainConfig.POSITIVE + ("window_size",)
    NON_NEGATIVE = TrainConfig.NON_NEGATIVE + ("val_max_windows", "commit", "loss_vel")

    def __post_init__(self):
        super().__post_init__()
        check_choices(self, {"recons_loss": RECONS_LOSSES})
        if self.decoder_only and not self.init_from:
            raise InputError("decoder_only needs init_from: the VQ-VAE whose encoder and codebook to keep")


TRAIN_HELP = {
    **BASE_HELP,
    "batch_size": "GLOBAL batch: windows per update over all processes",
    "window_size": "frames per training window",
    "recons_loss": "l1_smooth, l1 or l2",
    "commit": "commitment loss weight (the original's --commit)",
    "loss_vel": "joint-position loss weight (the original's --loss-vel)",
    "val_max_windows": "validation windows at most (0: all)",
    "init_from": "start from the VQ-VAE of this train-vq run, checkpoint or model folder (name); its sizes "
                 "become the model defaults",
    "decoder_only": "train only the decoder (e.g. with another --decoder-lookahead): the encoder and the "
                    "codebook stay those of --init-from, so every motion keeps its codes and the GPT stays valid",
}

# --flags for the fields of t2mgpt.tokenizer.config.VQVAEConfig (beta excepted: it is `commit` here).
MODEL_FLAGS = dataclass_flags(VQVAEConfig, skip=("beta",), defaults={"input_dim": None}, help={
    "input_dim": "motion feature size (read from the dataset when not given)",
    "nb_code": "codebook size",
    "code_dim": "code vector size (sets --output-emb-width too)",
    "output_emb_width": "encoder output channels (= code_dim)",
    "width": "convolution channels",
    "down_t": "temporal 2x downsampling stages (frames per code = 2**down_t)",
    "stride_t": "temporal stride",
    "depth": "residual blocks per stage",
    "dilation_growth_rate": "dilation growth of the residual blocks",
    "activation": "relu, silu or gelu (the original's --vq-act)",
    "norm": "None, LN, GN or BN (the original's --vq-norm)",
    "quantizer": "ema_reset, ema, reset or orig",
    "mu": "EMA decay of the codebook",
    "decoder_lookahead": "codes the decoder may read ahead (default: the paper's symmetric padding, 22 codes); "
                         "a small K lets a stream start after K + 1 codes (with --decoder-only)",
})
