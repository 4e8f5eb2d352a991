"""The training loop of both models: `fit(task, out, train_config)`.

The model-specific part is a task object (`VQTask`, `GPTTask`): build the model, turn a batch
into a loss, validate. Everything else is here, once: the rank-0 run folder (never clobbered,
removed again if the run fails before its first checkpoint), AdamW with the paper's schedule,
exact resume, DDP, the log / eval / save cadence (by steps and by minutes), best.pt and
best_fid.pt, a consistent save on Ctrl-C or SIGTERM, and a clear stop on a non-finite loss.

A task provides (see `VQTask` for a complete one):
    kind, train_kind       checkpoint kinds (what loads it / which trainer can resume it)
    unit                   what a batch holds, for throughput ('windows', 'sequences')
    stat_names             names of the per-step statistics `loss` returns, 'loss' first
    bar                    summary entries shown on the progress bar
    best_key               validation metric kept by best.pt (best['val_' + best_key])
    config() -> dict       the run's config.json
    setup(run) -> [str]    load the data (`run`: a `RunInfo`); returns a summary and notes for the log
    num_entries            training set size (after setup): a resume on other data is not exact
    build(device) -> model the bare model, seeded identically on every rank
    loader(rank, world, device)  an endless, resumable batch iterator (state_dict/close)
    loss(net, batch) -> (loss, stats)   stats: 1-d float64 tensor of len(stat_names), detached
    summary(mean_stats, model) -> dict  averaged training statistics to log
    train_line(d), val_line(m) -> str   their log text
    val                    the validation data (None: no validation split)
    validate(model) -> dict             validation metrics over all ranks (collective)
    fid_input(model)       what the FID validation is called with (rank 0)
    checkpoint(model) -> dict  entries besides the training state (collective)
    size_hint              which options make the model smaller (for an out-of-memory error)
    config_defaults        optional: {section: defaults} of config() sections besides 'train', so that
                           a run stored before an option existed resumes when it is left at its default
"""
from __future__ import annotations

import math
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from t2mgpt.errors import CheckpointError, InputError, TrainingError
from t2mgpt.train import distributed as D
from t2mgpt.train.common import (TrainState, make_scheduler, prepare_run_dir, remove_orphan_temp_files,
                                 seed_everything, write_run_config)
from t2mgpt.train.config import RESUMABLE, TrainConfig
from t2mgpt.train.interrupt import Interrupted, StopFlag
from t2mgpt.train.memory import check_fits, on_allocation_failure

CHECKPOINTS = ("last.pt", "best.pt", "best_fid.pt")


@dataclass
class RunResult:
    run_dir: Path
    step: int
    best: dict  # {'val_<best_key>', 'step'} and, with FID validation, {'fid', 'fid_step'}
    train: dict  # last logged training averages
    items_per_s: float  # training throughput of this invocation (all processes), in task.unit
    unit: str


@dataclass
class RunInfo:
    """What a task's `setup` may use."""

    out: Path
    dist: D.DistInfo
    device: torch.device
    fresh: bool  # the folder holds no run yet
    fid: bool  # FID validation will run
    progress: bool  # show progress bars (rank 0, terminal)


def fit(task, out: str | Path, tc: TrainConfig, *, resume: bool = False, device: str = "auto",
        progress: bool | None = None, fid_validation: Callable[[], Callable] | None = None) -> RunResult:
    """Train (or with `resume`, continue) `task` into the run folder `out`.

    `fid_validation`: a factory called once on rank 0, returning `validate(task.fid_input(model))
    -> dict` with an 'fid' entry, called every eval_every updates (keeps best_fid.pt).
    Under torchrun every process calls this; rank 0 logs and writes.
    """
    out = Path(out)
    info, dev = D.setup_distributed(device)
    if tc.batch_size % info.world_size:
        raise InputError(f"--batch-size {tc.batch_size} is the global batch; it must be divisible by the "
                         f"{info.world_size} processes")
    created = not out.exists()
    try:
        return _fit(task, out, tc, info, dev, resume, progress, fid_validation)
    except BaseException:
        if info.is_main and created:
            _remove_unstarted(out)
        raise


def _remove_unstarted(out: Path) -> None:
    """A run that failed before writing any checkpoint leaves nothing behind."""
    if out.is_dir() and not any((out / name).exists() for name in CHECKPOINTS):
        shutil.rmtree(out, ignore_errors=True)


def _fit(task, out: Path, tc: TrainConfig, info: D.DistInfo, dev: torch.device, resume: bool,
         progress: bool | None, fid_validation) -> RunResult:
    from t2mgpt.train.logging import RunLogger

    main, world = info.is_main, info.world_size
    config = task.config()
    # options newer than a stored run, left at their default
    defaults = {"train": type(tc)().to_dict(), **getattr(task, "config_defaults", {})}

    def decide():
        start = prepare_run_dir(out, config, resume, RESUMABLE, write=False, defaults=defaults)
        remove_orphan_temp_files(out)
        return start

    resume_from = D.on_main(main, decide, share=True)
    fresh = not (out / "config.json").exists()
    fid_fn = D.on_main(main, fid_validation) if fid_validation is not None else None
    show = (progress if progress is not None else sys.stderr.isatty()) and main
    summary, *notes = task.setup(RunInfo(out, info, dev, fresh, fid_fn is not None, show))

    check_fits(task, dev)
    seed_everything(tc.seed)  # identical initial weights on every rank
    with on_allocation_failure(task):
        model = task.build(dev)
        optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, betas=tc.betas, weight_decay=tc.weight_decay)
    scheduler = make_scheduler(optimizer, tc.warmup_iters, tc.lr_milestones, tc.gamma)
    loader = task.loader(info.rank, world, dev)
    state = TrainState(model, optimizer, scheduler, loader)
    try:
        exact = _restore(state, task, resume_from, info) if resume_from is not None else True
        if resume_from is None:
            seed_everything(tc.seed + info.rank)  # ranks draw different random numbers from here on
        # Modules keep their buffers in sync themselves (the quantizer) or have fixed ones.
        net = D.wrap_ddp(model, dev, sync_buffers=False) if info.enabled else model

        if main:  # the data and model are fine: now the folder becomes a run
            write_run_config(out, config)
        D.barrier()
        log = RunLogger(out, total=tc.iters, start=state.step, enabled=main, progress=progress)
    except BaseException:
        loader.close()
        raise
    run = _Run(task, tc, out, info, dev, state, net, log, fid_fn, saved_step=state.step if resume_from else None)
    action = f"resuming {resume_from} at step {state.step}" if resume_from else "training"
    log.info(f"{action}: {summary}; {world} process(es) on {dev.type}, global batch {tc.batch_size}, "
             f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters")
    for note in notes:
        log.info(note)
    if not exact:
        log.info("note: the checkpoint was written by a different number of processes or for other data; random "
                 "states restart, so this continuation is not bit-identical to an uninterrupted run")
    if fid_fn is not None:
        log.info(f"FID validation every {tc.eval_every} updates on the {tc.val_split or 'val'} split "
                 f"(batch {getattr(fid_fn, 'batch_size', '?')})")
    try:
        return run.train()
    finally:
        loader.close()
        log.close()


def _restore(state: TrainState, task, path: Path, info: D.DistInfo) -> bool:
    """Load the training state of `path`; False if the continuation cannot be bit-identical
    (another number of processes, other training data)."""
    from t2mgpt.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path, kind=task.kind)
    if ckpt.get("train_kind") != task.train_kind:
        raise CheckpointError(f"{path} holds weights but no {task.train_kind} training state to resume from")
    exact = state.load_state_dict(ckpt, info.rank, info.world_size)
    return exact and ckpt.get("num_entries") in (None, task.num_entries)


class _Run:
    """One invocation's training: the step loop and its cadence."""

    def __init__(self, task, tc: TrainConfig, out: Path, info: D.DistInfo, dev: torch.device, state: TrainState,
                 net, log, fid_fn, saved_step: int | None):
        self.task, self.tc, self.out, self.info, self.dev = task, tc, out, info, dev
        self.state, self.net, self.log, self.fid_fn = state, net, log, fid_fn
        self.saved_step = saved_step  # of last.pt
        self.acc = torch.zeros(len(task.stat_names), dtype=torch.float64, device=dev)
        self.acc_n, self.last_train = 0, {}
        self.t_log = self.t_saved = time.perf_counter()

    def train(self) -> RunResult:
        state, tc, model = self.state, self.tc, self.state.model
        t_start, step_start = time.perf_counter(), state.step
        with StopFlag() as stop:
            if state.step == 0:  # the untrained baseline
                self.validate(0)
            if self._agree(stop.signum is not None, False)[0]:  # a signal during the baseline
                self.stop(stop.signum)
            model.train()
            while state.step < tc.iters:
                self.step()
                step = state.step
                if step % tc.log_every == 0 or step == tc.iters:
                    self.log_train(step)
                if step % tc.eval_every == 0 or step == tc.iters:
                    self.validate(step)
                by_steps = tc.save_every and step % tc.save_every == 0
                by_time = tc.save_minutes and time.perf_counter() - self.t_saved >= 60 * tc.save_minutes
                stop_now, save_now = self._agree(stop.signum is not None, bool(by_steps or by_time))
                if stop_now and step < tc.iters:
                    self.stop(stop.signum)
                if save_now or step == tc.iters:
                    self.save_last()
        elapsed = time.perf_counter() - t_start
        rate = (state.step - step_start) * tc.batch_size / max(elapsed, 1e-9)
        return RunResult(self.out, state.step, dict(state.best), self.last_train, rate, self.task.unit)

    def stop(self, signum: int | None) -> None:
        """Save last.pt at this step boundary and raise `Interrupted`."""
        signum = signum or signal.SIGTERM  # a rank that got no signal stops with the others
        self.log.info(f"interrupted by {signal.Signals(signum).name}: saving last.pt at step {self.state.step} "
                      f"(continue with --resume)")
        self.save_last()
        raise Interrupted(signum, self.state.step)

    def _agree(self, stop: bool, save: bool) -> tuple[bool, bool]:
        """(stop, save) decided by any rank (rank 0's clock decides time-based saves): one tiny collective."""
        if not D.is_dist():
            return stop, save
        flags = torch.tensor([float(stop), float(save and self.info.is_main)], device=self.dev)
        D.all_reduce_sum(flags)
        return bool(flags[0] > 0), bool(flags[1] > 0)

    def step(self) -> None:
        state, tc = self.state, self.tc
        batch = next(state.data)
        loss, stats = self.task.loss(self.net, batch)
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(state.model.parameters(), tc.grad_clip)
        state.optimizer.step()
        state.scheduler.step()
        state.step += 1
        self.acc += stats
        self.acc_n += 1
        self.log.progress(1)

    def log_train(self, step: int) -> None:
        from t2mgpt.train.logging import format_duration

        tc, world = self.tc, self.info.world_size
        mean = D.all_reduce_sum(self.acc.clone()) / (self.acc_n * world)
        self.check_finite(mean)
        d = self.task.summary(mean, self.state.model)
        d["lr"] = self.state.scheduler.get_last_lr()[0]
        now = time.perf_counter()
        rate = self.acc_n * tc.batch_size / max(now - self.t_log, 1e-9)
        unit = self.task.unit
        self.log.scalars(step, {**d, f"{unit}_per_s": rate})
        self.log.progress(0, **{k: d[k] for k in self.task.bar})
        eta = format_duration((tc.iters - step) * tc.batch_size / rate)
        self.log.info(f"step {step}/{tc.iters} | {self.task.train_line(d)} | lr {d['lr']:.3g} | "
                      f"{rate:.1f} {unit}/s | ETA {eta}")
        self.last_train = d
        self.acc.zero_()
        self.acc_n, self.t_log = 0, now

    def check_finite(self, stats: torch.Tensor | None = None) -> None:
        """Stop on a non-finite loss or weights, before they reach a checkpoint (collective)."""
        if stats is None:
            stats = D.all_reduce_sum(self.acc.clone())
        bad = torch.stack([~torch.isfinite(stats).all()] + [~torch.isfinite(p).all()
                                                           for p in self.state.model.parameters()]).any()
        bad = D.all_reduce_sum(bad.float().reshape(1))
        if bad.item() > 0:
            kept = ("no last.pt was written" if self.saved_step is None
                    else f"last.pt (step {self.saved_step}) is kept")
            raise TrainingError(f"training diverged: the loss is not finite at step {self.state.step}; {kept}. "
                                f"Start a new run with a lower --lr (now {self.tc.lr:g}) or with --grad-clip")

    def save(self, path: Path) -> None:
        from t2mgpt import __version__
        from t2mgpt.train.checkpoint import save_checkpoint

        self.check_finite()
        ckpt = self.state.state_dict()  # collective
        extra = self.task.checkpoint(self.state.model)  # collective
        if self.info.is_main:
            save_checkpoint({**ckpt, **extra, "num_entries": self.task.num_entries,
                             "world_size": self.info.world_size, "version": __version__}, path)

    def save_last(self) -> None:
        self.save(self.out / "last.pt")
        self.saved_step, self.t_saved = self.state.step, time.perf_counter()

    def validate(self, step: int) -> None:
        state, log, task = self.state, self.log, self.task
        improved = False
        metrics = task.validate(state.model) if task.val is not None else None
        if metrics is not None:
            log.scalars(step, metrics, prefix="val")
            key = "val_" + task.best_key
            best = state.best.get(key, math.inf)
            improved = metrics[task.best_key] < best
            if improved:
                state.best.update({key: metrics[task.best_key], "step": step})
            log.info(f"val @ {step}: {task.val_line(metrics)}"
                     + (" (best)" if improved else f" (best {best:.5f} @ {state.best.get('step')})"))
        fid = None
        if step > 0 and self.fid_fn is not None:
            # rank 0 evaluates the bare model (eval mode: no collective); the others wait here
            fid = D.broadcast_object(self.fid_fn(task.fid_input(state.model)) if self.info.is_main else None)
            log.scalars(step, fid, prefix="eval")
            if fid["fid"] < state.best.get("fid", math.inf):
                state.best.update(fid=fid["fid"], fid_step=step)
            log.info(f"eval @ {step}: FID {fid['fid']:.4f} top1 {fid.get('top1', math.nan):.3f} "
                     f"MM-Dist {fid.get('mm_dist', math.nan):.3f} diversity {fid.get('diversity', math.nan):.3f}"
                     + (" (best)" if state.best["fid_step"] == step
                        else f" (best {state.best['fid']:.4f} @ {state.best['fid_step']})"))
        if improved:
            self.save(self.out / "best.pt")
        if fid is not None and state.best.get("fid_step") == step:
            self.save(self.out / "best_fid.pt")
