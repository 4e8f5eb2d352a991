"""Render motions (joint positions, metres, y up) as 3D stick-figure videos and pictures.

    from t2mgpt.render import render_motion
    render_motion(joints, "walk.mp4", title="a person walks forward")   # (T, 22, 3)
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from t2mgpt.errors import InputError
from t2mgpt.motion.skeleton import Skeleton
from t2mgpt.motion.validate import validate_joints
from t2mgpt.render.style import RenderConfig

MAX_REACH = 1e4  # metres: farther joints are not a human motion in metres (and overflow the camera maths)

__all__ = [
    "RenderConfig", "check_joints", "iter_frames", "render_frames", "render_motion",
    "render_strip", "painter",
]


def check_joints(joints, skeleton: str | Skeleton | None = None) -> tuple[np.ndarray, Skeleton]:
    """Validate (T, J, 3) joint positions (numpy or torch; skeleton inferred from J if not given).

    Returns float32 positions moved so the lowest point of the motion touches the floor (y=0),
    and the skeleton.
    """
    if hasattr(joints, "detach"):  # torch tensor
        joints = joints.detach().cpu().numpy()
    joints = np.asarray(joints)
    sk = validate_joints(joints, skeleton, min_frames=2)
    reach = float(np.abs(joints).max())
    if reach > MAX_REACH:
        raise InputError(f"joint positions reach {reach:.3g} m from the origin; the renderer draws motions in "
                         f"metres within {MAX_REACH:g} m (convert the units, or check the file)")
    joints = joints.astype(np.float32)
    return joints - np.array([0.0, joints[..., 1].min(), 0.0], dtype=np.float32), sk


def _config(config: RenderConfig | None, overrides: dict) -> RenderConfig:
    return (config or RenderConfig()).updated(**overrides)


def painter(joints, title: str | None = None, skeleton: str | Skeleton | None = None,
            config: RenderConfig | None = None, **options):
    """The frame painter: `p(t)` gives frame t as a PIL image; `p.camera` projects points."""
    from t2mgpt.render.frame import FramePainter

    joints, sk = check_joints(joints, skeleton)
    return FramePainter(joints, sk, _config(config, options), title)


def iter_frames(joints, title: str | None = None, skeleton: str | Skeleton | None = None,
                config: RenderConfig | None = None, **options) -> Iterator[np.ndarray]:
    """Frames as (H, W, 3) uint8 arrays, one per motion frame, drawn lazily (bad input is
    reported at the call, not at the first frame)."""
    p = painter(joints, title, skeleton, config, **options)
    return (np.asarray(p(t)) for t in range(len(p)))


def render_frames(joints, title: str | None = None, skeleton: str | Skeleton | None = None,
                  config: RenderConfig | None = None, **options) -> np.ndarray:
    """All frames as one (T, H, W, 3) uint8 array."""
    p = painter(joints, title, skeleton, config, **options)
    check_length(len(p), p.cfg)
    return np.stack([np.asarray(p(t)) for t in range(len(p))])


def check_length(frames: int, cfg: RenderConfig) -> None:
    if frames > cfg.max_frames:
        raise InputError(f"the motion has {frames} frames, over the limit of {cfg.max_frames} for a video "
                         f"({cfg.max_frames / cfg.fps:g} s at {cfg.fps:g} fps); render a part of it, or raise "
                         "the limit (max_frames=..., CLI: --max-frames)")


def render_motion(joints, path: str | os.PathLike, title: str | None = None, fps: float | None = None,
                  skeleton: str | Skeleton | None = None, config: RenderConfig | None = None,
                  overwrite: bool = True, **options) -> Path:
    """Render `joints` (T, J, 3) to `path` (.mp4: H.264/yuv420p, .gif). Returns the path.

    `fps` defaults to the config's (20). Options are `RenderConfig` fields (width, height,
    camera, azimuth, elevation, ...); MP4 sizes are rounded up to even numbers.
    The file appears only when complete (written beside it, then moved into place).
    """
    from t2mgpt.render import writers
    from t2mgpt.utils.io import atomic_path

    path = Path(path)
    fmt = writers.output_format(path)
    if path.is_dir():
        raise InputError(f"output path {path} is a folder; give a file name ending in .{fmt}")
    if path.exists() and not overwrite:
        raise InputError(f"{path} already exists; pass overwrite=True (CLI: --overwrite) to replace it")
    _check_folder(path)
    cfg = _config(config, options if fps is None else {**options, "fps": fps})
    if fmt == "mp4" and (cfg.width % 2 or cfg.height % 2):
        cfg = cfg.updated(width=cfg.width + cfg.width % 2, height=cfg.height + cfg.height % 2)
    p = painter(joints, title, skeleton, cfg)
    check_length(len(p), cfg)
    frames = (p(t) for t in range(len(p)))
    with atomic_path(path) as tmp:
        if fmt == "mp4":
            writers.write_mp4(frames, tmp, (cfg.width, cfg.height), cfg.fps)
        else:
            samples = [p(int(t)) for t in np.linspace(0, len(p) - 1, min(len(p), 5))]
            writers.write_gif(frames, tmp, cfg.fps, samples)
        _usual_permissions(tmp)
    return path


def _usual_permissions(path: Path) -> None:
    """Temp files are private (0600); give the finished file the mode a new file would get."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def _check_folder(path: Path) -> None:
    """Fail before rendering, not after, if the file cannot be written."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot write to {parent}: permission denied")


def render_strip(joints, path: str | os.PathLike | None = None, n: int = 6, title: str | None = None,
                 skeleton: str | Skeleton | None = None, config: RenderConfig | None = None,
                 **options) -> np.ndarray:
    """`n` evenly spaced frames side by side (one fixed camera) under an optional title.

    Returns the (H, n*W, 3) uint8 picture and writes it as PNG if `path` is given.
    """
    from PIL import Image, ImageDraw

    from t2mgpt.render import style, writers
    from t2mgpt.utils.io import atomic_path

    if path is not None and Path(path).suffix.lower() != ".png":
        raise InputError(f"frame strips are written as PNG: use a .png file name, not {path}")
    if path is not None:
        _check_folder(Path(path))
    if not 1 <= n <= 32:
        raise InputError(f"a strip holds 1 to 32 frames, got n={n}")
    options = {"camera": "fixed", "timeline": False, "width": 360, "height": 360, **options}
    p = painter(joints, None, skeleton, config, **options)
    picks = np.linspace(0, len(p) - 1, n).round().astype(int)
    w, h = p.cfg.width, p.cfg.height
    band = 0
    if title:
        fnt = style.font(max(12, round(0.05 * h)))
        lines = style.wrap_text(title, fnt, 0.94 * n * w, 2)
        band = round(0.02 * h + 1.3 * fnt.size * len(lines))
    strip = Image.new("RGB", (n * w, h + band), style.BACKGROUND_TOP)
    for i, t in enumerate(picks):
        strip.paste(p(int(t)), (i * w, band))
    draw = ImageDraw.Draw(strip)
    if title:
        for i, line in enumerate(lines):
            draw.text((n * w / 2, 0.02 * h + 1.3 * fnt.size * i), line, fill=style.TITLE, font=fnt, anchor="ma")
    for i in range(1, n):  # thin separators between the panels
        draw.line((i * w, band + 0.04 * h, i * w, band + 0.96 * h), fill=style.FLOOR_DARK, width=1)
    small = style.font(max(9, round(0.035 * h)))
    for i, t in enumerate(picks):
        draw.text(((i + 0.5) * w, band + h - 0.03 * h), f"{t / p.cfg.fps:.1f} s", fill=style.MUTED,
                  font=small, anchor="md")
    if path is not None:
        with atomic_path(path) as tmp:
            writers.write_png(strip, tmp)
            _usual_permissions(tmp)
    return np.asarray(strip)
