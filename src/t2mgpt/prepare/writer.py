"""Writing the HumanML3D layout: one clip's files atomically, per-trial markers, split files, stats.

    OUT/new_joints/<id>.npy       (T, 22, 3) float32 = features_to_joints(features)
    OUT/new_joint_vecs/<id>.npy   (T, 263) float32 features
    OUT/texts/<id>.txt            `caption#tokens#start#end` lines (empty: motion-only clip)
    OUT/M<id>.* (same folders)    the left/right mirrored copy
    OUT/Mean.npy, OUT/Std.npy     over the train split (mirrored copies included)
    OUT/{train,val,test,all}.txt  clip ids (mirrored ids included, as HumanML3D)
    OUT/{train,val,test}_captioned.txt   the ids that have at least one caption
    OUT/.prepare/<trial>.json     what was written for a trial: a re-run skips it
    OUT/prepare_summary.json      counts of the last run
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from t2mgpt.data.humanml3d import mirror_id
from t2mgpt.utils.io import atomic_path

CLIP_DIRS = ("new_joints", "new_joint_vecs", "texts")
MARKER_DIR = ".prepare"


def make_dirs(out: Path) -> None:
    for d in CLIP_DIRS + (MARKER_DIR,):
        (out / d).mkdir(parents=True, exist_ok=True)


def save_npy(path: Path, array: np.ndarray) -> None:
    buf = io.BytesIO()  # numpy's own file write reports a full disk without an errno
    np.save(buf, array)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getbuffer())


def save_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def clip_paths(out: Path, clip_id: str) -> tuple[Path, Path, Path]:
    return (out / "new_joints" / f"{clip_id}.npy", out / "new_joint_vecs" / f"{clip_id}.npy",
            out / "texts" / f"{clip_id}.txt")


def write_clip(out: Path, clip_id: str, features: np.ndarray, joints: np.ndarray, lines: list[str]) -> None:
    jpath, fpath, tpath = clip_paths(out, clip_id)
    save_npy(jpath, joints.astype(np.float32))
    save_npy(fpath, features.astype(np.float32))
    save_text(tpath, "".join(line + "\n" for line in lines))


def remove_clip(out: Path, clip_id: str) -> None:
    for p in clip_paths(out, clip_id):
        p.unlink(missing_ok=True)


def marker_path(out: Path, trial_id: str) -> Path:
    return out / MARKER_DIR / f"{trial_id}.json"


def read_marker(out: Path, trial_id: str) -> dict | None:
    path = marker_path(out, trial_id)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # unreadable: redo the trial


def write_marker(out: Path, trial_id: str, info: dict) -> None:
    save_text(marker_path(out, trial_id), json.dumps(info, indent=1))


def marker_complete(out: Path, marker: dict) -> bool:
    """Every file the marker lists is still there."""
    ids = [c["id"] for c in marker.get("clips", [])]
    ids += [mirror_id(i) for i in ids] if marker.get("mirrored") else []
    return all(p.is_file() for i in ids for p in clip_paths(out, i))


def write_id_list(path: Path, ids: list[str]) -> None:
    save_text(path, "".join(i + "\n" for i in ids))
