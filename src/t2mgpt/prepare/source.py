"""What a data source hands to the preparation pipeline: trials of raw joints with captions."""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

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
