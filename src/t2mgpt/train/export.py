"""A finished model folder (`t2mgpt.io.folder`) from a train-vq run and a train-gpt run (or the
GPT of another model folder).

    export_model_folder("runs/vq", "runs/gpt", "models/my-model", name="my-model")
    T2MGPT.from_pretrained("models/my-model")

The GPT checkpoint records which VQ-VAE its codes came from (a SHA-256 of the weights), the
text encoder it was conditioned on and the feature statistics; a VQ-VAE other than the one
the codes were made with is refused, except a decoder-only fine-tuning of it (same encoder
and codebook, so the same codes; e.g. a decoder with a bounded look-ahead for streaming).
With `half`, floating-point weights are stored as float16 (half the size; loading upcasts
them to float32); tensors float16 cannot hold (|x| > 65504) stay float32.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from t2mgpt.errors import CheckpointError, InputError

GPT_CHECKPOINTS = ("best_fid.pt", "best.pt", "last.pt")  # preference order of a run folder


def resolve_gpt_checkpoint(path: str | Path, checkpoint: str = "auto") -> Path:
    """A train-gpt run folder (`checkpoint`: auto = best_fid.pt, else best.pt, else last.pt;
    or best_fid / best / last) or a checkpoint file."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise CheckpointError(f"GPT run {path} not found: pass a train-gpt run folder or one of its checkpoints")
    names = GPT_CHECKPOINTS if checkpoint == "auto" else (checkpoint.removesuffix(".pt") + ".pt",)
    if names[0] not in GPT_CHECKPOINTS:
        raise InputError(f"checkpoint must be auto, best_fid, best or last, got {checkpoint!r}")
    for name in names:
        if (path / name).is_file():
            return path / name
    raise CheckpointError(f"{path} holds no {' / '.join(names)}; is it a train-gpt run folder? (train it first)")


def load_gpt_checkpoint(path: str | Path):
    """(MotionGPT in eval mode, checkpoint dict) from a train-gpt checkpoint."""
    from t2mgpt.generator.config import GPTConfig
    from t2mgpt.generator.gpt import MotionGPT
    from t2mgpt.train.checkpoint import load_checkpoint
    from t2mgpt.train.gpt_task import KIND

    ckpt = load_checkpoint(path, kind=KIND)
    try:
        model = MotionGPT(GPTConfig(**ckpt["config"]))
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, RuntimeError, InputError) as e:
        raise CheckpointError(f"{path}: GPT weights do not match the stored config: {e}") from e
    return model.eval(), ckpt


def same_codes(vq, vq_path: Path, sha256: str) -> bool:
    """Whether `vq` is a decoder-only fine-tuning (`train-vq --decoder-only`) of the VQ-VAE whose
    weights hash to `sha256`: its checkpoint names that origin and its encoder and codebook are
    still bit-identical to the origin's, so it gives every motion the same codes."""
    from t2mgpt.train.vq_task import codes_fingerprint
    from t2mgpt.utils.io import safe_torch_load

    origin = safe_torch_load(vq_path).get("codes_from") if vq_path.suffix == ".pt" else None
    return (isinstance(origin, dict) and origin.get("sha256") == sha256
            and origin.get("codes_sha256") == codes_fingerprint(vq))


def half_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A copy of `module` whose float32 parameters and buffers are float16 where representable."""
    out = copy.deepcopy(module)
    limit = torch.finfo(torch.float16).max
    for m in out.modules():
        for store in (m._parameters, m._buffers):
            for k, t in store.items():
                if t is not None and t.is_floating_point() and bool(t.detach().abs().max() <= limit):
                    store[k] = torch.nn.Parameter(t.detach().half(), requires_grad=False) \
                        if isinstance(t, torch.nn.Parameter) else t.half()
    return out


@dataclass
class GPTSource:
    """What a model folder takes from where its GPT comes from (a train-gpt run or a model folder)."""

    gpt: torch.nn.Module
    vq: dict  # {'sha256', 'path'}: the VQ-VAE whose codes the GPT was trained on
    text: dict  # {'name', 'dim', 'path'}: the text encoder it was conditioned on
    normalizer: Any
    fps: float | None
    card: Any  # ModelCard: the defaults of the new card
    origin: str  # where the GPT comes from, for the card's notes
    guidance_scale: float = 1.0  # the source's default classifier-free guidance
    cond_drop: float | None = None  # its condition dropout in training (None: unknown, a model folder)
    candidates: int = 1  # the source's default best-of-k
    critic: Path | None = None  # the source's best-of-k critic folder (a model folder's critic/), or None


def gpt_from_run(gpt_run: str | Path, checkpoint: str) -> GPTSource:
    from t2mgpt.io.card import ModelCard
    from t2mgpt.motion.normalize import Normalizer

    gpt_path = resolve_gpt_checkpoint(gpt_run, checkpoint)
    gpt, ckpt = load_gpt_checkpoint(gpt_path)
    best, ds = ckpt.get("best", {}), ckpt["dataset"]
    metrics = {}
    # the run's best values, labelled with their step: they describe this checkpoint only if the steps match
    if "val_loss" in best:
        metrics[f"best validation loss (codes), step {best.get('step', '?')}"] = round(float(best["val_loss"]), 5)
    if "fid" in best:
        metrics[f"best validation FID (greedy decoding), step {best.get('fid_step', '?')}"] = round(float(best["fid"]), 4)
    card = ModelCard(
        description=(f"A T2M-GPT text-to-motion model (VQ-VAE {ckpt['vq']['config']['nb_code']} codes, GPT "
                     f"{gpt.config.num_layers}+{gpt.config.num_layers} layers of width {gpt.config.embed_dim}) "
                     "trained with t2mgpt."),
        trained_on=(f"{ckpt.get('num_entries', '?')} (caption, codes) entries of the dataset at {ds['path']} "
                    f"({ds['feature_dim']}-d features, {ds['fps']:g} fps), "
                    f"{ckpt['step']} updates of batch {ckpt['train_config']['batch_size']}."),
        license="unknown: the licence of the training data applies to these weights", metrics=metrics)
    return GPTSource(gpt, ckpt["vq"], ckpt["text_encoder"], Normalizer(ckpt["mean"].numpy(), ckpt["std"].numpy()),
                     ds.get("fps"), card, f"{gpt_path.name} (step {ckpt['step']}) of a t2mgpt train-gpt run",
                     cond_drop=float(ckpt["train_config"].get("cond_drop", 0.0)))


def gpt_from_model_folder(folder: Path) -> GPTSource:
    """The GPT of a model folder, with its text encoder, statistics and card; its evaluation table and
    metrics are left out (they measured the folder's own VQ-VAE decoder)."""
    from t2mgpt.io.folder import load_model_folder
    from t2mgpt.train.gpt_task import vq_fingerprint

    config, vq, gpt, normalizer = load_model_folder(folder)
    card = dataclasses.replace(config.card, metrics={}, evaluation="")
    text = {"name": config.text_encoder, "dim": config.text_dim, "path": config.text_encoder_path}
    from t2mgpt.rerank import critic_dir

    return GPTSource(gpt, {"sha256": vq_fingerprint(vq.float()), "path": str(folder)}, text, normalizer, config.fps,
                     card, f"the GPT of the model folder {folder.name}", guidance_scale=config.guidance_scale,
                     candidates=config.candidates, critic=critic_dir(folder))


def export_model_folder(vq_run: str | Path, gpt_run: str | Path, out_dir: str | Path, *, name: str | None = None,
                        card_notes: str | None = None, half: bool = False, checkpoint: str = "auto",
                        overwrite: bool = False, license: str | None = None, description: str | None = None,
                        evaluation: str = "", trained_on: str | None = None,
                        guidance_scale: float | None = None, candidates: int | None = None,
                        critic: str | Path | None = None) -> Path:
    """Write the model folder `out_dir` from a VQ-VAE run (or checkpoint) and a GPT run (or checkpoint),
    or the GPT of a model folder (path or name; e.g. with a decoder-only fine-tuning of its VQ-VAE).

    `checkpoint` picks the GPT run's file (auto: best_fid.pt, else best.pt, else last.pt).
    `evaluation` is a markdown table for the card (`t2mgpt.eval.report.markdown_table`);
    `trained_on` replaces the card's generated description of the training data.
    `guidance_scale`: the classifier-free guidance the model samples with by default (needs a GPT
    trained with condition dropout); None keeps the model folder's, or 1 (none) for a run.
    `candidates`: best-of-k by default (`t2mgpt.rerank`; None keeps the model folder's, or 1);
    `critic`: a `t2mgpt train-evaluator` folder to score the candidates with (None keeps a model
    folder's). Returns the folder, loadable with `T2MGPT.from_pretrained(out_dir)`.
    """
    from t2mgpt.io.checkpoint import load_vq
    from t2mgpt.io.config import GPT_FILE, make_config
    from t2mgpt.io.folder import save_model_folder
    from t2mgpt.io.lookup import check_model_name, resolve_model
    from t2mgpt.train.gpt_task import vq_fingerprint
    from t2mgpt.rerank import read_critic
    from t2mgpt.utils.checks import check_candidates, check_guidance_scale

    out_dir = Path(out_dir).expanduser()
    name = check_model_name(name) if name is not None else out_dir.name
    if out_dir.exists() and not overwrite:
        raise InputError(f"{out_dir} already exists; pass --overwrite to replace it")
    p = Path(gpt_run).expanduser()
    is_run = p.is_file() or (p.is_dir() and not (p / GPT_FILE).is_file())
    src = gpt_from_run(p, checkpoint) if is_run else gpt_from_model_folder(resolve_model(gpt_run))
    guidance = src.guidance_scale if guidance_scale is None else guidance_scale
    check_guidance_scale(guidance)
    if guidance != 1.0 and src.cond_drop == 0.0:
        raise InputError(f"the GPT ({src.origin}) was trained without condition dropout (--cond-drop), so it has no "
                         "unconditional prediction to guide with; leave --guidance-scale at 1")
    vq, _, _, vq_path = load_vq(vq_run, "cpu")
    trained = src.vq
    if vq_fingerprint(vq) != trained["sha256"] and not same_codes(vq, vq_path, trained["sha256"]):
        raise CheckpointError(
            f"the GPT ({src.origin}) was trained on the codes of the VQ-VAE {trained['path']}, but {vq_path} holds "
            f"other weights (e.g. another checkpoint of the run); pass --vq {trained['path']}")
    notes = [f"Exported from {src.origin} and the VQ-VAE {vq_path.name}" + (", weights stored as float16" if half
                                                                           else "") + "."]
    if vq.config.decoder_lookahead is not None:
        notes.append(f"Its VQ-VAE decoder reads at most {vq.config.decoder_lookahead} codes ahead (streaming "
                     "starts after that many codes; docs/streaming.md).")
    card = dataclasses.replace(
        src.card, name=name, description=description or src.card.description,
        trained_on=trained_on or src.card.trained_on, license=license or src.card.license, evaluation=evaluation,
        notes="\n\n".join(n for n in (card_notes, src.card.notes, *notes) if n))
    text = src.text
    config = make_config(vq.config, src.gpt.config, text["name"], text["dim"], text_encoder_path=text.get("path"),
                         card=card, fps=src.fps, guidance_scale=guidance)
    config.candidates = check_candidates(src.candidates if candidates is None else candidates)
    if config.candidates > 1 and src.cond_drop == 0.0:
        raise InputError(f"the GPT ({src.origin}) was trained without condition dropout (--cond-drop), so best-of-k "
                         "cannot score candidates against its unconditional prediction; leave --candidates at 1")
    judge_dir = src.critic if critic is None else critic
    try:
        judge = None if judge_dir is None else read_critic(judge_dir, config.feature_dim)
    except CheckpointError as e:
        raise InputError(f"critic: {e}") from e
    config.check()
    gpt = src.gpt
    if half:
        vq, gpt = half_copy(vq), half_copy(gpt)
    return save_model_folder(out_dir, config, vq, gpt, src.normalizer, overwrite=overwrite, critic=judge)

