"""What the mp4 and gif formats share: drawing the motion with `t2mgpt.render`."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from t2mgpt.export import Option
from t2mgpt.render.style import RenderConfig

_CLI = {
    "title": Option("title", "mp4/gif: text shown above the figure (default: the motion's text)"),
    "camera": Option("camera", "mp4/gif: auto (default), fixed or follow", choices=("auto", "fixed", "follow")),
    "width": Option("width", "mp4/gif: frame width in pixels (default: 480)", parse=int),
    "height": Option("height", "mp4/gif: frame height in pixels (default: 480)", parse=int),
    "max_frames": Option("max_frames", "mp4/gif: longest motion drawn, in frames (default: 6000)", parse=int),
}
# every RenderConfig field but fps (the motion's own) is an option; the common ones on the command line too
OPTIONS = tuple(_CLI.get(f.name, Option(f.name, f"render option {f.name}", cli=False))
                for f in fields(RenderConfig) if f.name != "fps") + (_CLI["title"],)


def write_video(motion, path: Path, **options) -> None:
    from t2mgpt.render import render_motion

    title = options.pop("title", motion.text)
    render_motion(motion.joints, path, title=title, fps=motion.fps, skeleton=motion.skeleton, **options)
