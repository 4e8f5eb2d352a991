"""Train the text-conditioned code GPT (the paper's recipe by default), on one device or under torchrun DDP.

Recipe of the authors' `train_t2m_trans.py` (see `t2mgpt.train.gpt_config`): batches of 128
(caption, codes) pairs (`t2mgpt.data.gpt_dataset`), the caption's frozen text feature as the
first token, the codes corrupted (each input code replaced by a random one with probability
1 - pkeep), cross-entropy on the codes and END (PAD positions masked), averaged per sample,
then over the batch; AdamW(lr 1e-4, betas (0.5, 0.9), weight decay 1e-6), 300k updates,
lr x0.05 after 150k, no warm-up, no clipping.

The text encoder runs once per run, not per step: every caption's feature is computed up
front and cached in RUN_DIR/text_features.safetensors (a table indexed by caption id).
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
import torch.nn.functional as F

from t2mgpt.errors import CheckpointError, DataError, InputError
from t2mgpt.train import distributed as D
from t2mgpt.train.common import TrainState, make_scheduler, prepare_run_dir, seed_everything, write_run_config
from t2mgpt.train.gpt_config import RESUMABLE, GPTTrainConfig  # noqa: F401 (re-exported)

KIND = "t2mgpt.gpt"
TRAIN_KIND = "gpt"
TEXT_CACHE = "text_features.safetensors"

# `validate(models) -> {"fid": ..., ...}`, called on rank 0 with a
# t2mgpt.eval.protocol.GenerationModels (see `make_fid_validation`).
FIDValidation = Callable[[object], dict]


# --------------------------------------------------------------------------------------------
# the paper's objective


def corrupt_codes(codes: torch.Tensor, pkeep: float, nb_code: int) -> torch.Tensor:
    """Keep each code with probability `pkeep`, else replace it by a uniform random code.

    As the original: one Bernoulli(pkeep) mask over the whole (B, N) input (END and PAD
    positions included: they only feed positions that are not trained on), random codes
    from `randint_like(codes, nb_code)`; pkeep = -1 draws pkeep ~ U[0, 1) once per batch
    (NumPy's global generator, as `np.random.rand(1)[0]`).
    """
    if pkeep == -1:
        pkeep = float(np.random.rand(1)[0])
    if pkeep >= 1.0:
        return codes
    keep = torch.bernoulli(torch.full(codes.shape, pkeep, device=codes.device)).bool()
    return torch.where(keep, codes, torch.randint_like(codes, nb_code))


def token_loss(logits: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cross-entropy of each sample over its codes and END, and argmax hits.

    logits (B, T, V) (V = num_vq + 1), target (B, T) `[codes, END, PAD...]`, lengths (B,) code
    counts. Position t < lengths + 1 counts; PAD never does. Returns per-sample mean losses
    (B,) -- the original's loss is their mean -- correct predictions and counted positions.
    """
    B, T, V = logits.shape
    valid = torch.arange(T, device=target.device)[None] <= lengths[:, None]  # (B, T)
    ce = F.cross_entropy(logits.reshape(B * T, V).float(), target.masked_fill(~valid, 0).reshape(B * T),
                         reduction="none").view(B, T)
    per_sample = (ce * valid).sum(1) / valid.sum(1)  # (B,)
    correct = ((logits.detach().argmax(-1) == target) & valid).sum()
    return per_sample, correct, valid.sum()


# --------------------------------------------------------------------------------------------
# data, text features, VQ-VAE


@dataclass
class ValPairs:
    """This rank's share (every world-th) of the fixed validation pairs: full sequences, no drop."""

    pairs: object  # CodeCaptionPairs
    seq: np.ndarray
    cap: np.ndarray

    @classmethod
    def make(cls, pairs, max_samples: int, rank: int, world: int) -> "ValPairs":
        seq, cap = pairs.all_pairs()
        if max_samples and len(seq) > max_samples:
            keep = np.linspace(0, len(seq) - 1, max_samples).round().astype(np.int64)
            seq, cap = seq[keep], cap[keep]
        return cls(pairs, seq[rank::world], cap[rank::world])

    def __len__(self) -> int:
        return len(self.seq)


def vq_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 of a VQ-VAE's weights and buffers, bit for bit (ties a GPT run to its codes' VQ-VAE)."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def init_from_model_folder(model: torch.nn.Module, name: str) -> None:
    """Copy the GPT weights of a model folder (or bundled name) into `model` (fine-tuning)."""
    from t2mgpt.model_folder import load_model_folder, resolve_model

    _, _, gpt, _ = load_model_folder(resolve_model(name))
    try:
        model.load_state_dict({k: v.float() for k, v in gpt.state_dict().items()})
    except RuntimeError as e:
        raise CheckpointError(f"--init-from {name}: its GPT does not match this run's model sizes: {e}") from e


def text_encoder_spec(text_encoder, clip_dim: int) -> tuple[str, int]:
    """(canonical name, feature size) of a text encoder name or object, without loading it.

    The weight-free 'hashing' encoder (tests, smoke runs) takes any size: `clip_dim`.
    """
    from t2mgpt.model_folder import canonical_text_encoder
    from t2mgpt.text import TEXT_ENCODER_DIMS

    if not isinstance(text_encoder, str):
        return canonical_text_encoder(text_encoder.name), int(text_encoder.dim)
    name = canonical_text_encoder(text_encoder)
    return name, int(TEXT_ENCODER_DIMS.get(name, clip_dim))


def open_text_encoder(name: str, dim: int, path: str | None, device):
    """Load the named text encoder; a clear error when it is not available here."""
    from t2mgpt.text.hashing import HashingTextEncoder

    if name == HashingTextEncoder.name:
        return HashingTextEncoder(dim, device=device)
    from t2mgpt.text import get_text_encoder

    try:
        return get_text_encoder(name, device=device, path=path, dim=dim)
    except CheckpointError as e:
        raise CheckpointError(f"train-gpt needs the {name} text encoder to encode the captions, but it cannot be "
                              f"loaded: {e}") from e


def text_feature_cache(run_dir: Path, texts: list[str], text_encoder, name: str, dim: int, path: str | None,
                       device, keep_encoder: bool, progress: bool):
    """The run's caption -> feature cache, with every text of `texts` in it (rank 0 only).

    Features missing from RUN_DIR/text_features.safetensors are computed with the encoder
    (loaded only then) and saved. Returns a `TextFeatureCache`, read-only unless
    `keep_encoder` (then new texts are encoded on demand, e.g. by FID validation).
    """
    from t2mgpt.text import TextFeatureCache

    file = run_dir / TEXT_CACHE
    cache = TextFeatureCache(None, file, name=name, dim=dim) if file.exists() else None
    missing = cache is None or any(t not in cache for t in texts)
    if missing or keep_encoder:
        enc = text_encoder if not isinstance(text_encoder, str) else open_text_encoder(name, dim, path, device)
        cache = TextFeatureCache(enc, file)
        if missing:
            run_dir.mkdir(parents=True, exist_ok=True)
            cache.precompute(texts, progress=progress)
    return cache


def load_pairs(tokens: Path, data: Path, split: str, block_size: int, nb_code: int, frames_per_code: int,
               what: str = "--train-split"):
    from t2mgpt.data.gpt_dataset import CodeCaptionPairs

    try:
        return CodeCaptionPairs(tokens, data, split, max_codes=block_size - 1, nb_code=nb_code,
                                frames_per_code=frames_per_code)
    except DataError as e:
        hint = " (or --val-split '' to train without validation)" if what == "--val-split" else ""
        raise DataError(f"{what} {split}: {e}{hint}") from e


def check_tokens(tokens: Path, vq_model, vq_path: Path) -> str | None:
    """The codes must come from this VQ-VAE (same architecture and codebook size). Returns a
    note for the log when they were made from another checkpoint file."""
    from t2mgpt.data.gpt_dataset import read_manifest

    manifest = read_manifest(tokens)
    if manifest is None:  # the original's layout: code ranges are checked on load
        return None
    nb = manifest.get("nb_code")
    if nb is not None and int(nb) != vq_model.config.nb_code:
        raise DataError(f"the codes in {tokens} index a codebook of {nb} codes but the VQ-VAE {vq_path} has "
                        f"{vq_model.config.nb_code} (nb_code): they were made by another VQ-VAE; re-run "
                        f"`t2mgpt tokenize --vq {vq_path}` or pass the matching --vq")
    if manifest.get("vq_config") not in (None, vq_model.config_dict()):
        raise DataError(f"the codes in {tokens} were made by a VQ-VAE of another configuration "
                        f"({manifest.get('vq')}) than {vq_path}; re-run `t2mgpt tokenize` or pass the matching --vq")
    made_by = manifest.get("vq")
    if made_by and Path(made_by).resolve() != Path(vq_path).resolve():
        return (f"note: the codes were made with {made_by} but --vq is {vq_path}; the exported model decodes with "
                f"--vq, so they should be the same weights")
    return None


def tokenize_into_run(data: Path, vq_path: Path, tokens: Path, splits: tuple[str, ...], device) -> None:
    """RUN_DIR/tokens: encode the dataset with the VQ-VAE unless that is already done."""
    from t2mgpt.data.gpt_dataset import read_manifest
    from t2mgpt.tokenize import tokenize_dataset

    try:
        manifest = read_manifest(tokens) if tokens.is_dir() else None
    except DataError:
        manifest = None  # unfinished: encode again
    if manifest is not None and manifest.get("vq") == str(vq_path) and all((tokens / f"{s}.txt").is_file() for s in splits):
        return
    tokenize_dataset(data, vq_path, tokens, splits=splits, device=str(device), progress=sys.stderr.isatty())


def make_fid_validation(evaluator: str | Path, data: str | Path, split: str = "val", *, glove=None, meta=None,
                        device="cpu", batch_size: int = 32, seed: int = 0) -> FIDValidation:
    """FID / R-precision of generated motions on `split`, as the original's periodic
    `evaluation_transformer` (see `t2mgpt.eval.validation.make_split_validation`)."""
    from t2mgpt.eval.validation import make_split_validation

    return make_split_validation(evaluator, data, split, glove=glove, meta=meta, device=device,
                                 batch_size=batch_size, seed=seed, model="gpt_pipeline")


# --------------------------------------------------------------------------------------------
# training


@torch.no_grad()
def evaluate(model, val: ValPairs, table: torch.Tensor, device, batch_size: int, block_size: int,
             amp: bool = False) -> dict[str, float]:
    """Validation loss (the training loss without corruption or dropout) and accuracy over all ranks."""
    was_training = model.training
    model.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss sum, correct, counted, samples
    for i in range(0, len(val), batch_size):
        target, lengths = val.pairs.targets(val.seq[i:i + batch_size], block_size=block_size)
        target, lengths = torch.from_numpy(target).to(device), torch.from_numpy(lengths).to(device)
        text = table[torch.from_numpy(val.cap[i:i + batch_size]).to(device)]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(target[:, :-1], text)
        per_sample, correct, counted = token_loss(logits, target, lengths)
        sums += torch.stack([per_sample.sum().double(), correct.double(), counted.double(),
                             torch.tensor(float(len(target)), dtype=torch.float64, device=device)])
    D.all_reduce_sum(sums)
    model.train(was_training)
    return {"loss": float(sums[0] / sums[3].clamp(min=1)), "acc": float(sums[1] / sums[2].clamp(min=1))}


@dataclass
class GPTRunResult:
    run_dir: Path
    step: int
    best: dict  # {'val_loss', 'step'} and, with FID validation, {'fid', 'fid_step'}
    train: dict  # last logged training averages
    sequences_per_s: float  # training throughput of this invocation (all processes)


def train_gpt(data: str | Path, vq: str | Path, out: str | Path, model_config=None,
              train_config: GPTTrainConfig | None = None, *, tokens: str | Path | None = None,
              text_encoder="minilm", text_encoder_path: str | None = None, resume: bool = False,
              device: str = "auto", progress: bool | None = None,
              fid_validation: Callable[[], FIDValidation] | None = None) -> GPTRunResult:
    """Train (or with `resume`, continue) the GPT on the codes of `data` made by the VQ-VAE `vq`.

    `tokens`: the folder of `t2mgpt tokenize` (None: encode into RUN_DIR/tokens here).
    `text_encoder`: 'minilm', 'clip', 'hashing' or an encoder object (name, dim, encode).
    `model_config`: a GPTConfig; num_vq and clip_dim are set from the VQ-VAE and the encoder.
    `fid_validation`: a factory called once on rank 0, returning `validate(models) -> dict`
    with an 'fid' entry, called every eval_every updates (keeps best_fid.pt); e.g.
    `lambda: make_fid_validation(evaluator, data, device=...)`.
    Under torchrun every process calls this; rank 0 logs and writes checkpoints.
    """
    from t2mgpt.generator.gpt import GPTConfig, MotionGPT
    from t2mgpt.tokenize import load_vq
    from t2mgpt.train.checkpoint import load_checkpoint, save_checkpoint
    from t2mgpt.train.logging import RunLogger, format_duration

    tc = train_config or GPTTrainConfig()
    data, out = Path(data), Path(out)
    info, dev = D.setup_distributed(device)
    rank, world, main = info.rank, info.world_size, info.is_main
    if tc.batch_size % world:
        raise InputError(f"--batch-size {tc.batch_size} is the global batch; it must be divisible by the "
                         f"{world} processes")
    show = (sys.stderr.isatty() if progress is None else progress) and main

    vq_model, mean, std, vq_path = load_vq(vq, "cpu")
    if mean is None:  # an original VQ-VAE checkpoint: the dataset's statistics
        from t2mgpt.data.humanml3d import load_stats

        mean, std = load_stats(data)
    enc_name, enc_dim = text_encoder_spec(text_encoder, (model_config or GPTConfig()).clip_dim)
    mc = dataclasses.replace(model_config or GPTConfig(), num_vq=vq_model.config.nb_code, clip_dim=enc_dim)
    fingerprint = vq_fingerprint(vq_model)
    config = {"model": dataclasses.asdict(mc), "train": tc.to_dict(),
              "text_encoder": {"name": enc_name, "dim": enc_dim},
              "vq": {"config": vq_model.config_dict(), "sha256": fingerprint}}

    # Run folder: rank 0 decides, everyone follows (never clobber another run).
    resume_from = D.on_main(main, lambda: prepare_run_dir(out, config, resume, RESUMABLE, write=False), share=True)
    fresh = not (out / "config.json").exists()
    if tokens is None:
        tokens = out / "tokens"
        splits = tuple(s for s in (tc.train_split, tc.val_split) if s)
        D.on_main(main, lambda: tokenize_into_run(data, vq_path, tokens, splits, dev))
    tokens = Path(tokens)
    tokens_note = check_tokens(tokens, vq_model, vq_path)

    unit = vq_model.config.downsample
    train_pairs = load_pairs(tokens, data, tc.train_split, mc.block_size, mc.num_vq, unit)
    val = None
    if tc.val_split:
        val_pairs = load_pairs(tokens, data, tc.val_split, mc.block_size, mc.num_vq, unit, "--val-split")
        val = ValPairs.make(val_pairs, tc.val_max_samples, rank, world)

    # Text features: computed once on rank 0 (cached in the run folder), read by every rank.
    fid_fn = D.on_main(main, fid_validation) if fid_validation is not None else None
    texts = list(dict.fromkeys(train_pairs.captions + (val.pairs.captions if val is not None else [])))

    def features():
        if fresh and (out / TEXT_CACHE).exists():
            (out / TEXT_CACHE).unlink()  # left by a run that failed before it started
        return text_feature_cache(out, texts, text_encoder, enc_name, enc_dim, text_encoder_path, dev,
                                  keep_encoder=fid_fn is not None, progress=show)

    text_cache = D.on_main(main, features)
    if not main:
        from t2mgpt.text import TextFeatureCache

        text_cache = TextFeatureCache(None, out / TEXT_CACHE, name=enc_name, dim=enc_dim)
    table = text_cache.encode(train_pairs.captions).to(dev)  # (n_captions, dim)
    val_table = text_cache.encode(val.pairs.captions).to(dev) if val is not None else None

    seed_everything(tc.seed)  # identical initial weights on every rank
    model = MotionGPT(mc).to(dev)
    if tc.init_from and resume_from is None:
        init_from_model_folder(model, tc.init_from)
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, betas=tc.betas, weight_decay=tc.weight_decay)
    scheduler = make_scheduler(optimizer, tc.warmup_iters, tc.lr_milestones, tc.gamma)
    from t2mgpt.data.gpt_dataset import PairLoader

    loader = PairLoader(train_pairs, tc.batch_size, mc.block_size, tc.seed, rank, world)
    state = TrainState(model, optimizer, scheduler, loader)
    exact = True
    if resume_from is not None:
        ckpt = load_checkpoint(resume_from, kind=KIND)
        if ckpt.get("train_kind") != TRAIN_KIND:
            raise CheckpointError(f"{resume_from} holds GPT weights but no training state to resume from")
        exact = state.load_state_dict(ckpt, rank, world)
        if ckpt.get("num_entries") not in (None, len(train_pairs)):
            exact = False
        del ckpt
    else:
        seed_everything(tc.seed + rank)  # ranks draw different corruption from here on
    net = D.wrap_ddp(model, dev, sync_buffers=False) if info.enabled else model  # the only buffer is fixed

    if main:  # the data, codes and text features are fine: now the folder becomes a run
        write_run_config(out, config)
    D.barrier()
    log = RunLogger(out, total=tc.iters, start=state.step, enabled=main, progress=progress)
    log.info(f"{'resuming ' + str(resume_from) + ' at step ' + str(state.step) if resume_from else 'training'}: "
             f"train {train_pairs.summary()}; {len(val) * world if val is not None else 0} val pairs; "
             f"codes {tokens} of VQ-VAE {vq_path}; text encoder {enc_name} ({enc_dim}-d); "
             f"{world} process(es) on {dev.type}, global batch {tc.batch_size}, "
             f"{model.num_params() / 1e6:.2f}M parameters")
    if tokens_note:
        log.info(tokens_note)
    if not exact:
        log.info("note: the checkpoint was written by a different number of processes or for other data; random "
                 "states restart, so this continuation is not bit-identical to an uninterrupted run")

    vq_dev = None
    if fid_fn is not None:
        from t2mgpt.eval.protocol import GenerationModels
        from t2mgpt.motion.normalize import Normalizer

        vq_dev = vq_model.to(dev).eval()
        gen_models = GenerationModels(vq_dev, model, text_cache, Normalizer(mean, std))
        log.info(f"FID validation every {tc.eval_every} updates on the {tc.val_split or 'val'} split "
                 f"(batch {getattr(fid_fn, 'batch_size', '?')})")

    local_batch = tc.batch_size // world
    acc = torch.zeros(3, dtype=torch.float64, device=dev)  # loss sum, correct, counted
    acc_n, last_train, t_start, step_start = 0, {}, time.perf_counter(), state.step
    t_log = t_start
    meta = {
        "kind": KIND, "train_kind": TRAIN_KIND, "config": dataclasses.asdict(mc), "train_config": tc.to_dict(),
        "text_encoder": {"name": enc_name, "dim": enc_dim,
                         "path": str(Path(text_encoder_path).expanduser().resolve()) if text_encoder_path else None},
        "vq": {"path": str(vq_path), "config": vq_model.config_dict(), "sha256": fingerprint},
        "mean": torch.from_numpy(np.asarray(mean, np.float32)), "std": torch.from_numpy(np.asarray(std, np.float32)),
        "dataset": {"path": str(data.resolve()), "tokens": str(tokens.resolve()), "fps": train_pairs.fps,
                    "frames_per_code": unit, "feature_dim": int(np.asarray(mean).shape[0])},
        "num_entries": len(train_pairs), "world_size": world,
    }

    def save(path: Path) -> None:
        from t2mgpt import __version__

        ckpt = state.state_dict()  # collective
        if main:
            save_checkpoint({**ckpt, **meta, "version": __version__}, path)

    def validate(step: int) -> None:
        improved = False
        if val is not None:
            m = evaluate(model, val, val_table, dev, max(1, local_batch), mc.block_size, tc.amp)
            log.scalars(step, m, prefix="val")
            best = state.best.get("val_loss", math.inf)
            improved = m["loss"] < best
            if improved:
                state.best.update(val_loss=m["loss"], step=step)
            log.info(f"val @ {step}: loss {m['loss']:.5f} acc {m['acc']:.4f}"
                     + (" (best)" if improved else f" (best {best:.5f} @ {state.best.get('step')})"))
        fid = None
        if step > 0 and fid_validation is not None:
            fid = D.broadcast_object(fid_fn(gen_models) if main else None)
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
        if state.step == 0:  # the untrained baseline
            validate(0)
        model.train()
        while state.step < tc.iters:
            b = next(loader)
            target = torch.from_numpy(b.target).to(dev, non_blocking=True)  # (b, block_size)
            lengths = torch.from_numpy(b.lengths).to(dev, non_blocking=True)  # (b,)
            text = table[torch.from_numpy(b.caption).to(dev)]  # (b, clip_dim)
            if tc.cond_drop > 0:  # the zero feature is the "no text" input of classifier-free guidance
                text = text * (torch.rand(len(text), 1, device=dev) >= tc.cond_drop).to(text.dtype)
            inputs = corrupt_codes(target[:, :-1], tc.pkeep, mc.num_vq)  # (b, block_size - 1)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=tc.amp):
                logits = net(inputs, text)  # (b, block_size, num_vq + 1)
            per_sample, correct, counted = token_loss(logits, target, lengths)
            loss = per_sample.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            optimizer.step()
            scheduler.step()
            state.step += 1
            step = state.step
            acc += torch.stack([loss.detach().double(), correct.double(), counted.double()])
            acc_n += 1
            log.progress(1)

            if step % tc.log_every == 0 or step == tc.iters:
                total = D.all_reduce_sum(acc.clone())
                now = time.perf_counter()
                rate = acc_n * tc.batch_size / max(now - t_log, 1e-9)
                last_train = {"loss": float(total[0]) / (acc_n * world), "acc": float(total[1] / total[2]),
                              "lr": scheduler.get_last_lr()[0]}
                log.scalars(step, {**last_train, "sequences_per_s": rate})
                log.progress(0, loss=last_train["loss"], acc=last_train["acc"])
                eta = format_duration((tc.iters - step) * tc.batch_size / rate)
                log.info(f"step {step}/{tc.iters} | loss {last_train['loss']:.5f} acc {last_train['acc']:.4f} | "
                         f"lr {last_train['lr']:.3g} | {rate:.1f} sequences/s | ETA {eta}")
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
    return GPTRunResult(out, state.step, dict(state.best), last_train, done * tc.batch_size / max(elapsed, 1e-9))
