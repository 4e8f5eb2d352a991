"""The GPT task of the training loop (`t2mgpt.train.loop`): the paper's text-conditioned code GPT.

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
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from t2mgpt.errors import CheckpointError, DataError, InputError
from t2mgpt.train import distributed as D
from t2mgpt.train.common import ValShare
from t2mgpt.train.gpt_config import GPTTrainConfig
from t2mgpt.train.loop import RunResult, fit

KIND = "t2mgpt.gpt"
TRAIN_KIND = "gpt"
TEXT_CACHE = "text_features.safetensors"

# `validate(models) -> {"fid": ..., ...}`, called on rank 0 with a
# t2mgpt.eval.generation.GenerationModels (see `make_fid_validation`).
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


def vq_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 of a VQ-VAE's weights and buffers, bit for bit (ties a GPT run to its codes' VQ-VAE)."""
    from t2mgpt.train.vq_task import state_sha256

    return state_sha256(model.state_dict())


def init_from_model_folder(model: torch.nn.Module, name: str) -> None:
    """Copy the GPT weights of a model folder (or bundled name) into `model` (fine-tuning)."""
    from t2mgpt.io.folder import load_model_folder
    from t2mgpt.io.lookup import resolve_model

    _, _, gpt, _ = load_model_folder(resolve_model(name))
    try:
        model.load_state_dict({k: v.float() for k, v in gpt.state_dict().items()})
    except RuntimeError as e:
        raise CheckpointError(f"--init-from {name}: its GPT does not match this run's model sizes: {e}") from e


def text_encoder_spec(text_encoder, clip_dim: int) -> tuple[str, int]:
    """(canonical name, feature size) of a text encoder name or object, without loading it.

    The weight-free 'hashing' encoder (tests, smoke runs) takes any size: `clip_dim`.
    """
    from t2mgpt.text import TEXT_ENCODER_DIMS, canonical_name

    if not isinstance(text_encoder, str):
        return canonical_name(text_encoder.name), int(text_encoder.dim)
    name = canonical_name(text_encoder)
    return name, int(TEXT_ENCODER_DIMS.get(name, clip_dim))


def open_text_encoder(name: str, dim: int, path: str | None, device):
    """Load the named text encoder; a clear error when it is not available here."""
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


def code_config(config: dict) -> dict:
    """What a VQ-VAE's codes depend on: its config with defaults filled in (a manifest written
    before a field existed still matches), without the decoder's look-ahead."""
    from t2mgpt.tokenizer.config import VQVAEConfig

    try:
        config = VQVAEConfig.from_dict(config).to_dict()
    except (InputError, TypeError):
        return config
    config.pop("decoder_lookahead", None)
    return config


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
    made = manifest.get("vq_config")
    if made is not None and code_config(made) != code_config(vq_model.config_dict()):
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
    from t2mgpt.data.codes import tokenize_dataset

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
def evaluate(model, val: ValShare, table: torch.Tensor, device, batch_size: int, block_size: int,
             amp: bool = False) -> dict[str, float]:
    """Validation loss (the training loss without corruption or dropout) and accuracy over all ranks."""
    was_training = model.training
    model.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss sum, correct, counted, samples
    for i in range(0, len(val), batch_size):
        seq, cap = val.chunk(i, batch_size)
        target, lengths = val.source.targets(seq, block_size=block_size)
        target, lengths = torch.from_numpy(target).to(device), torch.from_numpy(lengths).to(device)
        text = table[torch.from_numpy(cap).to(device)]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(target[:, :-1], text)
        per_sample, correct, counted = token_loss(logits, target, lengths)
        sums += torch.stack([per_sample.sum().double(), correct.double(), counted.double(),
                             torch.tensor(float(len(target)), dtype=torch.float64, device=device)])
    D.all_reduce_sum(sums)
    model.train(was_training)
    return {"loss": float(sums[0] / sums[3].clamp(min=1)), "acc": float(sums[1] / sums[2].clamp(min=1))}


class GPTTask:
    """Build a GPT, (caption, codes) pairs -> loss, validate (see `t2mgpt.train.loop`)."""

    kind = KIND
    train_kind = TRAIN_KIND
    unit = "sequences"
    stat_names = ("loss", "correct", "counted")  # summed over steps and ranks; acc = correct / counted
    bar = ("loss", "acc")
    best_key = "loss"
    size_hint = "lower --embed-dim, --num-layers or --block-size"

    def __init__(self, data: str | Path, vq: str | Path, model_config, tc: GPTTrainConfig, *,
                 tokens: str | Path | None, text_encoder, text_encoder_path: str | None):
        from t2mgpt.generator.config import GPTConfig
        from t2mgpt.io.checkpoint import load_vq
        from t2mgpt.io.config import check_sizes

        self.data, self.tc, self.tokens = Path(data), tc, tokens
        self.text_encoder, self.text_encoder_path = text_encoder, text_encoder_path
        self.vq_model, mean, std, self.vq_path = load_vq(vq, "cpu")
        if mean is None:  # an original VQ-VAE checkpoint: the dataset's statistics
            from t2mgpt.data.humanml3d import load_stats

            mean, std = load_stats(data)
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        self.enc_name, self.enc_dim = text_encoder_spec(text_encoder, (model_config or GPTConfig()).clip_dim)
        self.mc = dataclasses.replace(model_config or GPTConfig(), num_vq=self.vq_model.config.nb_code,
                                      clip_dim=self.enc_dim)
        check_sizes(self.vq_model.config_dict(), dataclasses.asdict(self.mc))  # what a model folder may hold
        self.vq_sha = vq_fingerprint(self.vq_model)
        self._fid_models = None

    def config(self) -> dict:
        return {"model": dataclasses.asdict(self.mc), "train": self.tc.to_dict(),
                "text_encoder": {"name": self.enc_name, "dim": self.enc_dim},
                "vq": {"config": self.vq_model.config_dict(), "sha256": self.vq_sha}}

    def setup(self, run) -> list[str]:
        tc, mc, out, main = self.tc, self.mc, run.out, run.dist.is_main
        if self.tokens is None:
            self.tokens = out / "tokens"
            splits = tuple(s for s in (tc.train_split, tc.val_split) if s)
            D.on_main(main, lambda: tokenize_into_run(self.data, self.vq_path, self.tokens, splits, run.device))
        self.tokens = Path(self.tokens)
        notes = [check_tokens(self.tokens, self.vq_model, self.vq_path)]
        unit = self.vq_model.config.downsample
        self.pairs = load_pairs(self.tokens, self.data, tc.train_split, mc.block_size, mc.num_vq, unit)
        self.val = None
        if tc.val_split:
            val_pairs = load_pairs(self.tokens, self.data, tc.val_split, mc.block_size, mc.num_vq, unit, "--val-split")
            self.val = ValShare.make(val_pairs, val_pairs.all_pairs(), tc.val_max_samples, run.dist.rank,
                                    run.dist.world_size)
        self.text_cache = self._text_features(run)
        self.table = self.text_cache.encode(self.pairs.captions).to(run.device)  # (n_captions, dim)
        self.val_table = self.text_cache.encode(self.val.source.captions).to(run.device) if self.val else None
        self.device, self.world, self.num_entries = run.device, run.dist.world_size, len(self.pairs)
        n_val = len(self.val) * self.world if self.val is not None else 0
        return [f"train {self.pairs.summary()}; {n_val} val pairs; codes {self.tokens} of VQ-VAE {self.vq_path}; "
                f"text encoder {self.enc_name} ({self.enc_dim}-d)"] + [n for n in notes if n]

    def _text_features(self, run):
        """Every caption's feature: computed once on rank 0 (cached in the run folder), read by every rank."""
        from t2mgpt.text import TextFeatureCache

        out = run.out
        texts = list(dict.fromkeys(self.pairs.captions + (self.val.source.captions if self.val is not None else [])))

        def features():
            if run.fresh and (out / TEXT_CACHE).exists():
                (out / TEXT_CACHE).unlink()  # left by a run that failed before it started
            return text_feature_cache(out, texts, self.text_encoder, self.enc_name, self.enc_dim,
                                      self.text_encoder_path, run.device, keep_encoder=run.fid, progress=run.progress)

        cache = D.on_main(run.dist.is_main, features)
        return cache if run.dist.is_main else TextFeatureCache(None, out / TEXT_CACHE, name=self.enc_name,
                                                               dim=self.enc_dim)

    def build(self, device) -> torch.nn.Module:
        from t2mgpt.generator.gpt import MotionGPT

        model = MotionGPT(self.mc)
        # fine-tuning (a resumed run then loads its own weights over these); not when the loop
        # only counts sizes on the meta device
        if self.tc.init_from and torch.device(device).type != "meta":
            init_from_model_folder(model, self.tc.init_from)
        return model.to(device)

    def loader(self, rank: int, world: int, device):
        from t2mgpt.data.gpt_dataset import PairLoader

        return PairLoader(self.pairs, self.tc.batch_size, self.mc.block_size, self.tc.seed, rank, world,
                          span_share=self.tc.span_share)

    def loss(self, net, b) -> tuple[torch.Tensor, torch.Tensor]:
        dev = self.device
        target = torch.from_numpy(b.target).to(dev, non_blocking=True)  # (b, block_size)
        lengths = torch.from_numpy(b.lengths).to(dev, non_blocking=True)  # (b,)
        text = self.table[torch.from_numpy(b.caption).to(dev)]  # (b, clip_dim)
        if self.tc.cond_drop > 0:  # the zero feature is the "no text" input of classifier-free guidance
            text = text * (torch.rand(len(text), 1, device=dev) >= self.tc.cond_drop).to(text.dtype)
        inputs = corrupt_codes(target[:, :-1], self.tc.pkeep, self.mc.num_vq)  # (b, block_size - 1)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=self.tc.amp):
            logits = net(inputs, text)  # (b, block_size, num_vq + 1)
        per_sample, correct, counted = token_loss(logits, target, lengths)
        loss = per_sample.mean()
        return loss, torch.stack([loss.detach().double(), correct.double(), counted.double()])

    def summary(self, mean: torch.Tensor, model) -> dict:
        return {"loss": float(mean[0]), "acc": float(mean[1] / mean[2])}

    @staticmethod
    def train_line(d: dict) -> str:
        return f"loss {d['loss']:.5f} acc {d['acc']:.4f}"

    val_line = train_line  # validation reports the same loss and accuracy

    def validate(self, model) -> dict:
        return evaluate(model, self.val, self.val_table, self.device, max(1, self.tc.batch_size // self.world),
                        self.mc.block_size, self.tc.amp)

    def fid_input(self, model):
        if self._fid_models is None:
            from t2mgpt.eval.generation import GenerationModels
            from t2mgpt.motion.normalize import Normalizer

            vq = self.vq_model.to(self.device).eval()
            self._fid_models = GenerationModels(vq, model, self.text_cache, Normalizer(self.mean, self.std))
        return self._fid_models

    def checkpoint(self, model) -> dict:
        path = self.text_encoder_path
        return {
            "kind": KIND, "train_kind": TRAIN_KIND, "config": dataclasses.asdict(self.mc),
            "train_config": self.tc.to_dict(),
            "text_encoder": {"name": self.enc_name, "dim": self.enc_dim,
                             "path": str(Path(path).expanduser().resolve()) if path else None},
            "vq": {"path": str(self.vq_path), "config": self.vq_model.config_dict(), "sha256": self.vq_sha},
            "mean": torch.from_numpy(self.mean), "std": torch.from_numpy(self.std),
            "dataset": {"path": str(self.data.resolve()), "tokens": str(self.tokens.resolve()), "fps": self.pairs.fps,
                        "frames_per_code": self.vq_model.config.downsample, "feature_dim": int(self.mean.shape[0])},
        }


def train_gpt(data: str | Path, vq: str | Path, out: str | Path, model_config=None,
              train_config: GPTTrainConfig | None = None, *, tokens: str | Path | None = None,
              text_encoder="minilm", text_encoder_path: str | None = None, resume: bool = False,
              device: str = "auto", progress: bool | None = None,
              fid_validation: Callable[[], FIDValidation] | None = None) -> RunResult:
    """Train (or with `resume`, continue) the GPT on the codes of `data` made by the VQ-VAE `vq`.

    `tokens`: the folder of `t2mgpt tokenize` (None: encode into RUN_DIR/tokens here).
    `text_encoder`: 'minilm', 'clip', 'hashing' or an encoder object (name, dim, encode).
    `model_config`: a GPTConfig; num_vq and clip_dim are set from the VQ-VAE and the encoder.
    `fid_validation`: a factory called once on rank 0, returning `validate(models) -> dict`
    with an 'fid' entry, called every eval_every updates (keeps best_fid.pt); e.g.
    `lambda: make_fid_validation(evaluator, data, device=...)`.
    Under torchrun every process calls this; rank 0 logs and writes checkpoints.
    """
    tc = train_config or GPTTrainConfig()
    task = GPTTask(data, vq, model_config, tc, tokens=tokens, text_encoder=text_encoder,
                   text_encoder_path=text_encoder_path)
    return fit(task, out, tc, resume=resume, device=device, progress=progress, fid_validation=fid_validation)
