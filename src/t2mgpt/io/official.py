"""Convert the published T2M-GPT checkpoints into a model folder (`t2mgpt import-official`).

The original release has a VQ-VAE checkpoint `{'net': ...}` (e.g. VQVAE/net_last.pth) and a
transformer checkpoint `{'trans': ...}` (e.g. VQTransformer_corruption05/net_best_fid.pth),
conditioned on CLIP ViT-B/32 text features and trained on HumanML3D (or KIT-ML) features
normalised by the dataset's Mean/Std. Checkpoints are read with `weights_only=True`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from t2mgpt.data.spec import get_dataset_spec
from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.io.card import ModelCard
from t2mgpt.io.config import make_config
from t2mgpt.io.folder import save_model_folder
from t2mgpt.io.lookup import check_model_name, models_home

# hyper-parameters of the released models (options/option_transformer.py of the original)
VQ_DEFAULTS: dict[str, Any] = dict(nb_code=512, code_dim=512, output_emb_width=512, down_t=2, stride_t=2, width=512,
                                   depth=3, dilation_growth_rate=3, activation="relu", quantizer="ema_reset")
GPT_DEFAULTS: dict[str, Any] = dict(num_vq=512, embed_dim=1024, clip_dim=512, block_size=51, num_layers=9, n_head=16,
                                    drop_out_rate=0.1, fc_rate=4)
CLIP_DIM = 512

_PAPER = {  # Table 1 of the paper (tau = 0.5), for the model card
    "t2m": "FID 0.116, R-precision top-1 0.491 / top-3 0.775, MM-Dist 3.118, Diversity 9.761, MModality 1.856",
    "kit": "FID 0.514, R-precision top-1 0.416 / top-3 0.745, MM-Dist 3.007, Diversity 10.921, MModality 1.570",
}
_DATA = {
    "t2m": "HumanML3D (Guo et al., CVPR 2022): 14,616 motions from AMASS and HumanAct12 with 44,970 "
           "English descriptions; 263-d features of a 22-joint SMPL skeleton at 20 fps.",
    "kit": "KIT-ML (Plappert et al., 2016): 3,911 motions with 6,278 English descriptions; 251-d features of "
           "a 21-joint skeleton at 12.5 fps.",
}


def _hparams(value: str | dict | None, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        if not path.is_file():
            raise InputError(f"{what}: {value!r} is neither a JSON object nor an existing .json file")
        text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{what} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} must be a JSON object, got {type(data).__name__}")
    return data


def import_official(vq: str | Path, gpt: str | Path, dataset: str = "t2m", out: str | Path | None = None,
                    name: str | None = None, clip_path: str | Path | None = None,
                    vq_hparams: str | dict | None = None, gpt_hparams: str | dict | None = None,
                    mean: str | Path | None = None, std: str | Path | None = None,
                    overwrite: bool = False) -> Path:
    """Convert the original checkpoints into a model folder; returns its path."""
    from t2mgpt.generator.gpt import MotionGPT
    from t2mgpt.tokenizer.vqvae import VQVAE
    from t2mgpt.motion.normalize import Normalizer

    try:
        spec = get_dataset_spec(dataset)
    except InputError:
        raise InputError(f"--dataset must be t2m (HumanML3D) or kit (KIT-ML), got {dataset!r}") from None
    dataname = spec.dataname
    if name is not None:
        check_model_name(name)
    if out is None:
        if not name:
            raise InputError("give --out MODEL_DIR, or --name NAME to save into " + str(models_home()))
        out = models_home() / name
    out = Path(out).expanduser()
    if out.exists() and not overwrite:
        raise InputError(f"{out} already exists; pass --overwrite to replace it")

    if (mean is None) != (std is None):
        raise InputError("give both --mean and --std, or neither")
    dim = spec.feature_dim
    if mean is not None:
        normalizer = Normalizer.from_files(mean, std, dim=dim)
    elif dataname == "t2m":
        normalizer = Normalizer.humanml3d()
    else:
        raise InputError("KIT-ML models need the dataset's statistics: pass --mean KIT-ML/Mean.npy --std "
                         "KIT-ML/Std.npy (from the original code's checkpoints/kit/.../meta or the dataset)")

    vq_args = {**VQ_DEFAULTS, **_hparams(vq_hparams, "--vq-hparams")}
    if vq_args.setdefault("dataname", dataname) != dataname:
        raise InputError(f"--vq-hparams says dataname={vq_args['dataname']!r} but --dataset is {dataname!r}")
    gpt_args = {**GPT_DEFAULTS, **_hparams(gpt_hparams, "--gpt-hparams")}
    vqvae = VQVAE.from_original(vq, **vq_args).eval()
    trans = MotionGPT.from_original(gpt, **gpt_args).eval()
    if trans.config.num_vq != vqvae.config.nb_code:
        raise CheckpointError(f"the transformer {gpt} predicts {trans.config.num_vq} codes but the VQ-VAE {vq} has "
                              f"{vqvae.config.nb_code}; these checkpoints do not belong together")
    if trans.config.clip_dim != CLIP_DIM:
        raise CheckpointError(f"the transformer {gpt} takes {trans.config.clip_dim}-d text features; the official "
                              f"models use CLIP ViT-B/32 ({CLIP_DIM}-d)")

    name = name or out.name
    card = ModelCard(
        name=name,
        description=(f"T2M-GPT (Zhang et al., CVPR 2023) converted from the original checkpoints {Path(vq).name} "
                     f"(VQ-VAE) and {Path(gpt).name} (transformer) by t2mgpt import-official."),
        trained_on=_DATA[dataname],
        license=("Code of the original release: Apache-2.0. The weights were trained on " +
                 ("HumanML3D, whose motions come from AMASS and HumanAct12" if dataname == "t2m" else "KIT-ML") +
                 ": check the dataset licences (AMASS: non-commercial research only) before using them."),
        metrics={},
        notes=(f"The paper reports for its released {spec.title} model: "
               f"{_PAPER[dataname]}. These were not re-measured by this conversion. The text encoder is CLIP "
               "ViT-B/32; its weights are not part of this folder (see t2mgpt.text.encoders.clip for where they are looked up)."),
    )
    hint = str(Path(clip_path).expanduser().resolve()) if clip_path is not None else None
    config = make_config(vqvae.config, trans.config, "clip-vit-b-32", CLIP_DIM, spec.name,
                         text_encoder_path=hint, card=card)
    return save_model_folder(out, config, vqvae, trans, normalizer, overwrite=overwrite)
