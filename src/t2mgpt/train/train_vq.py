"""Train the motion VQ-VAE (the paper's recipe by default), on one device or under torchrun DDP.

Defaults follow the authors' HumanML3D command (`train_vq.py --batch-size 256 --lr 2e-4
--total-iter 300000 --lr-scheduler 200000 --nb-code 512 --down-t 2 --depth 3
--dilation-growth-rate 3 --vq-act relu --quantizer ema_reset --loss-vel 0.5
--recons-loss l1_smooth`, with `--commit 0.02 --gamma 0.05 --warm-up-iter 1000
--window-size 64 --weight-decay 0.0 --seed 123` from `option_vq.py`): AdamW(betas 0.9, 0.99).
One difference, for a single clean schedule: the original ran 999 warm-up updates before
its 300,000 main ones; here the 1,000 warm-up updates are the first of `iters`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from t2mgpt.data.vq_dataset import WindowLoader
from t2mgpt.errors import CheckpointError, DataError, InputError
from t2mgpt.train import distributed as D
from t2mgpt.train.common import TrainState, make_scheduler, prepare_run_dir, seed_everything, write_run_config
from t2mgpt.train.vq_config import RESUMABLE, VQTrainConfig  # noqa: F401 (re-exported)

KIND = "t2mgpt.vqvae"  # VQVAE.load reads our checkpoints ("config", "model" keys)
TRAIN_KIND = "vq"  # training-state entry: which trainer wrote the checkpoint

# `validate(vqvae) -> {"fid": ..., ...}`, called on rank 0 (see `make_fid_validation`).
FIDValidation = Callable[[torch.nn.Module], dict]


def nb_joints_for_dim(dim: int) -> int:
    """263 -> 22 (HumanML3D), 251 -> 21 (KIT-ML): D = 12J - 1."""
    if (dim + 1) % 12:
        raise DataError(f"feature dimension {dim} is not 12*joints - 1 (HumanML3D 263, KIT-ML 251)")
    return (dim + 1) // 12


@dataclass
class ValWindows:
    """This rank's share (every world-th) of the fixed validation windows (gathered per batch)."""

    windows: object  # MotionWindows
    idx: np.ndarray
    offsets: np.ndarray

    @classmethod
    def make(cls, windows, max_windows: int, rank: int, world: int) -> "ValWindows":
        idx, off = windows.fixed_windows()
        if max_windows and len(idx) > max_windows:
            keep = np.linspace(0, len(idx) - 1, max_windows).round().astype(np.int64)
            idx, off = idx[keep], off[keep]
        return cls(windows, idx[rank::world], off[rank::world])

    def __len__(self) -> int:
        return len(self.idx)

    def batch(self, i: int, n: int) -> np.ndarray:
        return self.windows.gather(self.idx[i : i + n], self.offsets[i : i + n])


@torch.no_grad()
def evaluate(model, loss_fn, val: ValWindows, device, batch_size: int) -> dict[str, float]:
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
        x = torch.from_numpy(val.batch(i, batch_size)).to(device)
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


@dataclass
class VQRunResult:
    run_dir: Path
    step: int
    best: dict  # {'val_recons', 'step'} and, with FID validation, {'fid', 'fid_step'} (empty without validation)
    train: dict  # last logged training averages
    windows_per_s: float  # training throughput of this invocation (all processes)


def load_split(data: str | Path, split: str, window_size: int, rank: int):
    from t2mgpt.data.humanml3d import HumanML3DDataset
    from t2mgpt.data.vq_dataset import MotionWindows

    ds = HumanML3DDataset(data, split, texts=False, progress=rank == 0 and sys.stderr.isatty())
    return ds, MotionWindows.from_dataset(ds, window_size)


def quantizer_fingerprint(model) -> str:
    """SHA-256 of the quantizer's state (codebook and EMA statistics), bit for bit."""
    h = hashlib.sha256()
    for k, v in sorted(model.quantizer.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _checkpoint(state: TrainState, model_cfg, train_cfg: VQTrainConfig, mean, std, world: int) -> dict:
    from t2mgpt import __version__

    ckpt = state.state_dict()  # collective
    # Every rank must hold the same codebook (the quantizer syncs itself); check at each save.
    prints = D.all_gather_objects(quantizer_fingerprint(state.model))
    if len(set(prints)) > 1:
        raise RuntimeError(f"the quantizer state differs between the {world} processes at step {state.step}")
    ckpt["quantizer_fingerprints"] = prints
    ckpt.update({
        "kind": KIND, "config": model_cfg.to_dict(), "train_kind": TRAIN_KIND,
        "train_config": train_cfg.to_dict(), "mean": torch.from_numpy(mean), "std": torch.from_numpy(std),
        "world_size": world, "version": __version__,
    })
    return ckpt


def train_vq(data: str | Path, out: str | Path, model_config=None, train_config: VQTrainConfig | None = None, *,
             resume: bool = False, device: str = "auto", progress: bool | None = None,
             fid_validation: Callable[[], FIDValidation] | None = None) -> VQRunResult:
    """Train (or with `resume`, continue) a VQ-VAE on the dataset folder `data`, writing to `out`.

    `fid_validation`: a factory called once on rank 0, returning `validate(vqvae) -> dict` with
    an 'fid' entry, called every eval_every updates (keeps best_fid.pt); e.g.
    `lambda: make_fid_validation(evaluator, data, device=...)`. The other ranks wait for it.
    Under torchrun every process calls this; rank 0 logs and writes checkpoints.
    """
    from t2mgpt.losses import VQLoss, VQLossConfig
    from t2mgpt.tokenizer.vqvae import VQVAE, VQVAEConfig
    from t2mgpt.train.checkpoint import load_checkpoint, save_checkpoint
    from t2mgpt.train.logging import RunLogger, format_duration

    tc = train_config or VQTrainConfig()
    mc = dataclasses.replace(model_config or VQVAEConfig(), beta=tc.commit)
    out = Path(out)
    info, dev = D.setup_distributed(device)
    rank, world = info.rank, info.world_size
    if tc.batch_size % world:
        raise InputError(f"--batch-size {tc.batch_size} is the global batch; it must be divisible by the "
                         f"{world} processes")

    # Run folder: rank 0 decides, everyone follows (never clobber another run).
    config = {"model": mc.to_dict(), "train": tc.to_dict()}
    decision = None
    if info.is_main:
        try:
            decision = ("ok", prepare_run_dir(out, config, resume, RESUMABLE, write=False))
        except InputError as e:
            decision = ("error", str(e))
    decision = D.broadcast_object(decision)
    if decision[0] == "error":
        raise InputError(decision[1])
    resume_from = decision[1]

    train_ds, windows = load_split(data, tc.train_split, tc.window_size, rank)
    if windows.dim != mc.input_dim:
        raise DataError(f"the dataset has {windows.dim}-dim features but the model's input_dim is {mc.input_dim}; "
                        f"drop --input-dim (it is read from the data) or use the matching dataset")
    val = None
    if tc.val_split:
        _, val_windows = load_split(data, tc.val_split, tc.window_size, rank)
        val = ValWindows.make(val_windows, tc.val_max_windows, rank, world)

    fid_fn = D.on_main(info.is_main, fid_validation) if fid_validation is not None else None

    seed_everything(tc.seed)  # identical initial weights on every rank
    model = VQVAE(mc).to(dev)
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, betas=tc.betas, weight_decay=tc.weight_decay)
    scheduler = make_scheduler(optimizer, tc.warmup_iters, tc.lr_milestones, tc.gamma)
    on_cuda = dev.type == "cuda"

    def to_tensor(x: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(x)
        return t.pin_memory() if on_cuda else t

    # On a GPU the next batch is gathered (and pinned) in a thread while this one trains.
    loader = WindowLoader(windows, tc.batch_size, tc.seed, rank, world, prefetch=on_cuda, transform=to_tensor)
    state = TrainState(model, optimizer, scheduler, loader)
    loss_fn = VQLoss(VQLossConfig(nb_joints=nb_joints_for_dim(mc.input_dim), recons=tc.recons_loss,
                                  commit=tc.commit, vel=tc.loss_vel))
    exact = True
    if resume_from is not None:
        ckpt = load_checkpoint(resume_from, kind=KIND)
        if ckpt.get("train_kind") != TRAIN_KIND:
            raise CheckpointError(f"{resume_from} holds VQ-VAE weights but no training state to resume from")
        exact = state.load_state_dict(ckpt, rank, world)
        del ckpt
    else:
        seed_everything(tc.seed + rank)  # ranks draw different random numbers from here on
    net = model
    if info.enabled:
        # The quantizer keeps its codebook in sync itself; no need to broadcast buffers each step.
        net = D.wrap_ddp(model, dev, sync_buffers=False)

    if info.is_main:  # the data and model are fine: now the folder becomes a run
        write_run_config(out, config)
    D.barrier()
    log = RunLogger(out, total=tc.iters, start=state.step, enabled=info.is_main, progress=progress)
    log.info(f"{'resuming ' + str(resume_from) + ' at step ' + str(state.step) if resume_from else 'training'}: "
             f"{len(windows)} train motions ({windows.num_skipped} shorter than {tc.window_size} frames skipped), "
             f"{len(val) * world if val is not None else 0} val windows, {world} process(es) on {dev.type}, "
             f"global batch {tc.batch_size}, {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters")
    if not exact:
        log.info("note: the checkpoint was written by a different number of processes; random states restart, "
                 "so this continuation is not bit-identical to an uninterrupted run")
    if fid_validation is not None:
        log.info(f"FID validation every {tc.eval_every} updates on the {tc.val_split or 'val'} split "
                 f"(batch {getattr(fid_fn, 'batch_size', '?')})")

    names = ("loss", "recons", "commit", "vel", "perplexity")
    acc = torch.zeros(len(names), dtype=torch.float64, device=dev)
    acc_n, last_train, t_start, step_start = 0, {}, time.perf_counter(), state.step
    t_log = t_start

    def save(path: Path) -> None:
        ckpt = _checkpoint(state, mc, tc, train_ds.mean, train_ds.std, world)
        if info.is_main:
            save_checkpoint(ckpt, path)

    def validate(step: int) -> None:
        improved = False
        if val is not None:
            metrics = evaluate(model, loss_fn, val, dev, max(1, tc.batch_size // world))
            log.scalars(step, metrics, prefix="val")
            best = state.best.get("val_recons", math.inf)
            improved = metrics["recons"] < best
            if improved:
                state.best.update(val_recons=metrics["recons"], step=step)
            log.info(f"val @ {step}: recons {metrics['recons']:.5f} vel {metrics['vel']:.5f} "
                     f"ppl {metrics['perplexity']:.1f} usage {metrics['usage']:.2f}"
                     + (" (best)" if improved else f" (best {best:.5f} @ {state.best.get('step')})"))
        fid = None
        if fid_validation is not None:
            # rank 0 evaluates the bare model (eval mode: no collective); the others wait here
            fid = D.broadcast_object(fid_fn(model) if info.is_main else None)
            log.scalars(step, fid, prefix="eval")
            fid_improved = fid["fid"] < state.best.get("fid", math.inf)
            if fid_improved:
                state.best.update(fid=fid["fid"], fid_step=step)
            log.info(f"eval @ {step}: FID {fid['fid']:.4f} top1 {fid.get('top1', float('nan')):.3f} "
                     f"MM-Dist {fid.get('mm_dist', float('nan')):.3f} diversity {fid.get('diversity', float('nan')):.3f}"
                     + (" (best)" if fid_improved else f" (best {state.best['fid']:.4f} @ {state.best['fid_step']})"))
        if improved:
            save(out / "best.pt")
        if fid is not None and state.best.get("fid_step") == step:
            save(out / "best_fid.pt")

    try:
        if val is not None and state.step == 0:  # the untrained baseline, as the original logs
            metrics = evaluate(model, loss_fn, val, dev, max(1, tc.batch_size // world))
            log.scalars(0, metrics, prefix="val")
            log.info(f"val @ 0: recons {metrics['recons']:.5f} vel {metrics['vel']:.5f}")
        model.train()
        while state.step < tc.iters:
            x = next(loader).to(dev, non_blocking=True)  # (B/world, W, D)
            recon, commit, perplexity = net(x)
            loss, parts = loss_fn(recon, x, commit)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            state.step += 1
            step = state.step
            acc += torch.stack([loss.detach(), parts["recons"].detach(), parts["commit"].detach(),
                                parts["vel"].detach(), perplexity.detach()]).double()
            acc_n += 1
            log.progress(1)

            if step % tc.log_every == 0 or step == tc.iters:
                mean = D.all_reduce_sum(acc.clone()) / (acc_n * world)
                last_train = {k: float(v) for k, v in zip(names, mean.tolist())}
                last_train["usage"] = float(model.quantizer.usage)
                last_train["lr"] = scheduler.get_last_lr()[0]
                now = time.perf_counter()
                rate = acc_n * tc.batch_size / max(now - t_log, 1e-9)
                log.scalars(step, {**last_train, "windows_per_s": rate})
                log.progress(0, loss=last_train["loss"], ppl=last_train["perplexity"])
                eta = format_duration((tc.iters - step) * tc.batch_size / rate)
                log.info(f"step {step}/{tc.iters} | loss {last_train['loss']:.5f} recons {last_train['recons']:.5f} "
                         f"commit {last_train['commit']:.5f} vel {last_train['vel']:.5f} "
                         f"ppl {last_train['perplexity']:.1f} usage {last_train['usage']:.2f} | "
                         f"lr {last_train['lr']:.3g} | {rate:.0f} windows/s | ETA {eta}")
                acc.zero_()
                acc_n, t_log = 0, now

            if step % tc.eval_every == 0 or step == tc.iters:
                validate(step)
            if step % tc.save_every == 0 or step == tc.iters:
                save(out / "last.pt")
    except KeyboardInterrupt:
        if not info.enabled and state.step > step_start:  # under DDP the other ranks may be gone
            log.info(f"interrupted: saving last.pt at step {state.step} (continue with --resume)")
            save(out / "last.pt")
        raise
    finally:
        loader.close()
        log.close()

    elapsed = time.perf_counter() - t_start
    done = state.step - step_start
    return VQRunResult(out, state.step, dict(state.best), last_train, done * tc.batch_size / max(elapsed, 1e-9))
