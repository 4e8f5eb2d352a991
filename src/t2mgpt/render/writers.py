"""Write frames to MP4 (H.264 through the ffmpeg binary of imageio-ffmpeg), GIF and PNG."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image

from t2mgpt.errors import InputError, T2MGPTError

FORMATS = (".mp4", ".gif")


def output_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"cannot tell the video format of {path}: use a .mp4 (H.264) or .gif file name"
        )
    return suffix[1:]


def write_mp4(frames: Iterable[Image.Image], path: Path, size: tuple[int, int], fps: float, crf: int = 20) -> int:
    """Stream RGB frames into ffmpeg (libx264, yuv420p: plays in browsers). Returns frame count.

    Drawing (here) and encoding (the ffmpeg process) run in parallel.
    """
    import imageio_ffmpeg

    w, h = size
    if w % 2 or h % 2:
        raise InputError(f"MP4 (yuv420p) needs even frame sizes, got {w}x{h}")
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-",
        "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", "-f", "mp4", str(path),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    count = 0
    try:
        for frame in frames:
            proc.stdin.write(frame.tobytes())
            count += 1
        proc.stdin.close()
    except BrokenPipeError:
        pass
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    err = proc.stderr.read().decode(errors="replace").strip()
    if proc.wait() != 0:
        lines = [line for line in err.splitlines() if line.strip()] or ["no message"]
        # the first line usually names the cause (e.g. "No space left on device"); errors stay one line
        cause = lines[0] if len(lines) == 1 else f"{lines[0]} (+{len(lines) - 1} more line(s) of ffmpeg output)"
        if any("No space left" in line for line in lines):
            cause = "No space left on device; free some space or write elsewhere"
        raise T2MGPTError(f"ffmpeg failed to encode the video: {cause}")
    return count


def write_gif(frames: Iterable[Image.Image], path: Path, fps: float, samples: list[Image.Image]) -> int:
    """Animated GIF with one palette computed from `samples` (no flicker, fast); loops forever."""
    w, h = samples[0].size
    montage = Image.new("RGB", (w * len(samples), h))
    for i, sample in enumerate(samples):
        montage.paste(sample, (i * w, 0))
    palette = montage.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    images = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]
    if not images:
        raise InputError("no frames to write")
    images[0].save(
        path, format="GIF", save_all=True, append_images=images[1:],
        duration=round(1000 / fps), loop=0, optimize=False, disposal=1,
    )
    return len(images)


def write_png(image: Image.Image | np.ndarray, path: Path) -> None:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image.save(path, format="PNG", optimize=True)
