"""`t2mgpt train-gpt`: train the text-conditioned motion-code GPT."""
from __future__ import annotations

import argparse

from t2mgpt.commands._training import RUN_FILES

NAME = "train-gpt"
HELP = "train the text-conditioned code GPT on the codes of a VQ-VAE, on CPU, a GPU or many (torchrun)"

EPILOG = """\
Defaults are the paper's recipe (HumanML3D and KIT-ML): 300k updates, global batch 128
(caption, codes) pairs, AdamW lr 1e-4 betas (0.5, 0.9) weight decay 1e-6, no warm-up, lr x0.05
after 150k, corruption --pkeep 0.5 (each input code replaced by a random one with probability
0.5); GPT 9+9 layers, width 1024, 16 heads, up to 50 codes. The paper conditions on CLIP
ViT-B/32 (--text-encoder clip, 512-d); the default here is the offline MiniLM (384-d).
Values come from the defaults, then --config FILE.json ({"model": {...}, "train": {...},
"text_encoder": "clip"}, e.g. configs/gpt_humanml3d.json or a run's config.json), then flags.

--tokens is the folder of `t2mgpt tokenize --vq VQ_RUN` (the codes of every motion and its
mirror); without it the codes are made here, into RUN_DIR/tokens. --vq is the VQ-VAE those codes
come from (a train-vq run folder: best.pt, else last.pt; or a checkpoint file). Every caption's
text feature is computed once, into RUN_DIR/text_features.safetensors.

""" + RUN_FILES.format(best="lowest validation loss", fid="lowest FID of generated motions",
                       state="model, optimizer, schedule, random and data-order state",
                       items="pairs") + """
Turn the result into a model folder with `t2mgpt export-model --vq VQ_RUN --gpt RUN_DIR`.
Many devices or machines (DDP; nccl on CUDA, gloo on CPU):
  torchrun --nproc_per_node=4 -m t2mgpt train-gpt --data DIR --tokens CODES --vq VQ_RUN --out RUN_DIR
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from t2mgpt.commands._training import add_arguments as add_training_arguments
    from t2mgpt.train.gpt_config import MODEL_FLAGS, TRAIN_HELP, GPTTrainConfig

    add_training_arguments(parser, GPTTrainConfig, TRAIN_HELP, MODEL_FLAGS,
                           "dataset folder: texts/, Mean.npy, Std.npy, train.txt, val.txt (and new_joint_vecs/)")
    parser.add_argument("--tokens", metavar="DIR", help="codes made by `t2mgpt tokenize` (default: made into RUN_DIR/tokens)")
    parser.add_argument("--vq", required=True, metavar="VQ_RUN", help="the VQ-VAE: train-vq run folder or checkpoint")
    parser.add_argument("--text-encoder", metavar="NAME",
                        help="minilm (offline, 384-d; default), minilm-sides (minilm with left/right words set "
                             "further apart; the demo model's), clip (ViT-B/32, 512-d, the paper's) or hashing (tests)")
    parser.add_argument("--clip-path", metavar="DIR", help="where the CLIP (or MiniLM) weights are")


def resolve_configs(args: argparse.Namespace):
    """defaults < --config file < flags -> (GPTConfig, GPTTrainConfig, text encoder name, num_vq or None).

    num_vq is not a flag (the VQ-VAE sets it); a config file may state it, then it is checked.
    """
    from t2mgpt.commands._training import config_sections
    from t2mgpt.errors import InputError
    from t2mgpt.generator.config import GPTConfig
    from t2mgpt.text import TEXT_ENCODER_DIMS, canonical_name
    from t2mgpt.train.config import config_from_dict
    from t2mgpt.train.gpt_config import GPTTrainConfig

    model, train, cfg = config_sections(args, ("text_encoder", "vq"))
    enc = cfg.get("text_encoder")
    encoder = canonical_name(args.text_encoder or (enc.get("name") if isinstance(enc, dict) else enc) or "minilm")
    num_vq = model.pop("num_vq", None)
    dim = TEXT_ENCODER_DIMS.get(encoder)
    if dim is not None:
        if model.get("clip_dim", dim) != dim:
            raise InputError(f"clip_dim {model['clip_dim']} does not fit the {encoder} text encoder ({dim}-d features); "
                             f"drop --clip-dim (the encoder sets it)")
        model["clip_dim"] = dim
    return config_from_dict(GPTConfig, model), config_from_dict(GPTTrainConfig, train), encoder, num_vq


def run(args: argparse.Namespace) -> int:
    from t2mgpt.commands._training import fid_validation_factory, run_training
    from t2mgpt.errors import DataError
    from t2mgpt.train.gpt_task import make_fid_validation, train_gpt

    model_cfg, train_cfg, encoder, num_vq = resolve_configs(args)
    if num_vq is not None:
        from t2mgpt.io.checkpoint import load_vq

        nb_code = load_vq(args.vq, "cpu")[0].config.nb_code
        if num_vq != nb_code:
            raise DataError(f"{args.config} says num_vq {num_vq} but the VQ-VAE {args.vq} has {nb_code} codes; "
                            f"remove num_vq from the config (the VQ-VAE sets it) or pass the matching --vq")
    fid = fid_validation_factory(make_fid_validation, args, train_cfg.val_split or "val")
    return run_training(lambda: train_gpt(args.data, args.vq, args.out, model_cfg, train_cfg, tokens=args.tokens,
                                          text_encoder=encoder, text_encoder_path=args.clip_path,
                                          resume=args.resume, device=args.device, progress=args.progress,
                                          fid_validation=fid),
                        args, "val_loss", "val loss")
