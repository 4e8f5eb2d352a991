"""`t2mgpt train-vq`: train the motion VQ-VAE (tokenizer)."""
from __future__ import annotations

import argparse

NAME = "train-vq"
HELP = "train the motion VQ-VAE (tokenizer) on a HumanML3D-layout dataset, on CPU, a GPU or many (torchrun)"

EPILOG = """\
Defaults are the paper's recipe (HumanML3D): 300k updates, global batch 256 windows of 64 frames,
AdamW lr 2e-4 betas (0.9, 0.99), 1000 linear warm-up updates, lr x0.05 after 200k, smooth-L1
reconstruction + 0.02 commitment + 0.5 joint-position loss; codebook 512 x 512, width 512.
Values come from the defaults, then --config FILE.json ({"model": {...}, "train": {...}}, e.g.
configs/vq_humanml3d.json or a run's config.json), then the flags below.

RUN_DIR receives config.json, last.pt (every --save-every updates and at the end), best.pt
(lowest validation reconstruction loss), best_fid.pt (lowest reconstruction FID of the val split,
with --evaluator), metrics.jsonl, train.log and TensorBoard logs in tb/.
A folder holding another run is never overwritten. --resume continues a run exactly (model,
optimizer, schedule, codebook, random and data-order state); only --iters, --log-every,
--eval-every and --save-every may change on resume. Ctrl-C saves last.pt (single process).

--batch-size is the GLOBAL batch: with N processes each one takes batch/N windows per update,
so the recipe (and the result) does not depend on how many devices you use.

Many devices or machines (DDP; nccl on CUDA, gloo on CPU):
  torchrun --nproc_per_node=4 -m t2mgpt train-vq --data DIR --out RUN_DIR
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from t2mgpt.train.config import add_flag_arguments, dataclass_flags
    from t2mgpt.train.vq_config import MODEL_FLAGS, TRAIN_HELP, VQTrainConfig

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="dataset folder: new_joint_vecs/, Mean.npy, Std.npy, train.txt, val.txt")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder (created)")
    parser.add_argument("--config", metavar="FILE.json", help="hyper-parameters (see below)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in RUN_DIR from last.pt (starts it if it has none)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default: auto)")
    parser.add_argument("--progress", dest="progress", action="store_true", default=None,
                        help="show a progress bar (default: when stderr is a terminal)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    ev = parser.add_argument_group("FID validation (optional, every --eval-every updates, keeps best_fid.pt)")
    ev.add_argument("--evaluator", metavar="PATH",
                    help="released finest.tar of Guo et al. or a folder made by `t2mgpt train-evaluator`")
    ev.add_argument("--glove", metavar="DIR", help="GloVe folder (our_vab_*) for the released evaluator")
    ev.add_argument("--evaluator-meta", metavar="DIR", help="mean.npy/std.npy of the released evaluator")
    add_flag_arguments(parser, dataclass_flags(VQTrainConfig, help=TRAIN_HELP), "training", "train")
    add_flag_arguments(parser, MODEL_FLAGS, "model", "model")


def resolve_configs(args: argparse.Namespace):
    """defaults < --config file < flags; input_dim from the dataset unless given."""
    from t2mgpt.data.humanml3d import load_stats
    from t2mgpt.errors import InputError
    from t2mgpt.tokenizer.vqvae import VQVAEConfig
    from t2mgpt.train.config import config_from_dict, flag_overrides, read_json
    from t2mgpt.train.vq_config import VQTrainConfig

    model, train = {}, {}
    if args.config:
        cfg = read_json(args.config)
        unknown = sorted(set(cfg) - {"model", "train"})
        if unknown:
            raise InputError(f"{args.config}: unknown sections {unknown}; expected 'model' and 'train'")
        model.update(cfg.get("model", {}))
        train.update(cfg.get("train", {}))
    model_flags = flag_overrides(args, "model")
    model.update(model_flags)
    train.update(flag_overrides(args, "train"))
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
    from t2mgpt.commands._training import done_line, fid_validation_factory
    from t2mgpt.train.distributed import cleanup_distributed, env_dist_info
    from t2mgpt.train.train_vq import make_fid_validation, train_vq

    model_cfg, train_cfg = resolve_configs(args)
    fid = fid_validation_factory(make_fid_validation, args, train_cfg.val_split or "val")
    try:
        result = train_vq(args.data, args.out, model_cfg, train_cfg, resume=args.resume, device=args.device,
                          progress=args.progress, fid_validation=fid)
    finally:
        cleanup_distributed()
    if env_dist_info().is_main:
        print(done_line(result.step, result.run_dir, result.best, "val_recons", "val recons",
                        f"{result.windows_per_s:.0f} windows/s"))
    return 0
