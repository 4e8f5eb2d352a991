"""The `generic` source: any skeleton's joint positions + captions + a joint map.

    DIR/motions.npz      one (T, J, 3) array per id (numpy.savez / savez_compressed)
    DIR/captions.jsonl   {"id": ..., "captions": [{"text": ..., "start_s": ..., "end_s": ...,
                          "any_part": ...}], "split": "train"|"val"|"test", "fps": ...}
                         (captions, spans, split, fps and any_part optional)
    DIR/joint_map.json   the declarative map to SMPL-22 (`retarget.JointMap`), with "fps"

Ids of motions.npz without a caption record are kept motion-only; records without a motion
are skipped with a warning. Without a "split", an id goes to train/val/test (80/10/10) by
a hash of the id. Captions are used as written (whitespace cleaned); `any_part` says
whether a caption is true of every part of its span (default: guessed by
`labels.holds_for_any_part`).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from t2mgpt.errors import DataError
from t2mgpt.prepare.labels import holds_for_any_part
from t2mgpt.prepare.retarget import JointMap
from t2mgpt.prepare.segment import SourceCaption
from t2mgpt.prepare.source import FolderSource, Trial, check_id, check_joints, check_number, hash_split
from t2mgpt.prepare.text import clean_caption

log = logging.getLogger(__name__)


def parse_captions(items, where: str) -> list[SourceCaption]:
    if not isinstance(items, list):
        raise DataError(f"{where}: 'captions' must be a list of {{\"text\": ...}} objects")
    out = []
    for k, c in enumerate(items):
        w = f"{where} caption {k}"
        if isinstance(c, str):
            c = {"text": c}
        if not isinstance(c, dict) or not isinstance(c.get("text"), str):
            raise DataError(f"{w}: expected an object with a 'text' string, got {c!r}")
        text = clean_caption(c["text"])
        if not text:
            continue
        start = check_number(c.get("start_s"), "start_s", w, " of seconds")
        end = check_number(c.get("end_s"), "end_s", w, " of seconds")
        if start is not None and end is not None and end <= start:
            raise DataError(f"{w}: end_s ({end}) must be after start_s ({start})")
        any_part = c.get("any_part")
        if any_part is not None and not isinstance(any_part, bool):
            raise DataError(f"{w}: any_part must be true or false, got {any_part!r}")
        out.append(SourceCaption(text, str(c.get("source", "generic")), start, end,
                                 holds_for_any_part(text) if any_part is None else any_part))
    return out


class GenericSource(FolderSource):
    name = "generic"
    extra_files = ("joint_map.json",)
    layout = "a generic source folder holds motions.npz, captions.jsonl and joint_map.json (see docs/data.md)"

    def __init__(self, root: str | Path):
        super().__init__(root)
        map_path = self.root / "joint_map.json"
        self.joint_map = JointMap.load(map_path)
        motion_ids = list(self.npz.files)
        if not motion_ids:
            raise DataError(f"{self.motions_path} holds no arrays")
        for tid in motion_ids:
            check_id(tid, str(self.motions_path))
        self.records = self.read_records()
        orphans = [t for t in self.records if t not in set(motion_ids)]
        if orphans:
            log.warning("%d caption records have no motion in %s and are skipped (e.g. %s)",
                        len(orphans), self.motions_path, ", ".join(orphans[:3]))
        self._ids = motion_ids
        if self.joint_map.fps is None and any(self.records.get(t, {}).get("_fps") is None for t in motion_ids):
            raise DataError(f"{map_path}: give the source frame rate as \"fps\" (or per record in captions.jsonl)")

    def check_record(self, rec: dict, where: str) -> dict:
        rec["_captions"] = parse_captions(rec.get("captions", []), where)
        rec["_fps"] = check_number(rec.get("fps"), "fps", where, " of frames per second", positive=True)
        return rec

    def ids(self) -> list[str]:
        return list(self._ids)

    def load(self, trial_id: str) -> Trial:
        joints = check_joints(self.array(trial_id), self.joint_map.num_source_joints, f"{self.motions_path}[{trial_id!r}]")
        rec = self.records.get(trial_id, {})
        fps = rec.get("_fps") or self.joint_map.fps
        split = rec.get("split") or hash_split(trial_id)
        return Trial(trial_id, joints, float(fps), list(rec.get("_captions", [])), split)
