"""The `cmu` source: /work/shared/data/cmu_ml (CMU mocap, 20 joints, metres, y up, 12 fps, captions).

See that folder's README.md. Captions: the human KIT-ML sentences as written; the CMU trial
descriptions cleaned and turned into sentences by `labels` ("walk" -> "a person walks"),
calibration / meaningless labels and two-person scene descriptions dropped. Splits are the
dataset's own (by person).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from t2mgpt.errors import DataError
from t2mgpt.prepare.labels import clean_label, holds_for_any_part, label_sentence
from t2mgpt.prepare.retarget import CMU_JOINTS, cmu_joint_map
from t2mgpt.prepare.segment import SourceCaption
from t2mgpt.prepare.source import FolderSource, Trial, check_joints, check_number
from t2mgpt.prepare.text import clean_caption


def cmu_captions(records: list[dict]) -> tuple[list[SourceCaption], Counter]:
    """The captions of one trial's `captions` list, and the drops by reason."""
    out: list[SourceCaption] = []
    drops: Counter = Counter()
    seen = set()
    for c in records:
        source = c.get("source", "")
        text = clean_caption(str(c.get("text", "")))
        if source == "cmu-index":
            label, why = clean_label(text)
            if label is None:
                drops[f"{why}:cmu-index"] += 1
                continue
            text = label_sentence(label)
        elif not text:
            drops[f"empty:{source}"] += 1
            continue
        if text.lower() in seen:
            drops[f"duplicate:{source}"] += 1
            continue
        seen.add(text.lower())
        # every KIT-ML sentence here describes the whole trial (README): no span
        out.append(SourceCaption(text, source, None, None, holds_for_any_part(text)))
    return out, drops


class CMUSource(FolderSource):
    name = "cmu"
    motions_file = "joints20.npz"
    layout = "pass --src pointing at the cmu_ml folder, which holds joints20.npz and captions.jsonl"
    split_required = True

    def __init__(self, root: str | Path):
        super().__init__(root)
        self.joint_map = cmu_joint_map()
        self.records = self.read_records()
        if not self.records:
            raise DataError(f"{self.captions_path} holds no records")

    def check_record(self, rec: dict, where: str) -> dict:
        captions = rec.get("captions") or []
        if not isinstance(captions, list) or not all(isinstance(c, dict) for c in captions):
            raise DataError(f"{where}: 'captions' must be a list of {{\"text\": ..., \"source\": ...}} objects")
        rec["fps"] = check_number(rec.get("fps", self.joint_map.fps), "fps", where, " of frames per second", positive=True)
        return rec

    def ids(self) -> list[str]:
        return list(self.records)

    def load(self, trial_id: str) -> Trial:
        rec = self.records[trial_id]
        if trial_id not in self.npz.files:
            raise DataError(f"{self.motions_path} has no array {trial_id!r} listed in {self.captions_path}")
        joints = check_joints(self.array(trial_id), len(CMU_JOINTS), f"{self.motions_path}[{trial_id!r}]")
        captions, drops = cmu_captions(rec.get("captions") or [])
        return Trial(trial_id, joints, rec["fps"], captions, rec["split"], drops)
