"""VQ-VAE training loss of T2M-GPT: reconstruction + beta * commitment + lambda_vel * velocity.

The "velocity" term (the original's `forward_vel`) is the reconstruction loss restricted to the
root-relative joint positions (ric channels 4 : 4 + (J-1)*3 of the features).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from t2mgpt.errors import InputError

RECONS_LOSSES = ("l1_smooth", "l1", "l2")


def feature_dim(nb_joints: int) -> int:
    """4 root + (J-1)*3 ric + (J-1)*6 rot + J*3 local velocity + 4 foot contact = 12J - 1."""
    return (nb_joints - 1) * 12 + 4 + 3 + 4


def ric_slice(nb_joints: int) -> slice:
    """Channels holding the root-relative joint positions."""
    return slice(4, 4 + (nb_joints - 1) * 3)


def recons_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "l1_smooth") -> torch.Tensor:
    if kind == "l1_smooth":
        return F.smooth_l1_loss(pred, target)
    if kind == "l1":
        return F.l1_loss(pred, target)
    if kind == "l2":
        return F.mse_loss(pred, target)
    raise InputError(f"unknown reconstruction loss {kind!r}; choose one of {RECONS_LOSSES}")


@dataclass
class VQLossConfig:
    nb_joints: int = 22  # 22 HumanML3D, 21 KIT-ML
    recons: str = "l1_smooth"
    commit: float = 0.02  # beta, weight of the commitment loss
    vel: float = 0.5  # weight of the joint-position ("velocity") loss


class VQLoss(nn.Module):
    """loss = recons(pred, gt) + commit * commit_loss + vel * recons(pred_ric, gt_ric).

    Returns (total, parts) where parts holds the unweighted 'recons', 'commit' and 'vel' terms.
    """

    def __init__(self, config: VQLossConfig | None = None, **kwargs):
        super().__init__()
        self.config = config or VQLossConfig(**kwargs)
        if self.config.recons not in RECONS_LOSSES:
            raise InputError(f"unknown reconstruction loss {self.config.recons!r}; choose one of {RECONS_LOSSES}")
        self.motion_dim = feature_dim(self.config.nb_joints)
        self.ric = ric_slice(self.config.nb_joints)

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                commit_loss: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """pred, target: (B, T, D) normalised features; commit_loss: () from the quantizer."""
        if pred.shape != target.shape or pred.shape[-1] < self.motion_dim:
            raise InputError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} must have the same "
                             f"shape with at least {self.motion_dim} features ({self.config.nb_joints} joints)")
        c = self.config
        recons = recons_loss(pred[..., : self.motion_dim], target[..., : self.motion_dim], c.recons)
        vel = recons_loss(pred[..., self.ric], target[..., self.ric], c.recons)
        total = recons + c.commit * commit_loss + c.vel * vel
        return total, {"recons": recons, "commit": commit_loss, "vel": vel}
