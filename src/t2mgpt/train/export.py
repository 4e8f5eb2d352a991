"""A finished model folder (`t2mgpt.io.folder`) from a train-vq run and a train-gpt run.

    export_model_folder("runs/vq", "runs/gpt", "models/my-model", name="my-model")
    T2MGPT.from_pretrained("models/my-model")

The GPT checkpoint records which VQ-VAE its codes came from (a SHA-256 of the weights), the
text encoder it was conditioned on and the feature statistics; a VQ-VAE other than the one
the codes were made with is refused. With `half`, floating-point weights are stored as
float16 (half the size; loading upcasts them to float32); tensors float16 cannot hold
(|x| > 65504) stay float32.
"""
from __future__ import annotations

import copy
from pathlib import Path

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


def export_model_folder(vq_run: str | Path, gpt_run: str | Path, out_dir: str | Path, *, name: str | None = None,
                        card_notes: str | None = None, half: bool = False, checkpoint: str = "auto",
                        overwrite: bool = False, license: str | None = None, description: str | None = None,
                        evaluation: str = "", trained_on: str | None = None, guidance_scale: float = 1.0) -> Path:
    """Write the model folder `out_dir` from a VQ-VAE run (or checkpoint) and a GPT run (or checkpoint).

    `checkpoint` picks the GPT run's file (auto: best_fid.pt, else best.pt, else last.pt).
    `evaluation` is a markdown table for the card (`t2mgpt.eval.report.markdown_table`);
    `trained_on` replaces the card's generated description of the training data.
    `guidance_scale`: the classifier-free guidance the model samples with by default (needs a GPT
    trained with condition dropout).
    Returns the folder, loadable with `T2MGPT.from_pretrained(out_dir)`.
    """
    from t2mgpt.io.card import ModelCard
    from t2mgpt.io.config import make_config
    from t2mgpt.io.folder import save_model_folder
    from t2mgpt.io.lookup import check_model_name
    from t2mgpt.motion.normalize import Normalizer
    from t2mgpt.io.checkpoint import load_vq
    from t2mgpt.train.gpt_task import vq_fingerprint
    from t2mgpt.utils.checks import check_guidance_scale

    out_dir = Path(out_dir).expanduser()
    name = check_model_name(name) if name is not None else out_dir.name
    if out_dir.exists() and not overwrite:
        raise InputError(f"{out_dir} already exists; pass --overwrite to replace it")
    gpt_path = resolve_gpt_checkpoint(gpt_run, checkpoint)
    gpt, ckpt = load_gpt_checkpoint(gpt_path)
    vq, _, _, vq_path = load_vq(vq_run, "cpu")
    trained = ckpt["vq"]
    if vq_fingerprint(vq) != trained["sha256"]:
        raise CheckpointError(
            f"the GPT {gpt_path} was trained on the codes of the VQ-VAE {trained['path']}, but {vq_path} holds other "
            f"weights (e.g. another checkpoint of the run); pass --vq {trained['path']}")
    check_guidance_scale(guidance_scale)
    if guidance_scale != 1.0 and not ckpt["train_config"].get("cond_drop"):
        raise InputError(f"the GPT {gpt_path} was trained without condition dropout (--cond-drop), so it has no "
                         "unconditional prediction to guide with; leave --guidance-scale at 1")
    text = ckpt["text_encoder"]
    normalizer = Normalizer(ckpt["mean"].numpy(), ckpt["std"].numpy())
    best, ds = ckpt.get("best", {}), ckpt["dataset"]
    metrics = {}
    # the run's best values, labelled with their step: they describe this checkpoint only if the steps match
    if "val_loss" in best:
        metrics[f"best validation loss (codes), step {best.get('step', '?')}"] = round(float(best["val_loss"]), 5)
    if "fid" in best:
        metrics[f"best validation FID (greedy decoding), step {best.get('fid_step', '?')}"] = round(float(best["fid"]), 4)
    notes = [f"Exported from {gpt_path.name} (step {ckpt['step']}) of a t2mgpt train-gpt run and the VQ-VAE "
             f"{vq_path.name}" + (", weights stored as float16" if half else "") + "."]
    if card_notes:
        notes.insert(0, card_notes)
    card = ModelCard(
        name=name,
        description=description or (f"A T2M-GPT text-to-motion model (VQ-VAE {vq.config.nb_code} codes, GPT "
                                     f"{gpt.config.num_layers}+{gpt.config.num_layers} layers of width "
                                     f"{gpt.config.embed_dim}) trained with t2mgpt."),
        trained_on=trained_on or (f"{ckpt.get('num_entries', '?')} (caption, codes) entries of the dataset at {ds['path']} "
                    f"({ds['feature_dim']}-d features, {ds['fps']:g} fps), "
                    f"{ckpt['step']} updates of batch {ckpt['train_config']['batch_size']}."),
        license=license or "unknown: the licence of the training data applies to these weights",
        metrics=metrics,
        evaluation=evaluation,
        notes="\n\n".join(notes),
    )
    config = make_config(vq.config, gpt.config, text["name"], text["dim"], text_encoder_path=text.get("path"),
                         card=card, fps=ds.get("fps"), guidance_scale=guidance_scale)
    if half:
        vq, gpt = half_copy(vq), half_copy(gpt)
    return save_model_folder(out_dir, config, vq, gpt, normalizer, overwrite=overwrite)
