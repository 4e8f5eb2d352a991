"""Writing generated motions: safe file names, one writer per format, all-or-nothing batches.

Formats: mp4 / gif (stick-figure video), bvh (skeletal animation), npy (joint positions
(T, J, 3) in metres, y up), json (joints rounded to millimetres + metadata).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import unicodedata
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from t2mgpt.errors import InputError

FORMATS = ("mp4", "gif", "bvh", "npy", "json")
JSON_FORMAT = "t2mgpt-motion"
# letters that Unicode does not decompose into ASCII ones
_TRANSLITERATE = str.maketrans({"ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
                                "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D"})


def parse_formats(spec: str | Sequence[str]) -> list[str]:
    """'mp4,bvh' or ['mp4', 'bvh'] -> checked, de-duplicated list of formats."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for item in items:
        fmt = str(item).strip().lower().lstrip(".")
        if not fmt:
            continue
        if fmt not in FORMATS:
            raise InputError(f"unknown output format {item!r}; choose from {', '.join(FORMATS)}")
        if fmt not in out:
            out.append(fmt)
    if not out:
        raise InputError(f"no output format given; choose from {', '.join(FORMATS)}")
    return out


def slugify(text: str, max_len: int = 60) -> str:
    """A file-name-safe stem from a prompt: lowercase ASCII [a-z0-9_-], at most `max_len` chars.

    Path separators, dots, NULs and other characters become '_', so the result can never leave
    the output folder; a prompt with nothing usable gives 'motion'.
    """
    s = unicodedata.normalize("NFKD", str(text).translate(_TRANSLITERATE)).encode("ascii", "ignore").decode("ascii").lower()
    s = re.sub(r"[^a-z0-9_-]+", "_", s)
    s = re.sub(r"_{2,}", "_", s).strip("_-")
    if len(s) > max_len:
        s = s[:max_len]
        cut = s.rfind("_")
        if cut >= max_len // 2:  # end at a word boundary when one is near
            s = s[:cut]
        s = s.strip("_-")
    return s or "motion"


def plan_outputs(texts: Sequence[str], num_samples: int, formats: Sequence[str],
                 out_dir: str | os.PathLike) -> list[list[dict[str, Path]]]:
    """Target paths `[prompt][sample][format]` = out_dir/<slug>_<sample>.<format>.

    Prompts with the same slug get '-2', '-3', ... so that every path of a run is unique.
    """
    out_dir = Path(out_dir)
    used: set[str] = set()
    plan = []
    for text in texts:
        base = slugify(text)
        slug, k = base, 1
        while slug in used:
            k += 1
            slug = f"{base}-{k}"
        used.add(slug)
        plan.append([{fmt: out_dir / f"{slug}_{j}.{fmt}" for fmt in formats} for j in range(num_samples)])
    return plan


def check_free(paths: Sequence[Path], overwrite: bool) -> None:
    """Refuse (before anything is written) if a target is a folder, or exists without overwrite."""
    folders = [p for p in paths if p.is_dir()]
    if folders:
        raise InputError(f"{folders[0]} is a folder; cannot write a file there")
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        raise InputError(f"{', '.join(map(str, existing[:3]))}{more} already exist(s); pass --overwrite to "
                         "replace them or choose another --out-dir")


# ------------------------------------------------------------------------------ writers
# Each writer takes a motion (an object with text, joints (T, J, 3), features, fps, skeleton,
# tokens, seed, model) and writes exactly `path`, atomically.


def _write_video(motion, path: Path, **options) -> None:
    from t2mgpt.render import render_motion

    render_motion(motion.joints, path, title=options.pop("title", motion.text), fps=motion.fps,
                  skeleton=motion.skeleton, **options)


def _write_bvh(motion, path: Path, scale: float = 1.0, rotation_order: str = "auto") -> None:
    from t2mgpt.bvh import write_bvh

    write_bvh(path, motion.joints, skeleton=motion.skeleton, fps=motion.fps, scale=scale,
              rotation_order=rotation_order)


def _write_npy(motion, path: Path, what: str = "joints") -> None:
    from t2mgpt.utils.io import atomic_path

    if what not in ("joints", "features"):
        raise InputError(f"npy holds 'joints' or 'features', not {what!r}")
    array = np.asarray(motion.joints if what == "joints" else motion.features, dtype=np.float32)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)


def motion_json(motion) -> dict[str, Any]:
    """The JSON document of a motion: metadata + joints rounded to millimetres."""
    from t2mgpt.motion.skeleton import get_skeleton

    sk = get_skeleton(motion.skeleton)
    joints = np.asarray(motion.joints, dtype=np.float64)
    return {
        "format": JSON_FORMAT,
        "version": 1,
        "text": motion.text,
        "model": motion.model,
        "seed": motion.seed,
        "fps": motion.fps,
        "num_frames": int(joints.shape[0]),
        "duration": round(joints.shape[0] / motion.fps, 4),
        "tokens": [int(t) for t in motion.tokens],
        "skeleton": {"name": sk.name, "joint_names": list(sk.joint_names), "parents": list(sk.parents)},
        "units": "metres, y up; joints[frame][joint] = [x, y, z]",
        "joints": np.round(joints, 3).tolist(),
    }


def _write_json(motion, path: Path) -> None:
    from t2mgpt.utils.io import atomic_path

    text = json.dumps(motion_json(motion), separators=(",", ":"), allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")


WRITERS: dict[str, Callable[..., None]] = {
    "mp4": _write_video, "gif": _write_video, "bvh": _write_bvh, "npy": _write_npy, "json": _write_json,
}


def format_of(path: str | os.PathLike) -> str:
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError(f"cannot tell the output format of {path}: use a name ending in "
                         f"{', '.join('.' + f for f in FORMATS)}")
    return fmt


def write_motion(motion, path: str | os.PathLike, fmt: str | None = None, **options) -> Path:
    """Write `motion` to `path` in `fmt` (default: from the suffix). Options go to the writer
    (mp4/gif: render options such as width, height, camera, title; bvh: scale; npy: what)."""
    path = Path(path)
    fmt = format_of(path) if fmt is None else parse_formats(fmt)[0]
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file name")
    WRITERS[fmt](motion, path, **options)
    return path


# ------------------------------------------------------------------------------ batches


class StagedFiles:
    """Files of one run, written under hidden temporary names and moved into place together.

        with StagedFiles() as stage:
            for target in targets:
                write_motion(m, stage.temp_for(target), fmt)
        # all targets exist now; on an error none of them was created

    A failure removes every temporary file, and any target already moved in this run.
    """

    def __init__(self):
        self._pairs: list[tuple[Path, Path]] = []
        self.committed: list[Path] = []

    def temp_for(self, target: Path) -> Path:
        target = Path(target)
        tmp = target.parent / f".{target.stem}.{uuid.uuid4().hex[:8]}.part{target.suffix}"
        self._pairs.append((tmp, target))
        return tmp

    def commit(self) -> list[Path]:
        for tmp, target in self._pairs:
            if not tmp.is_file():
                raise InputError(f"internal error: {target} was not written")
        for tmp, target in self._pairs:
            os.replace(tmp, target)
            self.committed.append(target)
        return list(self.committed)

    def rollback(self) -> None:
        for tmp, _ in self._pairs:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        for target in self.committed:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
        self.committed = []

    def __enter__(self) -> "StagedFiles":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.commit()
                return
            except BaseException:
                self.rollback()
                raise
        self.rollback()


@contextlib.contextmanager
def output_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Create `path` if needed; remove it again if the block fails and it is left empty."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"output folder {path} exists and is not a folder")
    created = []
    for p in reversed([path, *path.parents]):
        if not p.exists():
            created.append(p)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the output folder {path}: {e}") from e
    if not os.access(path, os.W_OK):
        raise InputError(f"cannot write to {path}: permission denied")
    try:
        yield path
    except BaseException:
        for p in reversed(created):
            with contextlib.suppress(OSError):
                p.rmdir()  # only if empty
        raise
