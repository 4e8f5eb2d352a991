"""Typed configs for the training commands: the base `TrainConfig` that the VQ-VAE and GPT
configs extend, dataclass <-> JSON and `--flag` overrides.

Torch-free on purpose: the CLI builds its parsers from these at start-up.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from t2mgpt.errors import InputError
from t2mgpt.utils.checks import check_positive_ints


@dataclass(frozen=True)
class Flag:
    """One command-line override: `--name` parsed as `type` (a list of them when `is_list`)."""

    name: str
    type: type
    default: Any
    help: str = ""
    is_list: bool = False


@dataclass
class TrainConfig:
    """What every training run has: schedule, optimiser, splits and the log/eval/save cadence.

    A task's config extends it (`VQTrainConfig`, `GPTTrainConfig`), redeclaring fields whose
    default differs in the paper's recipe.
    """

    iters: int = 300_000  # optimizer updates in total (warm-up included)
    batch_size: int = 256  # GLOBAL batch: split evenly over the torchrun processes
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    warmup_iters: int = 0  # linear warm-up updates
    lr_milestones: list[int] = field(default_factory=list)
    gamma: float = 0.05  # LR factor at each milestone
    grad_clip: float = 0.0  # max gradient norm (0: no clipping, as the original)
    seed: int = 123
    train_split: str = "train"
    val_split: str = "val"  # "" disables validation
    log_every: int = 200  # average and log training losses every N updates
    eval_every: int = 2000  # validation loss (keeps best.pt) every N updates
    save_every: int = 0  # also write last.pt every N updates (0: by time only)
    save_minutes: float = 5.0  # write last.pt when this many minutes passed since the last save (0: never)

    POSITIVE = ("iters", "batch_size", "log_every", "eval_every")  # integer fields >= 1 (a task adds its own)
    NON_NEGATIVE = ("save_every", "warmup_iters", "weight_decay", "grad_clip", "save_minutes")

    def __post_init__(self):
        self.betas = tuple(float(b) for b in self.betas)
        self.lr_milestones = [int(m) for m in self.lr_milestones]
        check_positive_ints(self, self.POSITIVE)
        for name in self.NON_NEGATIVE:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise InputError(f"{name} must be a number >= 0, got {v!r}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise InputError(f"betas must be two numbers in [0, 1), got {self.betas}")
        if not self.lr > 0 or not self.gamma > 0:
            raise InputError(f"lr and gamma must be positive, got lr {self.lr}, gamma {self.gamma}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d


# Fields that may change on --resume: they change how long the run goes and how often it
# logs and saves, not what each update computes.
RESUMABLE = {"train.iters", "train.log_every", "train.eval_every", "train.save_every", "train.save_minutes"}

TRAIN_HELP = {
    "iters": "optimizer updates in total, warm-up included",
    "warmup_iters": "linear learning-rate warm-up updates",
    "lr_milestones": "updates after which the lr is multiplied by --gamma",
    "grad_clip": "clip the gradient norm (0: no clipping, as the original)",
    "val_split": "validation split ('' disables validation and best.pt)",
    "log_every": "log averaged training losses every N updates",
    "eval_every": "validation loss (keeps best.pt) and, with --evaluator, FID (keeps best_fid.pt) every N updates",
    "save_every": "also write last.pt every N updates (0: only by time and at the end)",
    "save_minutes": "write last.pt every M minutes (0: only with --save-every and at the end); "
                    "Ctrl-C and SIGTERM save too",
}


def config_from_dict(cls, d: dict[str, Any]):
    """Build dataclass `cls` from a dict, refusing unknown keys (typos)."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise InputError(f"unknown {cls.__name__} keys {unknown}; known keys: {sorted(known)}")
    return cls(**d)


def dataclass_flags(cls, skip: typing.Iterable[str] = (), help: dict[str, str] | None = None,
                    defaults: dict[str, Any] | None = None) -> list[Flag]:
    """A `Flag` per field of dataclass `cls`: types from its annotations, defaults from its fields
    (or `defaults`). `cls` is not instantiated, so its checks may import torch."""
    hints = typing.get_type_hints(cls)
    help, defaults = help or {}, defaults or {}
    flags = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp, is_list = hints[f.name], False
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
            tp = args[0]
        if typing.get_origin(tp) in (list, tuple):
            tp, is_list = typing.get_args(tp)[0], True
        if f.name in defaults:
            default = defaults[f.name]
        else:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        flags.append(Flag(f.name, tp, default, help.get(f.name, ""), is_list))
    return flags


def _parse_bool(s: str) -> bool:
    v = s.lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {s!r}")


def _parse_int(s: str) -> int:
    """An integer, also written like 3e5 (what the paper's tables say)."""
    try:
        return int(s)
    except ValueError:
        pass
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {s!r}") from None
    if not v.is_integer():
        raise argparse.ArgumentTypeError(f"expected an integer, got {s!r}")
    return int(v)


_parse_int.__name__ = "int"


def _parse_optional(base):
    def parse(s: str):
        return None if s.lower() in ("none", "null") else base(s)

    parse.__name__ = base.__name__
    return parse


def add_flag_arguments(parser: argparse.ArgumentParser, flags: list[Flag], title: str, dest: str) -> None:
    """Add `--field-name` options (default None: only flags given on the command line override)."""
    group = parser.add_argument_group(title)
    for fl in flags:
        kw: dict[str, Any] = {"default": None, "dest": f"{dest}.{fl.name}"}
        default = list(fl.default) if isinstance(fl.default, (list, tuple)) else fl.default
        kw["help"] = f"{fl.help} (default: {default})".strip()
        if fl.type is bool:  # `--flag` alone means true
            kw["type"], kw["metavar"], kw["nargs"], kw["const"] = _parse_bool, "BOOL", "?", True
        else:
            base = _parse_int if fl.type is int else fl.type
            kw["type"] = _parse_optional(base) if fl.default is None else base
            kw["metavar"] = fl.type.__name__.upper()
        if fl.is_list:
            kw["nargs"] = "*"
        group.add_argument("--" + fl.name.replace("_", "-"), **kw)


def flag_overrides(args: argparse.Namespace, dest: str) -> dict[str, Any]:
    """The options of group `dest` given on the command line (see `add_flag_arguments`)."""
    prefix = dest + "."
    return {k[len(prefix):]: v for k, v in vars(args).items() if k.startswith(prefix) and v is not None}


def read_json(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"config file {path} not found")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(obj, dict):
        raise InputError(f"{path} must hold a JSON object")
    return obj


def config_diff(old: dict, new: dict, prefix: str = "", defaults: dict | None = None) -> list[str]:
    """Differences between two nested config dicts, as 'dotted.key: old -> new' lines.

    A key absent from `old` whose new value is its value in `defaults` (same nesting) is
    no difference: an option added by a later version, left at its neutral default.
    """
    out, defaults = [], defaults or {}
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k, "<absent>"), new.get(k, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            sub = defaults.get(k)
            out += config_diff(a, b, f"{prefix}{k}.", sub if isinstance(sub, dict) else None)
        elif k not in old and k in defaults and b == defaults[k]:
            continue
        elif a != b and not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and list(a) == list(b)):
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out
