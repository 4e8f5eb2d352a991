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
from t2mgpt.train.config import TRAIN_HELP as BASE_HELP
from t2mgpt.train.config import Flag, TrainConfig
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

# The fields of t2mgpt.tokenizer.vqvae.VQVAEConfig (beta excepted: it is `commit` here), listed
# without importing torch; tests check they match the dataclass.
MODEL_FLAGS = [
    Flag("input_dim", int, None, "motion feature size (read from the dataset when not given)"),
    Flag("nb_code", int, 512, "codebook size"),
    Flag("code_dim", int, 512, "code vector size (sets --output-emb-width too)"),
    Flag("output_emb_width", int, 512, "encoder output channels (= code_dim)"),
    Flag("width", int, 512, "convolution channels"),
    Flag("down_t", int, 2, "temporal 2x downsampling stages (frames per code = 2**down_t)"),
    Flag("stride_t", int, 2, "temporal stride"),
    Flag("depth", int, 3, "residual blocks per stage"),
    Flag("dilation_growth_rate", int, 3, "dilation growth of the residual blocks"),
    Flag("activation", str, "relu", "relu, silu or gelu (the original's --vq-act)"),
    Flag("norm", str, None, "None, LN, GN or BN (the original's --vq-norm)"),
    Flag("quantizer", str, "ema_reset", "ema_reset, ema, reset or orig"),
    Flag("mu", float, 0.99, "EMA decay of the codebook"),
    Flag("decoder_lookahead", int, None, "codes the decoder may read ahead (default: the paper's symmetric "
         "padding, 22 codes); a small K lets a stream start after K + 1 codes (with --decoder-only)"),
]
