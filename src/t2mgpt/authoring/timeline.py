"""Timeline plans: checked (text, seconds) segments and the segments a composed motion records."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

from t2mgpt.errors import InputError
from t2mgpt.utils.checks import check_records

MAX_SEGMENTS = 32  # per timeline
MAX_SECONDS = 300.0  # total length of an authored motion (6000 frames at 20 fps, the render limit)


@dataclass(frozen=True)
class Segment:
    """One part of an authored motion: its text and its frames [start, end)."""

    text: str
    start: int
    end: int

    def to_dict(self) -> dict:
        return asdict(self)


def codes_for(seconds, seconds_per_code: float, what: str = "seconds") -> int:
    """A duration -> its code count (nearest code, at least one), checked."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds):
        raise InputError(f"{what} must be a number, got {seconds!r}")
    if seconds < seconds_per_code - 1e-9:
        raise InputError(f"{what} must be at least {seconds_per_code:g} (one code), got {seconds:g}")
    if seconds > MAX_SECONDS + 1e-9:
        raise InputError(f"{what} is {seconds:g} s, over the limit of {MAX_SECONDS:g} s; make shorter motions")
    return max(int(math.floor(seconds / seconds_per_code + 0.5)), 1)


def check_timeline(timeline, seconds_per_code: float) -> list[tuple[str, int]]:
    """[(text, seconds), ...] (or dicts with text/seconds) -> [(text, n_codes), ...], checked."""
    segments = check_records(timeline, ("text", "seconds"), "timeline", "segment", MAX_SEGMENTS,
                             example="[('a person walks forward', 4), ('a person sits down', 3)]")
    plan = []
    for i, (text, seconds) in enumerate(segments):
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"segment #{i + 1} needs a non-empty text, e.g. 'a person walks forward'")
        plan.append((text.strip(), codes_for(seconds, seconds_per_code, f"segment #{i + 1} seconds")))
    total = sum(n for _, n in plan) * seconds_per_code
    if total > MAX_SECONDS + 1e-9:
        raise InputError(f"the timeline lasts {total:g} s, over the limit of {MAX_SECONDS:g} s")
    return plan


def segments_of(plan: Sequence[tuple[str, int]], unit_length: int, offset: int = 0) -> tuple[Segment, ...]:
    """The frame ranges of planned segments laid end to end from frame `offset`."""
    out, start = [], offset
    for text, n in plan:
        out.append(Segment(text, start, start + n * unit_length))
        start += n * unit_length
    return tuple(out)
