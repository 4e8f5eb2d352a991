"""Reader for a dataset folder in the HumanML3D / KIT-ML layout.

    ROOT/
      new_joint_vecs/<id>.npy   (T, D) float features, unnormalised (D = 263 HumanML3D, 251 KIT-ML)
      texts/<id>.txt            one caption a line: `caption#word/POS word/POS ...#start#end`
      Mean.npy, Std.npy         (D,) normalisation statistics
      train.txt, val.txt, test.txt   motion ids, one a line

HumanML3D also ships a left/right mirrored copy of every clip under the id `M<id>`.
Ids listed in a split whose files are missing are skipped (and counted), as the original
code does: a few KIT-ML ids have no motion file.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from t2mgpt.data.spec import HUMANML3D, spec_for_dim
from t2mgpt.errors import DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
MIRROR_PREFIX = "M"


@dataclass(frozen=True)
class Caption:
    """One description of a motion. `start == end == 0.0` means the whole motion;
    otherwise it describes the segment [start, end) seconds."""

    text: str
    tokens: tuple[str, ...]  # "word/POS" pairs, as produced by the HumanML3D text processing
    start: float = 0.0
    end: float = 0.0

    @property
    def whole(self) -> bool:
        return self.start == 0.0 and self.end == 0.0


@dataclass(frozen=True)
class MotionSample:
    id: str
    motion: np.ndarray  # (T, D) float32, unnormalised
    captions: tuple[Caption, ...]


def parse_caption_line(line: str) -> Caption | None:
    """Parse `caption#tokens#start#end`; None for a blank or malformed line (skipped, as the original does)."""
    parts = line.strip().split("#")
    if len(parts) < 4 or not parts[0].strip():
        return None
    try:
        start, end = float(parts[2]), float(parts[3])
    except ValueError:
        return None
    start = 0.0 if math.isnan(start) else start
    end = 0.0 if math.isnan(end) else end
    tokens = tuple(t for t in parts[1].split(" ") if t)
    return Caption(text=parts[0].strip(), tokens=tokens, start=start, end=end)


def read_captions(path: str | Path) -> tuple[Caption, ...]:
    with open(path, encoding="utf-8") as f:
        return tuple(c for c in map(parse_caption_line, f) if c is not None)


def read_split(root: str | Path, split: str) -> list[str]:
    """Motion ids of `split` (train/val/test or the name of any `<name>.txt` split file in ROOT)."""
    root = Path(root)
    path = root / f"{split}.txt"
    if not path.is_file():
        have = sorted(p.stem for p in root.glob("*.txt"))
        raise DataError(
            f"split file {path} not found (split files here: {', '.join(have) or 'none'}); "
            f"a HumanML3D-layout folder needs train.txt, val.txt and test.txt listing motion ids"
        )
    with open(path, encoding="utf-8") as f:
        ids = [line.strip() for line in f if line.strip()]
    if not ids:
        raise DataError(f"split file {path} is empty: list one motion id per line")
    return ids


def load_stats(root: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Mean.npy and Std.npy of the dataset as float32 (D,) arrays, checked."""
    from t2mgpt.motion.normalize import read_stats

    root = Path(root)
    return read_stats(root / "Mean.npy", root / "Std.npy", error=DataError,
                      hint=": the dataset folder needs Mean.npy and Std.npy (the feature statistics shipped with "
                           "HumanML3D / KIT-ML)")


def load_motion(path: Path, dim: int) -> np.ndarray:
    """One (T, dim) float32 motion, checked."""
    try:
        m = np.load(path)
    except (ValueError, OSError) as e:
        raise DataError(f"{path} is not a readable .npy file ({e}); re-export it") from e
    if m.ndim != 2 or m.shape[1] != dim:
        raise DataError(
            f"{path} has shape {m.shape} but Mean.npy/Std.npy have {dim} feature dimensions "
            f"(HumanML3D uses 263, KIT-ML 251): the motion and the statistics do not belong together"
        )
    if m.shape[0] == 0:
        raise DataError(f"{path} has no frames; remove it from the split files")
    if not np.isfinite(m).all():
        raise DataError(f"{path} contains NaN or inf values; re-export that motion or remove it from the split files")
    return m.astype(np.float32, copy=False)


class HumanML3DDataset:
    """The motions (and captions) of one split, loaded into memory.

    `motions[i]` is the unnormalised (T, D) float32 feature array of `ids[i]` and
    `captions[i]` its captions (empty tuples when `texts=False`). Ids whose files are
    missing are skipped and listed in `skipped`.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        texts: bool = True,
        min_frames: int = 1,
        max_frames: int | None = None,
        progress: bool = False,
    ):
        root = Path(root)
        if not root.is_dir():
            raise DataError(
                f"dataset folder {root} not found: point --data at a folder in the HumanML3D layout "
                f"(new_joint_vecs/, texts/, Mean.npy, Std.npy, train.txt, val.txt, test.txt)"
            )
        motion_dir = root / "new_joint_vecs"
        text_dir = root / "texts"
        if not motion_dir.is_dir():
            raise DataError(f"{motion_dir} not found: the dataset folder needs the motion features in new_joint_vecs/")
        if texts and not text_dir.is_dir():
            raise DataError(f"{text_dir} not found: the dataset folder needs the captions in texts/")
        self.root, self.split = root, split
        self.mean, self.std = load_stats(root)
        all_ids = read_split(root, split)

        self.ids: list[str] = []
        self.motions: list[np.ndarray] = []
        self.captions: list[tuple[Caption, ...]] = []
        self.skipped: list[str] = []  # listed in the split, but a file is missing
        self.filtered: list[str] = []  # outside [min_frames, max_frames)
        it = all_ids
        if progress:
            from tqdm import tqdm

            it = tqdm(all_ids, desc=f"loading {split}", unit="motion", leave=False)
        for mid in it:
            mpath = motion_dir / f"{mid}.npy"
            tpath = text_dir / f"{mid}.txt"
            if not mpath.is_file() or (texts and not tpath.is_file()):
                self.skipped.append(mid)
                continue
            motion = load_motion(mpath, self.dim)
            if len(motion) < min_frames or (max_frames is not None and len(motion) >= max_frames):
                self.filtered.append(mid)
                continue
            caps = read_captions(tpath) if texts else ()
            self.ids.append(mid)
            self.motions.append(motion)
            self.captions.append(caps)

        if self.skipped:
            log.warning(
                "%s split of %s: %d of %d listed motions have missing files and are skipped (e.g. %s)",
                split, root, len(self.skipped), len(all_ids), ", ".join(self.skipped[:3]),
            )
        if not self.ids:
            what = "have missing files" if self.skipped else f"are outside {min_frames}..{max_frames} frames"
            raise DataError(
                f"no usable motion in the {split} split of {root}: all {len(all_ids)} listed ids {what}; "
                f"check that new_joint_vecs/<id>.npy" + (" and texts/<id>.txt" if texts else "") + " exist"
            )

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @property
    def fps(self) -> float:
        """Frame rate of the dataset kind of this feature size (HumanML3D's 20 for unknown sizes)."""
        return spec_for_dim(self.dim, default=HUMANML3D).fps

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(m) for m in self.motions], dtype=np.int64)

    def normalize(self, x):
        return (x - self.mean) / self.std

    def denormalize(self, x):
        return x * self.std + self.mean

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> MotionSample:
        return MotionSample(self.ids[i], self.motions[i], self.captions[i])

    def __repr__(self) -> str:
        return f"HumanML3DDataset({str(self.root)!r}, split={self.split!r}, motions={len(self)}, dim={self.dim})"


def is_mirror_id(motion_id: str) -> bool:
    return motion_id.startswith(MIRROR_PREFIX)


def mirror_id(motion_id: str) -> str:
    """`012314` <-> `M012314` (HumanML3D's name for the left/right mirrored copy)."""
    return motion_id[1:] if is_mirror_id(motion_id) else MIRROR_PREFIX + motion_id
