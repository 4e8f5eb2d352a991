"""Trials -> HumanML3D-layout clips: map -> resample -> segment -> features -> check -> write.

Per trial: map the source joints to SMPL-22 (metres, y up), resample to 20 fps with a
cubic spline, cut into clips of at most 10 s (`segment`), compute the 263-dim features
(`t2mgpt.motion.joints_to_features`: retarget to the HumanML3D skeleton, floor, origin,
facing +z), drop broken clips with a reason, and write features, the joints recovered
from them (as HumanML3D's new_joints), the captions and the mirrored copies. Then the
split files and Mean/Std of the train split.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from t2mgpt.data.humanml3d import mirror_id
from t2mgpt.data.spec import HUMANML3D
from t2mgpt.errors import DataError, InputError, OutputError
from t2mgpt.motion import features_to_joints, joints_to_features, mirror_features
from t2mgpt.prepare import writer
from t2mgpt.prepare.auto_captions import label_clip
from t2mgpt.prepare.resample import resample
from t2mgpt.prepare.retarget import JointMap
from t2mgpt.prepare.segment import ClipCaption, assign_captions, plan_segments
from t2mgpt.prepare.source import SPLITS, Source, Trial
from t2mgpt.prepare.stats import mean_std
from t2mgpt.prepare.text import caption_line, swap_left_right
from t2mgpt.utils.io import check_writable_folder, storage_error

log = logging.getLogger(__name__)

VERSION = 1  # bump when the output of a trial changes: finished trials are then redone


@dataclass(frozen=True)
class PrepareConfig:
    fps: float = HUMANML3D.fps
    max_frames: int = HUMANML3D.max_source_frames  # joint frames per clip (199 feature frames)
    tolerance_frames: int = 10  # up to 10.5 s: crop instead of split
    min_frames: int = HUMANML3D.min_motion_len  # feature frames (2 s), as the original evaluation's minimum
    max_speed: float = 12.0  # m/s of the root on the floor plane
    max_height: float = 3.0  # m above the floor, any joint
    feet_threshold: float = 0.002
    mirror: bool = True
    auto_captions: bool = False  # add kinematic labeller captions to train clips (prepare.auto_captions)

    def fingerprint(self, joint_map: JointMap) -> str:
        blob = json.dumps({"version": VERSION, "config": asdict(self), "map": joint_map.to_dict()}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]


@dataclass
class PreparedClip:
    id: str
    features: np.ndarray  # (T, 263) float32
    joints: np.ndarray  # (T, 22, 3) float32, = features_to_joints(features)
    captions: list[ClipCaption]


def trial_joints(source: Source, trial_id: str, fps: float = 20.0) -> np.ndarray:
    """A whole trial as HumanML3D joints (T, 22, 3) at `fps`: the clip pipeline without the cut
    (for measuring real motion, e.g. validating kinematic checks on long trials)."""
    trial = source.load(trial_id)
    motion = resample(source.joint_map.apply(trial.joints), trial.fps, fps)
    return features_to_joints(joints_to_features(motion, "humanml3d"), "humanml3d").astype(np.float32)


def clip_problem(features: np.ndarray, joints: np.ndarray, cfg: PrepareConfig) -> str | None:
    """Why a clip is unusable, or None."""
    if features.ndim != 2 or features.shape[1] != HUMANML3D.feature_dim:
        return f"feature dimension {features.shape} is not (T, {HUMANML3D.feature_dim})"
    if not np.isfinite(features).all() or not np.isfinite(joints).all():
        return "NaN/inf in the features"
    if len(features) < cfg.min_frames:
        return f"too short ({len(features) / cfg.fps:.2f} s < {cfg.min_frames / cfg.fps:g} s)"
    speed = np.linalg.norm(features[:, 1:3], axis=-1) * cfg.fps
    if speed.max() > cfg.max_speed:
        return f"implausible root speed {speed.max():.1f} m/s (> {cfg.max_speed:g})"
    height = joints[..., 1].max()
    if height > cfg.max_height:
        return f"implausible height {height:.2f} m (> {cfg.max_height:g})"
    return None


def process_trial(trial: Trial, joint_map: JointMap, cfg: PrepareConfig) -> tuple[list[PreparedClip], dict]:
    """One trial -> its usable clips and a record of what happened.

    `pairs` counts text-motion pairs written (a caption on a clip) by `rule:source`;
    `caption_drops` counts the trial's captions that ended up on no clip, by `reason:source`
    (plus those dropped while cleaning the source's text).
    """
    info = {"trial": trial.id, "split": trial.split, "clips": [], "dropped": [],
            "pairs": Counter(), "caption_drops": Counter(trial.caption_drops)}
    clips: list[PreparedClip] = []
    used: set[int] = set()
    reasons: dict[int, str] = {}
    mapped = joint_map.apply(trial.joints)
    if not np.isfinite(mapped).all():
        info["dropped"].append({"id": trial.id, "reason": "NaN/inf in the source joints"})
        segments = []
    elif len(mapped) < 2:
        info["dropped"].append({"id": trial.id, "reason": "too short (fewer than 2 frames)"})
        segments = []
    else:
        motion = resample(mapped, trial.fps, cfg.fps)
        segments = plan_segments(len(motion), cfg.max_frames, cfg.tolerance_frames)
    for seg in segments:
        cid = seg.clip_id(trial.id)
        captions, drops = assign_captions(seg, trial.captions, len(motion), cfg.fps)
        try:
            features = joints_to_features(motion[seg.start:seg.stop], "humanml3d", cfg.feet_threshold)
            joints = features_to_joints(features, "humanml3d")
            problem = clip_problem(features, joints, cfg)
        except InputError as e:
            problem = f"feature extraction failed: {e}"
        if problem is not None:
            info["dropped"].append({"id": cid, "reason": problem})
            reasons.update({c.index: "clip_dropped" for c in captions})
            continue
        reasons.update(drops)
        used.update(c.index for c in captions)
        if cfg.auto_captions and trial.split == "train":
            captions = captions + auto_clip_captions(joints, cfg.fps)
        for c in captions:
            info["pairs"][f"{c.rule}:{c.source}"] += 1
        info["clips"].append({"id": cid, "frames": len(features), "kind": seg.kind,
                              "start": seg.start, "stop": seg.stop, "captions": len(captions)})
        clips.append(PreparedClip(cid, features, joints.astype(np.float32), captions))
    for i, cap in enumerate(trial.captions):
        if i not in used:
            info["caption_drops"][f"{reasons.get(i, 'clip_dropped')}:{cap.source}"] += 1
    info["captions_used"] = dict(Counter(trial.captions[i].source for i in used))
    return clips, info


def auto_clip_captions(joints: np.ndarray, fps: float) -> list[ClipCaption]:
    """The labeller's captions of one clip (train split only: val/test keep human text, so the
    evaluation protocol's test set is the same with and without them)."""
    return [ClipCaption(c.text, "auto", "auto_clip" if c.start == c.end == 0.0 else "auto_window", c.start, c.end, -1)
            for c in label_clip(joints, fps)]


def _lines(captions: list[ClipCaption], mirrored: bool) -> list[str]:
    out = []
    for c in captions:
        text = swap_left_right(c.text) if mirrored else c.text
        out.append(caption_line(text, c.start, c.end))
    return out


def prepare_trial(source: Source, trial_id: str, out: Path, cfg: PrepareConfig, fingerprint: str,
                  force: bool = False) -> dict:
    """Process and write one trial unless a complete marker of the same settings exists."""
    old = writer.read_marker(out, trial_id)
    if (old is not None and not force and old.get("fingerprint") == fingerprint
            and writer.marker_complete(out, old)):
        old["skipped"] = True
        return old
    try:
        trial = source.load(trial_id)
    except DataError as e:  # one bad trial does not stop the run: it is skipped and reported
        return unusable_trial(trial_id, f"bad source data ({e})")
    clips, info = process_trial(trial, source.joint_map, cfg)
    new_ids = {c.id for c in clips}
    for stale in (old or {}).get("clips", []):  # clips of an earlier run that this run does not make
        if stale["id"] not in new_ids:
            writer.remove_clip(out, stale["id"])
            writer.remove_clip(out, mirror_id(stale["id"]))
    for clip in clips:
        writer.write_clip(out, clip.id, clip.features, clip.joints, _lines(clip.captions, False))
        if cfg.mirror:
            mfeat = mirror_features(clip.features, "humanml3d").astype(np.float32)
            mjoints = features_to_joints(mfeat, "humanml3d").astype(np.float32)
            writer.write_clip(out, mirror_id(clip.id), mfeat, mjoints, _lines(clip.captions, True))
    info.update(fingerprint=fingerprint, mirrored=cfg.mirror, version=VERSION)
    info["pairs"] = dict(info["pairs"])
    info["caption_drops"] = dict(info["caption_drops"])
    writer.write_marker(out, trial_id, info)
    info["skipped"] = False
    return info


def unusable_trial(trial_id: str, reason: str) -> dict:
    """The record of a trial that could not be read (no marker: the next run tries it again)."""
    return {"trial": trial_id, "split": None, "clips": [], "dropped": [{"id": trial_id, "reason": reason}],
            "pairs": {}, "caption_drops": {}, "captions_used": {}, "skipped": False}


def _prepare_one(args) -> dict:  # top-level for worker processes
    return prepare_trial(*args)


def select_ids(source: Source, limit: int | None = None, ids: list[str] | None = None) -> list[str]:
    all_ids = source.ids()
    if ids:
        unknown = [i for i in ids if i not in set(all_ids)]
        if unknown:
            raise DataError(f"unknown trial id(s) {unknown[:5]} in the {source.name} source")
        all_ids = [i for i in all_ids if i in set(ids)]
    if limit is not None:
        if limit < 1:
            raise DataError(f"--limit must be at least 1, got {limit}")
        all_ids = all_ids[:limit]
    return all_ids


def prepare(source: Source, out: str | Path, *, limit: int | None = None, ids: list[str] | None = None,
            force: bool = False, workers: int = 1, cfg: PrepareConfig | None = None,
            progress: bool = True) -> dict:
    """Prepare `source` into `out` (HumanML3D layout); returns the summary (also in prepare_summary.json).

    Bad trials are skipped with a warning and counted; only a run with no usable clip fails. A
    run that cannot write (disk full, read-only) raises OutputError saying how to go on; a
    folder it created is removed unless some trial was finished (a re-run continues from there).
    """
    cfg = cfg or PrepareConfig()
    out = Path(out)
    trial_ids = select_ids(source, limit, ids)
    check_writable_folder(out)
    created = not out.exists()
    try:
        return _prepare(source, out, trial_ids, force, workers, cfg, progress)
    except BaseException as e:
        error = storage_error(e) if isinstance(e, OSError) else e
        resumable = isinstance(error, (OutputError, KeyboardInterrupt))
        finished = resumable and any((out / writer.MARKER_DIR).glob("*.json"))
        if created and not finished:
            shutil.rmtree(out, ignore_errors=True)
        if isinstance(error, OutputError):
            then = (f"then run the same command again: the trials finished in {out} are kept" if finished
                    else f"{out} was removed" if created else "then run the same command again")
            raise OutputError(f"{error}; {then}") from e
        raise


def _prepare(source: Source, out: Path, trial_ids: list[str], force: bool, workers: int, cfg: PrepareConfig,
             progress: bool) -> dict:
    t0 = time.time()
    writer.make_dirs(out)
    writer.save_text(out / "joint_map.json", json.dumps(source.joint_map.to_dict(), indent=1))
    fingerprint = cfg.fingerprint(source.joint_map)
    jobs = [(source, tid, out, cfg, fingerprint, force) for tid in trial_ids]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc=f"prepare {source.name}", unit="trial")
    markers = []

    def done(m: dict) -> None:
        markers.append(m)
        for d in [] if m.get("skipped") else m["dropped"]:
            log.warning("skipped %s %s: %s", "trial" if d["id"] == m["trial"] else "clip", d["id"], d["reason"])
        bar is not None and bar.update()

    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            try:
                for m in pool.map(_prepare_one, jobs, chunksize=4):
                    done(m)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # do not run the queued trials
                raise
    else:
        for job in jobs:
            done(_prepare_one(job))
    if bar is not None:
        bar.close()
    summary = finalize(out, markers, cfg)
    summary.update(source.describe())
    summary["seconds"] = round(time.time() - t0, 1)
    writer.save_text(out / "prepare_summary.json", json.dumps(summary, indent=1))
    return summary


def finalize(out: Path, markers: list[dict], cfg: PrepareConfig) -> dict:
    """Split files, Mean/Std (train split, mirrored included) and the summary counts."""
    splits: dict[str, list[str]] = {s: [] for s in SPLITS}
    captioned: dict[str, list[str]] = {s: [] for s in SPLITS}
    frames: Counter = Counter()
    kinds: Counter = Counter()
    pairs: Counter = Counter()
    used: Counter = Counter()
    caption_drops: Counter = Counter()
    drop_reasons: Counter = Counter()
    dropped = []
    unusable: Counter = Counter()  # trials that gave no clip, by the reason of their first drop
    for m in markers:
        split = m["split"]
        if not m["clips"]:
            unusable[m["dropped"][0]["reason"].split(" (")[0] if m["dropped"] else "no clip"] += 1
        for c in m["clips"]:
            splits[split].append(c["id"])
            if c["captions"]:
                captioned[split].append(c["id"])
            frames[split] += c["frames"]
            kinds[c["kind"]] += 1
        pairs.update(m["pairs"])
        used.update(m["captions_used"])
        caption_drops.update(m["caption_drops"])
        for d in m["dropped"]:
            dropped.append(d)
            drop_reasons[d["reason"].split(" (")[0]] += 1
    mirrored = cfg.mirror
    for s in SPLITS:
        ids = splits[s] + ([mirror_id(i) for i in splits[s]] if mirrored else [])
        cap_ids = captioned[s] + ([mirror_id(i) for i in captioned[s]] if mirrored else [])
        writer.write_id_list(out / f"{s}.txt", ids)
        writer.write_id_list(out / f"{s}_captioned.txt", cap_ids)
        splits[s], captioned[s] = ids, cap_ids
    all_ids = [i for s in SPLITS for i in splits[s]]
    writer.write_id_list(out / "all.txt", all_ids)
    skipped = f"skipped {sum(unusable.values())} of {len(markers)} trials: " + ", ".join(
        f"{n} {reason}" for reason, n in unusable.most_common())
    if not all_ids:
        raise DataError(f"no usable clip was prepared: {skipped} (the warnings above name each trial)")
    if unusable:
        log.warning(skipped)

    stats_ids = splits["train"]
    if not stats_ids:
        log.warning("no train clips: Mean/Std are computed over all clips")
        stats_ids = all_ids
    motions = (np.load(out / "new_joint_vecs" / f"{i}.npy") for i in stats_ids)
    mean, std = mean_std(motions, "humanml3d")
    writer.save_npy(out / "Mean.npy", mean)
    writer.save_npy(out / "Std.npy", std)

    return {
        "out": str(out),
        "trials": len(markers),
        "trials_skipped": sum(bool(m.get("skipped")) for m in markers),
        "clips": sum(len(m["clips"]) for m in markers),
        "clips_by_kind": dict(kinds),
        "clips_with_captions": sum(len(captioned[s]) for s in SPLITS) // (2 if mirrored else 1),
        "files_per_split": {s: len(splits[s]) for s in SPLITS},
        "hours": {s: round(frames[s] / cfg.fps / 3600, 3) for s in SPLITS},
        "hours_total": round(sum(frames.values()) / cfg.fps / 3600, 3),
        "mirrored": mirrored,
        "trials_without_clips": sum(unusable.values()),
        "trials_without_clips_by_reason": dict(unusable),
        "dropped_clips": len(dropped),
        "dropped_by_reason": dict(drop_reasons),
        "dropped": dropped,
        "text_motion_pairs": sum(pairs.values()),
        "pairs_by_rule": dict(sorted(pairs.items())),
        "captions_used_by_source": dict(sorted(used.items())),
        "captions_dropped_by_reason": dict(sorted(caption_drops.items())),
        "stats_from": "train" if splits["train"] else "all",
    }
