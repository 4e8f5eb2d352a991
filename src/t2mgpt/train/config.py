"""Typed configs for the training commands: dataclass <-> JSON and `--flag` overrides.

Torch-free on purpose: the CLI builds its parsers from these at start-up.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2mgpt.errors import InputError


@dataclass(frozen=True)
class Flag:
    """One command-line override: `--name` parsed as `type` (a list of them when `is_list`)."""

    name: str
    type: type
    default: Any
    help: str = ""
    is_list: bool = False


def config_from_dict(cls, d: dict[str, Any]):
    """Build dataclass `cls` from a dict, refusing unknown keys (typos)."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise InputError(f"unknown {cls.__name__} keys {unknown}; known keys: {sorted(known)}")
    return cls(**d)


def dataclass_flags(cls, skip: typing.Iterable[str] = (), help: dict[str, str] | None = None) -> list[Flag]:
    """A `Flag` per field of dataclass `cls` (types from its annotations, defaults from `cls()`)."""
    hints = typing.get_type_hints(cls)
    defaults = cls()
    help = help or {}
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
        flags.append(Flag(f.name, tp, getattr(defaults, f.name), help.get(f.name, ""), is_list))
    return flags


def _parse_bool(s: str) -> bool:
    v = s.lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {s!r}")


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
        if fl.type is bool:
            kw["type"], kw["metavar"] = _parse_bool, "BOOL"
        else:
            kw["type"] = _parse_optional(fl.type) if fl.default is None else fl.type
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


def config_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Differences between two nested config dicts, as 'dotted.key: old -> new' lines."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k, "<absent>"), new.get(k, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_diff(a, b, f"{prefix}{k}.")
        elif a != b and not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and list(a) == list(b)):
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out
