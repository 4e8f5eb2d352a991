"""Files of a run: safe names from prompts, target paths, all-or-nothing batches."""
from __future__ import annotations

import contextlib
import os
import re
import unicodedata
import uuid
from pathlib import Path
from typing import Iterator, Sequence

from t2mgpt.errors import InputError

# letters that Unicode does not decompose into ASCII ones
_TRANSLITERATE = str.maketrans({"ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
                                "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D"})


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
    """Target paths `[prompt][sample][format]` = out_dir/<slug>_<sample><suffix of format>.

    Prompts with the same slug get '-2', '-3', ... so that every path of a run is unique.
    """
    from t2mgpt.export import get_format

    out_dir = Path(out_dir)
    suffixes = {fmt: get_format(fmt).suffix for fmt in formats}
    used: set[str] = set()
    plan = []
    for text in texts:
        base = slugify(text)
        slug, k = base, 1
        while slug in used:
            k += 1
            slug = f"{base}-{k}"
        used.add(slug)
        plan.append([{fmt: out_dir / f"{slug}_{j}{suffixes[fmt]}" for fmt in formats} for j in range(num_samples)])
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
