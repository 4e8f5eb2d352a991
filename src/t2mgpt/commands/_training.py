"""What `train-vq` and `train-gpt` share: the FID-validation flags and the closing summary."""
from __future__ import annotations

import argparse
from typing import Callable


def fid_validation_factory(make: Callable, args: argparse.Namespace, split: str) -> Callable | None:
    """None without --evaluator; else a factory the trainer calls on rank 0 before training:
    `make(evaluator, data, split, glove=, meta=, device=)` on this rank's device."""
    from t2mgpt.errors import InputError

    if not args.evaluator:
        if args.glove or args.evaluator_meta:
            raise InputError("--glove and --evaluator-meta go with --evaluator")
        return None

    def factory():
        import torch

        from t2mgpt.train.distributed import env_dist_info
        from t2mgpt.utils.device import resolve_device

        device = resolve_device(args.device)
        if device.type == "cuda" and env_dist_info().enabled:
            device = torch.device("cuda", env_dist_info().local_rank)
        return make(args.evaluator, args.data, split, glove=args.glove, meta=args.evaluator_meta, device=device)

    return factory


def done_line(step: int, run_dir, best: dict, loss_key: str, loss_label: str, rate: str) -> str:
    """'done: N updates in RUN, best <loss> at step S, best FID F at step S (<rate>)'."""
    parts = []
    if loss_key in best:
        parts.append(f"best {loss_label} {best[loss_key]:.5f} at step {best['step']}")
    if "fid" in best:
        parts.append(f"best FID {best['fid']:.4f} at step {best['fid_step']}")
    return f"done: {step} updates in {run_dir}" + (", " + ", ".join(parts) if parts else "") + f" ({rate})"
