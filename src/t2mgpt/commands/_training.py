"""What `train-vq` and `train-gpt` share: their common flags, config-file reading, FID validation,
turning a full or read-only disk and an interruption into one line, and the closing summary."""
from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path
from typing import Callable

RUN_FILES = """\
RUN_DIR receives config.json; last.pt every --save-minutes minutes (and every --save-every
updates if set), on Ctrl-C or SIGTERM and at the end;
best.pt: {best};
best_fid.pt: {fid}, with --evaluator;
metrics.jsonl, train.log and TensorBoard logs in tb/. A folder holding another run is never
overwritten; a run that fails before its first checkpoint leaves no folder behind.
--resume continues a run exactly:
{state};
only --iters, --log-every, --eval-every, --save-every and --save-minutes may change on resume.
Ctrl-C or SIGTERM finishes the current update, saves last.pt and stops (a second Ctrl-C
stops at once, without saving). --batch-size is the GLOBAL batch: with N processes each one
takes batch/N {items} per update, so the recipe (and the result) does not depend on how many
devices you use.
"""

DISK_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EFBIG}


def add_arguments(parser: argparse.ArgumentParser, config_cls, train_help: dict, model_flags: list,
                  data_help: str) -> None:
    """The flags of both training commands: data, run folder, device, FID validation, then one
    `--field` per training-config field and per model-config field."""
    from t2mgpt.train.config import add_flag_arguments, dataclass_flags

    parser.add_argument("--data", required=True, metavar="DIR", help=data_help)
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
    add_flag_arguments(parser, dataclass_flags(config_cls, help=train_help), "training", "train")
    add_flag_arguments(parser, model_flags, "model", "model")


def config_sections(args: argparse.Namespace, extra: tuple[str, ...] = ()) -> tuple[dict, dict, dict]:
    """defaults < --config file < flags: (model overrides, train overrides, the whole file)."""
    from t2mgpt.errors import InputError
    from t2mgpt.train.config import flag_overrides, read_json

    model, train, cfg = {}, {}, {}
    if args.config:
        cfg = read_json(args.config)
        known = ("model", "train", *extra)
        unknown = sorted(set(cfg) - set(known))
        if unknown:
            raise InputError(f"{args.config}: unknown sections {unknown}; expected {', '.join(map(repr, known))}")
        model.update(cfg.get("model", {}))
        train.update(cfg.get("train", {}))
    model.update(flag_overrides(args, "model"))
    train.update(flag_overrides(args, "train"))
    return model, train, cfg


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


def run_training(train: Callable, args: argparse.Namespace, loss_key: str, loss_label: str) -> int:
    """Call `train()` (a `t2mgpt.train.loop.fit`), print its summary on rank 0; a full or read-only
    disk becomes a one-line error, an interruption (last.pt saved) exit code 128 + signal."""
    from t2mgpt.errors import OutputError
    from t2mgpt.train.distributed import cleanup_distributed, env_dist_info
    from t2mgpt.train.interrupt import Interrupted

    out = Path(args.out)
    result = None
    try:
        result = train()
    except Interrupted as e:
        if env_dist_info().is_main:
            print(f"interrupted: last.pt saved at step {e.step} in {out}; continue with --resume", file=sys.stderr)
        return 128 + e.signum
    except (OSError, OutputError) as e:
        if isinstance(e, OSError) and e.errno not in DISK_ERRORS:
            raise
        then = ("continue with --resume (last.pt is intact)" if (out / "last.pt").is_file()
                else "run the command again")
        if isinstance(e, OutputError):  # a checkpoint or config.json (atomic writes say what failed)
            raise OutputError(f"{e}; then {then}") from e
        where = f" ({e.filename})" if e.filename else ""
        raise OutputError(f"cannot write the run folder {out}: {e.strerror}{where}; free some space or choose a "
                          f"writable --out, then {then}") from e
    finally:
        cleanup_distributed(completed=result is not None)
    if env_dist_info().is_main:
        print(done_line(result, loss_key, loss_label))
    return 0


def done_line(result, loss_key: str, loss_label: str) -> str:
    """'done: N updates in RUN, best <loss> at step S, best FID F at step S (<rate>)'."""
    best, parts = result.best, []
    if loss_key in best:
        parts.append(f"best {loss_label} {best[loss_key]:.5f} at step {best['step']}")
    if "fid" in best:
        parts.append(f"best FID {best['fid']:.4f} at step {best['fid_step']}")
    return (f"done: {result.step} updates in {result.run_dir}" + (", " + ", ".join(parts) if parts else "")
            + f" ({result.items_per_s:.1f} {result.unit}/s)")
