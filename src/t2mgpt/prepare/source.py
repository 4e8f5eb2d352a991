"""What a data source hands to the preparation pipeline: trials of raw joints with captions."""
from __future__ import annotations

import hashlib
import json
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from t2mgpt.errors import DataError
from t2mgpt.prepare.retarget import JointMap
from t2mgpt.prepare.segment import SourceCaption

SPLITS = ("train", "val", "test")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass
class Trial:
    """One source recording: raw joints (T, J, 3) at `fps`, its captions and split."""
    id: str
    joints: np.ndarray
    fps: float
    captions: list[SourceCaption]
    split: str
    caption_drops: Counter = field(default_factory=Counter)  # captions dropped while cleaning, by reason


class Source:
    """A dataset to prepare: `ids()` in a fixed order, `load(id)` one trial, `joint_map`."""
    name: str = "source"
    joint_map: JointMap

    def ids(self) -> list[str]:
        raise NotImplementedError

    def load(self, trial_id: str) -> Trial:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"source": self.name}



class FolderSource(Source):
    """A folder holding an .npz archive (one (T, J, 3) joint array per id) and captions.jsonl (one
    JSON object with an "id" a line). Subclasses name the files and check each record."""
    motions_file = "motions.npz"
    extra_files: tuple[str, ...] = ()  # further files the folder must hold
    layout = ""  # what the folder holds, for error messages
    split_required = False  # every record must name its split

    def __init__(self, root: str | Path):
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"source folder {root} not found: {self.layout}")
        self.root = root
        self.motions_path = root / self.motions_file
        self.captions_path = root / "captions.jsonl"
        for p in (self.motions_path, self.captions_path, *(root / f for f in self.extra_files)):
            if not p.is_file():
                raise DataError(f"{p} not found: {self.layout}")
        self._npz = None

    def read_records(self) -> dict[str, dict]:
        """id -> record of captions.jsonl, each passed through `check_record`."""
        records: dict[str, dict] = {}
        with open(self.captions_path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{self.captions_path}:{n}"
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{where}: not valid JSON ({e})") from None
                if not isinstance(rec, dict) or "id" not in rec:
                    raise DataError(f"{where}: each line must be an object with an 'id'")
                if (self.split_required or rec.get("split") is not None) and rec.get("split") not in SPLITS:
                    raise DataError(f"{where}: split {rec.get('split')!r} is not one of {SPLITS}")
                records[str(rec["id"])] = self.check_record(rec, where)
        return records

    def check_record(self, rec: dict, where: str) -> dict:
        return rec

    def describe(self) -> dict:
        return {"source": self.name, "path": str(self.root), "source_trials": len(self.ids())}

    def __getstate__(self):  # picklable for worker processes: reopen the archive there
        state = self.__dict__.copy()
        state["_npz"] = None
        return state

    @property
    def npz(self):
        if self._npz is None:
            try:
                self._npz = np.load(self.motions_path, allow_pickle=False)
            except Exception as e:
                raise DataError(f"{self.motions_path} is not a readable .npz archive ({type(e).__name__}: {e})") from None
            if not hasattr(self._npz, "files"):
                raise DataError(f"{self.motions_path} holds a single array; save one array per id with numpy.savez")
        return self._npz

    def array(self, trial_id: str) -> np.ndarray:
        """One array of the archive; a pickled or corrupt member is a DataError."""
        try:
            return self.npz[trial_id]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
            raise DataError(f"{self.motions_path}[{trial_id!r}] is not a readable numeric array "
                            f"({type(e).__name__}: {e})") from None



def check_joints(joints: np.ndarray, num_joints: int, where: str) -> np.ndarray:
    """A trial's (T, J, 3) positions as float64; integer arrays (e.g. millimetres) are converted,
    other kinds (bool, complex, text) and wrong shapes are a DataError."""
    if not (np.issubdtype(joints.dtype, np.floating) or np.issubdtype(joints.dtype, np.integer)):
        raise DataError(f"{where} holds {joints.dtype} values; save the joint positions as numbers (float32)")
    if joints.ndim != 3 or joints.shape[1:] != (num_joints, 3):
        raise DataError(f"{where} has shape {joints.shape}, expected (T, {num_joints}, 3)")
    return joints.astype(np.float64)


def check_number(value, what: str, where: str, unit: str = "", positive: bool = False) -> float | None:
    """A non-negative (or positive) finite number from JSON (None stays None); numeric strings are accepted."""
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = None
    if x is None or isinstance(value, bool) or not np.isfinite(x) or x < 0 or (positive and x == 0):
        sign = "positive" if positive else "non-negative"
        raise DataError(f"{where}: {what} must be a {sign} number{unit}, got {value!r}")
    return x


def check_id(trial_id: str, where: str) -> str:
    """Ids become file names and must not look like HumanML3D's mirrored ids (`M<id>`)."""
    if not _ID.match(trial_id):
        raise DataError(f"{where}: id {trial_id!r} must be letters, digits, '_', '-', '.' (it becomes a file name)")
    if trial_id.startswith("M"):
        raise DataError(f"{where}: id {trial_id!r} starts with 'M', which HumanML3D reserves for mirrored "
                        f"copies ('M<id>'); rename it")
    return trial_id


def hash_split(trial_id: str, val: float = 0.1, test: float = 0.1) -> str:
    """A deterministic train/val/test assignment from the id (for sources without splits)."""
    u = int(hashlib.sha1(trial_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if u < test else "val" if u < test + val else "train"
