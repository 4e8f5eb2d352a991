"""The VQ-VAE task of the training loop (`t2mgpt.train.loop`): the paper's motion tokenizer.

A batch is a set of motion windows; the loss is reconstruction + commitment + joint-position
(`t2mgpt.losses.VQLoss`); validation reports reconstruction losses and codebook use.

Defaults follow the authors' HumanML3D command (`train_vq.py --batch-size 256 --lr 2e-4
--total-iter 300000 --lr-scheduler 200000 --nb-code 512 --down-t 2 --depth 3
--dilation-growth-rate 3 --vq-act relu --quantizer ema_reset --loss-vel 0.5
--recons-loss l1_smooth`, with `--commit 0.02 --gamma 0.05 --warm-up-iter 1000
--window-size 64 --weight-decay 0.0 --seed 123` from `option_vq.py`): AdamW(betas 0.9, 0.99).
One difference, for a single clean schedule: the original ran 999 warm-up updates before
its 300,000 main ones; here the 1,000 warm-up updates are the first of `iters`.

`init_from` starts from a trained VQ-VAE; with `decoder_only` its encoder and codebook are
frozen (`FrozenCodesVQVAE`), so every motion keeps its codes and a GPT trained on them stays
valid, while the decoder learns, e.g. with a bounded `decoder_lookahead` for streaming.
"""
from __future__ import annotations

import dataclasses
import hashlib
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from t2mgpt.errors import DataError
from t2mgpt.train import distributed as D
from t2mgpt.train.common import ValShare
from t2mgpt.train.loop import RunResult, fit
from t2mgpt.train.vq_config import VQTrainConfig

KIND = "t2mgpt.vqvae"  # VQVAE.load reads our checkpoints ("config", "model" keys)
TRAIN_KIND = "vq"  # training-state entry: which trainer wrote the checkpoint

# `validate(vqvae) -> {"fid": ..., ...}`, called on rank 0 (see `make_fid_validation`).
FIDValidation = Callable[[torch.nn.Module], dict]


def nb_joints_for_dim(dim: int) -> int:
    """263 -> 22 (HumanML3D), 251 -> 21 (KIT-ML): D = 12J - 1."""
    if (dim + 1) % 12:
        raise DataError(f"feature dimension {dim} is not 12*joints - 1 (HumanML3D 263, KIT-ML 251)")
    return (dim + 1) // 12


@torch.no_grad()
def evaluate(model, loss_fn, val: ValShare, device, batch_size: int) -> dict[str, float]:
    """Validation losses and codebook statistics over all ranks' windows, in eval mode.

    In eval mode the quantizer runs no collective, so ranks may hold different numbers of
    windows; only the final sums are all-reduced.
    """
    was_training = model.training
    model.eval()
    K = model.config.nb_code
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # recons, vel, commit, windows
    counts = torch.zeros(K, dtype=torch.float64, device=device)  # code histogram
    for i in range(0, len(val), batch_size):
        x = torch.from_numpy(val.source.gather(*val.chunk(i, batch_size))).to(device)
        recon, commit, _ = model(x)
        _, parts = loss_fn(recon, x, commit)
        n = len(x)  # every window has the same size, so batch means weight by n
        sums += torch.stack([parts["recons"] * n, parts["vel"] * n, parts["commit"] * n,
                             torch.tensor(float(n), device=device)]).double()
        counts += torch.bincount(model.encode(x).flatten(), minlength=K).double()
    D.all_reduce_sum(sums)
    D.all_reduce_sum(counts)
    model.train(was_training)
    prob = counts / counts.sum().clamp(min=1)
    n = sums[3].clamp(min=1)
    return {
        "recons": float(sums[0] / n),
        "vel": float(sums[1] / n),
        "commit": float(sums[2] / n),
        "perplexity": float(torch.exp(-(prob * torch.log(prob + 1e-7)).sum())),
        "usage": float((counts > 0).double().mean()),
    }


def make_fid_validation(evaluator: str | Path, data: str | Path, split: str = "val", *, glove=None, meta=None,
                        device="cpu", batch_size: int = 32, seed: int = 0) -> FIDValidation:
    """FID / R-precision of the VQ-VAE's reconstructions of `split`, as the original's periodic
    `evaluation_vqvae` (see `t2mgpt.eval.validation.make_split_validation`)."""
    from t2mgpt.eval.validation import make_split_validation

    return make_split_validation(evaluator, data, split, glove=glove, meta=meta, device=device,
                                 batch_size=batch_size, seed=seed, model="vqvae")


def load_split(data: str | Path, split: str, window_size: int, rank: int):
    from t2mgpt.data.humanml3d import HumanML3DDataset
    from t2mgpt.data.vq_dataset import MotionWindows

    ds = HumanML3DDataset(data, split, texts=False, progress=rank == 0 and sys.stderr.isatty())
    return ds, MotionWindows.from_dataset(ds, window_size)


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict, bit for bit."""
    h = hashlib.sha256()
    for k, v in sorted(state.items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def quantizer_fingerprint(model) -> str:
    """SHA-256 of the quantizer's state (codebook and EMA statistics), bit for bit."""
    return state_sha256(model.quantizer.state_dict())


def codes_fingerprint(model) -> str:
    """SHA-256 of what decides a motion's codes: the encoder and the quantizer, bit for bit."""
    return state_sha256({**model.encoder.state_dict(prefix="encoder."),
                         **model.quantizer.state_dict(prefix="quantizer.")})


def load_init_vq(source: str):
    """(VQVAE, mean or None, std or None) of a train-vq run folder, a checkpoint, or a model folder or name."""
    from t2mgpt.io.checkpoint import load_vq
    from t2mgpt.io.folder import load_model_folder
    from t2mgpt.io.lookup import resolve_model

    path = Path(source).expanduser()
    if path.is_file() or (path / "best.pt").is_file() or (path / "last.pt").is_file():
        vq, mean, std, _ = load_vq(path)
        return vq.float(), mean, std
    _, vq, _, normalizer = load_model_folder(resolve_model(source))
    return vq.float(), normalizer.mean, normalizer.std


def _frozen_codes_vqvae():
    from t2mgpt.tokenizer.vqvae import VQVAE

    class FrozenCodesVQVAE(VQVAE):
        """A VQ-VAE whose encoder and codebook never change: no gradient reaches them and they stay in
        eval mode (no EMA update or code reset), so only the decoder learns. Same weights layout."""

        def __init__(self, config):
            super().__init__(config)
            self.encoder.requires_grad_(False)
            self.quantizer.requires_grad_(False)

        def train(self, mode: bool = True):
            super().train(mode)
            self.encoder.eval()
            self.quantizer.eval()
            return self

    return FrozenCodesVQVAE


class VQTask:
    """Build a VQ-VAE, windows -> loss, validate reconstruction (see `t2mgpt.train.loop`)."""

    kind = KIND
    train_kind = TRAIN_KIND
    unit = "windows"
    stat_names = ("loss", "recons", "commit", "vel", "perplexity")  # averaged over steps and ranks
    bar = ("loss", "perplexity")
    best_key = "recons"
    size_hint = "lower --nb-code, --code-dim or --width"

    def __init__(self, data: str | Path, model_config, tc: VQTrainConfig):
        from t2mgpt.io.config import check_sizes
        from t2mgpt.tokenizer.config import VQVAEConfig

        self.data, self.tc = Path(data), tc
        self.mc = dataclasses.replace(model_config or VQVAEConfig(), beta=tc.commit)
        check_sizes(self.mc.to_dict(), {})  # the bounds a model folder must keep, before anything is built
        self.config_defaults = {"model": VQVAEConfig().to_dict()}  # model options newer than a stored run
        self.init = self.codes_from = None

    def _load_init(self, train_mean: np.ndarray, train_std: np.ndarray) -> None:
        """Load `init_from`; with decoder_only, refuse one whose codes this run would not keep."""
        from t2mgpt.errors import InputError
        from t2mgpt.train.gpt_task import vq_fingerprint

        source = self.tc.init_from
        self.init, mean, std = load_init_vq(source)
        if self.tc.decoder_only:
            mine, theirs = self.mc.to_dict(), self.init.config.to_dict()
            differ = sorted(k for k in mine if k not in ("decoder_lookahead", "beta") and mine[k] != theirs[k])
            if differ:
                raise InputError(f"--decoder-only keeps the encoder and codebook of {source}, so the model options "
                                 f"must be its own; these differ: {', '.join(differ)} (only --decoder-lookahead may)")
            self.codes_from = {"path": str(source), "sha256": vq_fingerprint(self.init),
                               "codes_sha256": codes_fingerprint(self.init)}
        if mean is not None and not (np.allclose(mean, train_mean, rtol=1e-4, atol=1e-5)
                                     and np.allclose(std, train_std, rtol=1e-4, atol=1e-5)):
            raise DataError(f"--init-from {source} was trained with other feature statistics than {self.data} "
                            "(Mean.npy / Std.npy differ); train on the dataset it was trained on")

    def config(self) -> dict:
        return {"model": self.mc.to_dict(), "train": self.tc.to_dict()}

    def setup(self, run) -> list[str]:
        from t2mgpt.losses import VQLoss, VQLossConfig

        tc, mc, rank, world = self.tc, self.mc, run.dist.rank, run.dist.world_size
        self.train_ds, self.windows = load_split(self.data, tc.train_split, tc.window_size, rank)
        if self.windows.dim != mc.input_dim:
            raise DataError(f"the dataset has {self.windows.dim}-dim features but the model's input_dim is "
                            f"{mc.input_dim}; drop --input-dim (it is read from the data) or use the matching dataset")
        self.val = None
        if tc.val_split:
            _, val_windows = load_split(self.data, tc.val_split, tc.window_size, rank)
            self.val = ValShare.make(val_windows, val_windows.fixed_windows(), tc.val_max_windows, rank, world)
        if tc.init_from:
            self._load_init(self.train_ds.mean, self.train_ds.std)
        self.world, self.device = world, run.device
        self.loss_fn = VQLoss(VQLossConfig(nb_joints=nb_joints_for_dim(mc.input_dim), recons=tc.recons_loss,
                                           commit=tc.commit, vel=tc.loss_vel))
        self.num_entries = len(self.windows)
        return [f"{len(self.windows)} train motions ({self.windows.num_skipped} shorter than {tc.window_size} "
                f"frames skipped), {len(self.val) * world if self.val is not None else 0} val windows"]

    def build(self, device) -> torch.nn.Module:
        from t2mgpt.tokenizer.vqvae import VQVAE

        model = (_frozen_codes_vqvae() if self.tc.decoder_only else VQVAE)(self.mc)
        if self.init is not None and torch.device(device).type != "meta":
            model.load_state_dict(self.init.state_dict())  # same keys whatever the decoder's padding
        return model.to(device)

    def loader(self, rank: int, world: int, device):
        from t2mgpt.data.vq_dataset import WindowLoader

        on_cuda = device.type == "cuda"

        def to_tensor(x: np.ndarray) -> torch.Tensor:
            t = torch.from_numpy(x)
            return t.pin_memory() if on_cuda else t

        # On a GPU the next batch is gathered (and pinned) in a thread while this one trains.
        return WindowLoader(self.windows, self.tc.batch_size, self.tc.seed, rank, world, prefetch=on_cuda,
                            transform=to_tensor)

    def loss(self, net, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = batch.to(self.device, non_blocking=True)  # (B/world, W, D)
        recon, commit, perplexity = net(x)
        loss, parts = self.loss_fn(recon, x, commit)
        stats = torch.stack([loss, parts["recons"], parts["commit"], parts["vel"], perplexity]).detach().double()
        return loss, stats

    def summary(self, mean: torch.Tensor, model) -> dict:
        d = dict(zip(self.stat_names, mean.tolist()))
        d["usage"] = float(model.quantizer.usage)
        return d

    @staticmethod
    def train_line(d: dict) -> str:
        return (f"loss {d['loss']:.5f} recons {d['recons']:.5f} commit {d['commit']:.5f} vel {d['vel']:.5f} "
                f"ppl {d['perplexity']:.1f} usage {d['usage']:.2f}")

    @staticmethod
    def val_line(m: dict) -> str:
        return f"recons {m['recons']:.5f} vel {m['vel']:.5f} ppl {m['perplexity']:.1f} usage {m['usage']:.2f}"

    def validate(self, model) -> dict:
        return evaluate(model, self.loss_fn, self.val, self.device, max(1, self.tc.batch_size // self.world))

    def fid_input(self, model):
        return model

    def checkpoint(self, model) -> dict:
        # Every rank must hold the same codebook (the quantizer syncs itself); check at each save.
        prints = D.all_gather_objects(quantizer_fingerprint(model))
        if len(set(prints)) > 1:
            raise RuntimeError(f"the quantizer state differs between the {len(prints)} processes")
        extra = {"codes_from": self.codes_from} if self.codes_from else {}  # whose codes these are (export-model)
        return {"kind": KIND, "config": self.mc.to_dict(), "train_kind": TRAIN_KIND,
                "train_config": self.tc.to_dict(), "mean": torch.from_numpy(self.train_ds.mean),
                "std": torch.from_numpy(self.train_ds.std), "quantizer_fingerprints": prints, **extra}


def train_vq(data: str | Path, out: str | Path, model_config=None, train_config: VQTrainConfig | None = None, *,
             resume: bool = False, device: str = "auto", progress: bool | None = None,
             fid_validation: Callable[[], FIDValidation] | None = None) -> RunResult:
    """Train (or with `resume`, continue) a VQ-VAE on the dataset folder `data`, writing to `out`.

    `fid_validation`: a factory called once on rank 0, returning `validate(vqvae) -> dict` with
    an 'fid' entry, called every eval_every updates (keeps best_fid.pt); e.g.
    `lambda: make_fid_validation(evaluator, data, device=...)`. The other ranks wait for it.
    Under torchrun every process calls this; rank 0 logs and writes checkpoints.
    """
    tc = train_config or VQTrainConfig()
    return fit(VQTask(data, model_config, tc), out, tc, resume=resume, device=device, progress=progress,
               fid_validation=fid_validation)
