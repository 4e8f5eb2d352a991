"""Render settings and the visual style: colours, fonts, sizes."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from t2mgpt.errors import InputError
from t2mgpt.motion.skeleton import Skeleton

CAMERAS = ("auto", "fixed", "follow")


@dataclass(frozen=True)
class RenderConfig:
    width: int = 480
    height: int = 480
    fps: float = 20.0
    camera: str = "auto"  # 'fixed' frames the whole motion, 'follow' tracks the root
    elevation: float = 18.0  # degrees above the horizon
    azimuth: float = 35.0  # degrees, 0 = in front of the person's initial facing direction
    supersample: int = 2  # draw at k x size, then downsample (anti-aliasing)
    floor: bool = True
    trajectory: bool = True
    timeline: bool = True  # thin progress bar and clock at the bottom
    max_title_lines: int = 3
    max_frames: int = 6000  # longest motion drawn as a video (5 min at 20 fps); bounds the work

    def validated(self) -> "RenderConfig":
        if not (isinstance(self.max_frames, int) and self.max_frames >= 1):
            raise InputError(f"max_frames must be a positive integer, got {self.max_frames!r}")
        if self.camera not in CAMERAS:
            raise InputError(f"unknown camera {self.camera!r}; choose one of: {', '.join(CAMERAS)}")
        if not (16 <= self.width <= 2048 and 16 <= self.height <= 2048):
            raise InputError(f"frame size {self.width}x{self.height} is out of range (16..2048 pixels)")
        if not (np.isfinite(self.fps) and 0 < self.fps <= 240):
            raise InputError(f"fps must be in (0, 240], got {self.fps}")
        if self.supersample not in (1, 2, 3, 4):
            raise InputError(f"supersample must be 1..4, got {self.supersample}")
        return self

    def updated(self, **overrides) -> "RenderConfig":
        unknown = set(overrides) - set(self.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown render option(s): {', '.join(sorted(unknown))}")
        return replace(self, **overrides).validated()


# Palette: left side cool (blues), right side warm (reds/oranges), trunk and head slate.
BACKGROUND_TOP = (236, 240, 245)
BACKGROUND_BOTTOM = (250, 251, 253)
FLOOR_LIGHT = (231, 235, 240)
FLOOR_DARK = (213, 219, 227)
TRAIL_DONE = (90, 104, 128)
TRAIL_TODO = (188, 196, 208)
SHADOW = (170, 177, 190)
TITLE = (34, 40, 52)
MUTED = (120, 128, 142)
JOINT_FILL = (255, 255, 255)
LIMB_COLOURS = {
    ("left", "leg"): (37, 99, 200),
    ("left", "arm"): (56, 170, 222),
    ("right", "leg"): (214, 52, 52),
    ("right", "arm"): (242, 146, 30),
    ("center", "trunk"): (58, 66, 86),
}


def chain_colours(skeleton: Skeleton) -> list[tuple[int, int, int]]:
    """One colour per kinematic chain: side from the rest-pose x offset (+x = left), legs
    are chains that go below the root, arms the other side chains."""
    colours = []
    for chain in skeleton.kinematic_chains:
        offsets = skeleton.raw_offsets[list(chain[1:])]
        side_x = offsets[:, 0].sum()
        side = "left" if side_x > 0 else "right" if side_x < 0 else "center"
        if side == "center":
            kind = "trunk"
        else:
            kind = "leg" if chain[0] == 0 and offsets[:, 1].sum() < 0 else "arm"
        colours.append(LIMB_COLOURS[(side, kind)])
    return colours


def head_joint(skeleton: Skeleton) -> int:
    """The end of the trunk chain (head for SMPL, upper neck for KIT)."""
    for chain in skeleton.kinematic_chains:
        if not skeleton.raw_offsets[list(chain[1:]), 0].any() and chain[0] == 0:
            return chain[-1]
    return skeleton.kinematic_chains[0][-1]


def _font_candidates() -> list[Path]:
    paths = []
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.submodule_search_locations:
        paths.append(Path(spec.submodule_search_locations[0]) / "mpl-data/fonts/ttf/DejaVuSans.ttf")
    paths.append(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
    return paths


@lru_cache(maxsize=16)
def font(size: int):
    from PIL import ImageFont

    for path in _font_candidates():
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def wrap_text(text: str, fnt, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap to `max_width` pixels; the last line gets an ellipsis if cut."""
    words = " ".join(text.split()).split(" ")
    lines: list[str] = []
    line = ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if fnt.getlength(candidate) <= max_width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    lines = [_fit(l, fnt, max_width) for l in lines]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _fit(lines[-1].rstrip("\u2026") + " \u2026", fnt, max_width)
    return lines


def _fit(line: str, fnt, max_width: float) -> str:
    """`line`, or as much of it as fits followed by an ellipsis."""
    if fnt.getlength(line) <= max_width:
        return line
    while line and fnt.getlength(line + "\u2026") > max_width:
        line = line[:-1]
    return line.rstrip() + "\u2026"
