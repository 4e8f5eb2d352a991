"""`t2mgpt train-vq`: train the motion VQ-VAE (tokenizer)."""
from __future__ import annotations

import argparse

from t2mgpt.commands._training import RUN_FILES

NAME = "train-vq"
HELP = "train the motion VQ-VAE (tokenizer) on a HumanML3D-layout dataset, on CPU, a GPU or many (torchrun)"

EPILOG = """\
Defaults are the paper's recipe (HumanML3D): 300k updates, global batch 256 windows of 64 frames,
AdamW lr 2e-4 betas (0.9, 0.99), 1000 linear warm-up updates, lr x0.05 after 200k, smooth-L1
reconstruction + 0.02 commitment + 0.5 joint-position loss; codebook 512 x 512, width 512.
Values come from the defaults, then --config FILE.json ({"model": {...}, "train": {...}}, e.g.
configs/vq_humanml3d.json or a run's config.json), then the flags below.

""" + RUN_FILES.format(best="lowest validation reconstruction loss",
                       fid="lowest reconstruction FID of the val split", state="model, optimizer, schedule, codebook, random and data-order state",
                       items="windows") + """
Fine-tuning: --init-from RUN_OR_MODEL starts from a trained VQ-VAE (its sizes become the defaults);
--decoder-only also keeps its encoder and codebook frozen (every motion keeps its codes, so a GPT
trained on them still fits), e.g. a decoder that reads at most 4 codes ahead, for streaming:
  t2mgpt train-vq --data DIR --out RUN_DIR --init-from VQ_RUN --decoder-only --decoder-lookahead 4

Many devices or machines (DDP; nccl on CUDA, gloo on CPU):
  torchrun --nproc_per_node=4 -m t2mgpt train-vq --data DIR --out RUN_DIR
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from t2mgpt.commands._training import add_arguments as add_training_arguments
    from t2mgpt.train.vq_config import MODEL_FLAGS, TRAIN_HELP, VQTrainConfig

    add_training_arguments(parser, VQTrainConfig, TRAIN_HELP, MODEL_FLAGS,
                           "dataset folder: new_joint_vecs/, Mean.npy, Std.npy, train.txt, val.txt")


def resolve_configs(args: argparse.Namespace):
    """defaults < --config file < flags; input_dim from the dataset unless given."""
    from t2mgpt.commands._training import config_sections
    from t2mgpt.data.humanml3d import load_stats
    from t2mgpt.tokenizer.config import VQVAEConfig
    from t2mgpt.train.config import config_from_dict, flag_overrides
    from t2mgpt.train.vq_config import VQTrainConfig

    model, train, _ = config_sections(args)
    if train.get("init_from"):  # its sizes are the defaults: fine-tuning keeps the architecture
        from t2mgpt.train.vq_task import load_init_vq

        model = {**load_init_vq(train["init_from"])[0].config.to_dict(), **model}
    model_flags = flag_overrides(args, "model")
    # code_dim must equal output_emb_width: one flag sets both
    for a, b in (("code_dim", "output_emb_width"), ("output_emb_width", "code_dim")):
        if a in model_flags and b not in model_flags:
            model[b] = model[a]
    if model.get("input_dim") is None:
        mean, _ = load_stats(args.data)
        model["input_dim"] = int(mean.shape[0])
    model.pop("beta", None)  # the commitment weight is train.commit
    return config_from_dict(VQVAEConfig, model), config_from_dict(VQTrainConfig, train)


def run(args: argparse.Namespace) -> int:
    from t2mgpt.commands._training import fid_validation_factory, run_training
    from t2mgpt.train.vq_task import make_fid_validation, train_vq

    model_cfg, train_cfg = resolve_configs(args)
    fid = fid_validation_factory(make_fid_validation, args, train_cfg.val_split or "val")
    return run_training(lambda: train_vq(args.data, args.out, model_cfg, train_cfg, resume=args.resume,
                                         device=args.device, progress=args.progress, fid_validation=fid),
                        args, "val_recons", "val recons")
