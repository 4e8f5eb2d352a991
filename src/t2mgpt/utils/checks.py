"""Checks shared by the typed configs (`GPTConfig`, `VQVAEConfig`, `TrainConfig`, ...) and by the
authoring inputs (timelines, paths: lists of records)."""
from __future__ import annotations

import numbers
from typing import Iterable, Sequence

from t2mgpt.errors import InputError


def check_positive_ints(config, names: Iterable[str], prefix: str = "") -> None:
    """Each named field of `config` must be an integer >= 1 (a bool is refused); numpy integers
    become int, so the config stays JSON-serialisable. The error names `prefix + name`."""
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise InputError(f"{prefix}{name} must be a positive integer, got {value!r}")
        setattr(config, name, int(value))


def check_fractions(config, names: Iterable[str], prefix: str = "") -> None:
    """Each named field of `config` must be a number in [0, 1) (a dropout rate, an EMA decay, a share)."""
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
            raise InputError(f"{prefix}{name} must be in [0, 1), got {value!r}")


def check_choices(config, choices: dict[str, Iterable], prefix: str = "") -> None:
    """Each field of `config` named in `choices` must be one of the values given for it."""
    for name, allowed in choices.items():
        value = getattr(config, name)
        if value not in allowed:
            raise InputError(f"{prefix}{name} must be one of {tuple(allowed)}, got {value!r}")


def check_records(records, fields: tuple[str, ...], whole: str, item: str, limit: int, example: str) -> list[tuple]:
    """A list of 1 to `limit` records (a `whole` of `item`s: a timeline of segments, a path of
    waypoints), each a tuple/list of one value per field or a dict with exactly the fields as
    keys -> the records as tuples (their values are the caller's to check)."""
    shape = f"({', '.join(fields)})"
    if isinstance(records, (str, bytes)) or not isinstance(records, Sequence):
        raise InputError(f"a {whole} is a list of {shape} {item}s, e.g. {example}")
    if not len(records):
        raise InputError(f"the {whole} is empty; give a non-empty list of {shape} {item}s")
    if len(records) > limit:
        raise InputError(f"the {whole} has {len(records)} {item}s, over the limit of {limit}")
    out = []
    for i, record in enumerate(records):
        if isinstance(record, dict):
            if set(record) != set(fields):
                keys = " and ".join([", ".join(map(repr, fields[:-1])), repr(fields[-1])])
                raise InputError(f"{item} #{i + 1} must have exactly {keys}, got {sorted(record)}")
            record = tuple(record[f] for f in fields)
        if not isinstance(record, (tuple, list)) or len(record) != len(fields):
            raise InputError(f"{item} #{i + 1} must be a {shape} {'pair' if len(fields) == 2 else 'tuple'}, "
                             f"got {record!r}")
        out.append(tuple(record))
    return out


MAX_GUIDANCE_SCALE = 20.0


MAX_CANDIDATES = 16  # best-of-k at most (t2mgpt.rerank)


def check_candidates(k) -> int:
    """Best-of-k: an integer in [1, MAX_CANDIDATES] (1 = plain sampling); returned as an int."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= MAX_CANDIDATES:
        raise InputError(f"candidates must be an integer in [1, {MAX_CANDIDATES}], got {k!r}")
    return int(k)


def check_guidance_scale(scale) -> None:
    """Classifier-free guidance scale: a number in [0, 20] (1 = no guidance)."""
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not 0.0 <= scale <= MAX_GUIDANCE_SCALE:
        raise InputError(f"guidance_scale must be a number in [0, {MAX_GUIDANCE_SCALE:g}] (1 = no guidance), "
                         f"got {scale!r}")
