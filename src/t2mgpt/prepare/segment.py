"""Cutting long trials into clips of at most 10 s, and deciding which captions each clip keeps.

HumanML3D motions are 2-10 s: T2M-GPT's GPT emits at most 50 tokens (200 frames at 20 fps)
and its evaluation skips motions of 200 or more feature frames. Trials are cut as follows:

* at most `max_frames` joint frames (200 = 10 s; 199 feature frames): kept whole;
* up to `tolerance_frames` longer (10.5 s): cropped to `max_frames` around the middle
  (a quarter second off each end at most), keeping its captions;
* longer: cut into K = ceil(N / max_frames) consecutive segments of equal length
  (each > 5 s, none dropped), ids `<trial>_s<k>`.

Captions describe a span of the trial (default: all of it). A segment keeps a caption when
it is true of the segment: the trial was not split (rules `whole`, `cropped`), or the caption
names one activity that goes on throughout (`any_part`, see `labels.holds_for_any_part`), or
the caption's own span lies inside the segment (`span`, written with the segment-local
start/end, at least `min_span_s` long). Whole-trial captions of split trials that describe a
sequence (KIT-ML sentences such as "walks forward, turns around and walks back") are dropped
for the segments (`long_trial`): the segments still train the VQ-VAE.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_FRAMES = 200  # joint frames at 20 fps: 199 feature frames, under the loaders' 200
TOLERANCE_FRAMES = 10  # trials up to 10.5 s are cropped, not split
MIN_SPAN_S = 2.0
SPAN_TOLERANCE_S = 0.5


@dataclass(frozen=True)
class SourceCaption:
    """A caption of a whole trial or of the span [start, end] seconds of it."""
    text: str
    source: str  # "kit-ml", "cmu-index", "generic", ...
    start: float | None = None
    end: float | None = None
    any_part: bool = False  # true of any part of its span (one repetitive activity)


@dataclass(frozen=True)
class Segment:
    start: int  # first frame (at the target rate)
    stop: int  # one past the last frame
    kind: str  # "whole", "cropped" or "split"
    index: int | None = None  # k of `<trial>_s<k>` for split trials

    @property
    def frames(self) -> int:
        return self.stop - self.start

    def clip_id(self, trial_id: str) -> str:
        return trial_id if self.index is None else f"{trial_id}_s{self.index}"


@dataclass(frozen=True)
class ClipCaption:
    """A caption as written for one clip: start = end = 0.0 means the whole clip."""
    text: str
    source: str
    rule: str
    start: float = 0.0
    end: float = 0.0
    index: int = 0  # which of the trial's captions


def plan_segments(frames: int, max_frames: int = MAX_FRAMES,
                  tolerance_frames: int = TOLERANCE_FRAMES) -> list[Segment]:
    """How a trial of `frames` frames becomes clips of at most `max_frames` frames."""
    if frames <= max_frames:
        return [Segment(0, frames, "whole")]
    if frames <= max_frames + tolerance_frames:
        offset = (frames - max_frames) // 2
        return [Segment(offset, offset + max_frames, "cropped")]
    k = math.ceil(frames / max_frames)
    bounds = np.round(np.linspace(0, frames, k + 1)).astype(int)
    return [Segment(int(a), int(b), "split", i) for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]


def _near(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol


def assign_captions(segment: Segment, captions: list[SourceCaption], trial_frames: int, fps: float,
                    min_span_s: float = MIN_SPAN_S, tolerance_s: float = SPAN_TOLERANCE_S,
                    ) -> tuple[list[ClipCaption], dict[int, str]]:
    """The captions `segment` keeps (with clip-local spans), and {caption index: reason} of those it drops.

    Captions of other parts of the trial (no overlap with the segment) are in neither.
    """
    kept: list[ClipCaption] = []
    dropped: dict[int, str] = {}
    trial_end = (trial_frames - 1) / fps
    seg_start, seg_end = segment.start / fps, (segment.stop - 1) / fps
    seg_len = seg_end - seg_start
    whole_tol = max(tolerance_s, 0.05 * trial_end)
    for i, cap in enumerate(captions):
        start = 0.0 if cap.start is None else float(cap.start)
        end = trial_end if cap.end is None else float(cap.end)
        whole_trial = start <= whole_tol and end >= trial_end - whole_tol
        if segment.kind != "split" and whole_trial:
            kept.append(ClipCaption(cap.text, cap.source, segment.kind, index=i))
            continue
        if min(end, seg_end) - max(start, seg_start) <= 0:
            continue  # a caption of another part of the trial
        covers = start <= seg_start + tolerance_s and end >= seg_end - tolerance_s
        inside = start >= seg_start - tolerance_s and end <= seg_end + tolerance_s
        if covers and inside:  # the span is this segment
            kept.append(ClipCaption(cap.text, cap.source, "span", index=i))
        elif covers:
            if cap.any_part:
                kept.append(ClipCaption(cap.text, cap.source, "any_part", index=i))
            else:
                dropped[i] = "long_trial" if whole_trial else "long_span"
        elif inside:
            local_start = max(start - seg_start, 0.0)
            local_end = min(end - seg_start, seg_len)
            if local_end - local_start < min_span_s:
                dropped[i] = "span_too_short"
            else:
                kept.append(ClipCaption(cap.text, cap.source, "span", round(local_start, 3), round(local_end, 3), i))
        else:
            dropped[i] = "span_crosses_cut"
    return kept, dropped
