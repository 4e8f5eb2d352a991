"""Encode a dataset's motions into VQ-VAE code indices, cached on disk for GPT training.

Output folder, in the original T2M-GPT layout (`dataset/HumanML3D/<vq_name>/`):

    OUT/<id>.npy        (1, N) int64 code indices of motion <id> (N = frames // 4)
    OUT/<split>.txt     the ids encoded for each split (mirrors made here included)
    OUT/texts/M<id>.txt captions of the mirrors made here, left and right swapped
    OUT/tokenize.json   what was encoded with which VQ-VAE

As in the original, the full motion is encoded (not windows), its length cut to a multiple
of the frames per code (here the first frames are kept; the original picked a random
offset within that remainder), and motions outside [min_frames, max_frames) are skipped
(the original's 40 (KIT: 24) and 200 frames, the limits of its text-motion dataset).
HumanML3D ships each clip's left/right mirror as `M<id>`; where such a file is absent the
mirror is made from the features (`t2mgpt.motion.mirror_features`) and encoded as well.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from t2mgpt.data.humanml3d import HumanML3DDataset, is_mirror_id, mirror_id, parse_caption_line
from t2mgpt.data.spec import HUMANML3D, spec_for_dim
from t2mgpt.errors import DataError, InputError
from t2mgpt.io.checkpoint import load_vq
from t2mgpt.prepare.text import swap_left_right
from t2mgpt.utils.io import atomic_path

MANIFEST = "tokenize.json"


@dataclass
class TokenizeResult:
    out: Path
    counts: dict[str, int]  # split -> motions encoded (mirrors made here included)
    mirrors_made: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # split -> missing files / out of length range


def _encode_grouped(model, items: list[tuple[str, np.ndarray]], device, batch_size: int) -> dict[str, np.ndarray]:
    """Encode (id, (T, D) normalised) motions, batching motions of equal length (no padding)."""
    by_len: dict[int, list[tuple[str, np.ndarray]]] = defaultdict(list)
    for mid, m in items:
        by_len[len(m)].append((mid, m))
    codes = {}
    for group in by_len.values():
        for i in range(0, len(group), batch_size):
            chunk = group[i : i + batch_size]
            x = torch.from_numpy(np.stack([m for _, m in chunk])).to(device)
            idx = model.encode(x).cpu().numpy().astype(np.int64)  # (B, T / 4)
            for (mid, _), c in zip(chunk, idx):
                codes[mid] = c[None]  # (1, N), as the original saves
    return codes


def tokenize_dataset(data: str | Path, vq: str | Path, out: str | Path, splits=("train", "val", "test"),
                     mirror: bool = True, device: str = "auto", min_frames: int | None = None,
                     max_frames: int | None = 200, batch_size: int = 64, progress: bool = False) -> TokenizeResult:
    """Encode every motion of `splits` (and the mirrors HumanML3D would have) into OUT."""
    from t2mgpt.utils.device import resolve_device

    dev = resolve_device(device)
    model, mean, std, vq_path = load_vq(vq, dev)
    unit = model.config.downsample
    out = Path(out)
    manifest_path = out / MANIFEST
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder")
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text(encoding="utf-8"))
        if old.get("vq_config") != model.config_dict():
            raise InputError(f"{out} holds codes of another VQ-VAE ({old.get('vq')}); choose another --out folder")
    elif out.is_dir() and any(out.glob("*.npy")):
        raise InputError(f"{out} already holds .npy files that are not from `t2mgpt tokenize`; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"vq": str(vq_path), "vq_config": model.config_dict(), "complete": False}
    _write_json(manifest_path, manifest)  # claims the folder; "complete" once everything is written

    counts, skipped, mirrors_made, all_listed = {}, {}, 0, set()
    datasets = {}
    for split in splits:
        ds = HumanML3DDataset(data, split, texts=False, min_frames=1, progress=progress)
        datasets[split] = ds
        all_listed.update(ds.ids)
    dim = next(iter(datasets.values())).dim
    if min_frames is None:
        min_frames = spec_for_dim(dim, default=HUMANML3D).min_motion_len
    min_frames = max(min_frames, unit)
    if dim != model.config.input_dim:
        raise DataError(f"the dataset has {dim}-dim features but the VQ-VAE expects {model.config.input_dim}")
    if mean is None:
        mean, std = datasets[splits[0]].mean, datasets[splits[0]].std
    elif mean.shape != (dim,):
        raise DataError(f"the VQ-VAE was trained on {mean.shape[0]}-dim features, the dataset has {dim}")
    mean, std = mean.astype(np.float32), std.astype(np.float32)
    motion_dir = Path(data) / "new_joint_vecs"

    if mirror:
        from t2mgpt.motion import mirror_features
    for split, ds in datasets.items():
        items, ids, n_out = [], [], 0
        for mid, motion in zip(ds.ids, ds.motions):
            if not (min_frames <= len(motion) and (max_frames is None or len(motion) < max_frames)):
                n_out += 1
                continue
            variants = [(mid, motion)]
            mid_m = mirror_id(mid)
            if mirror and not is_mirror_id(mid) and mid_m not in all_listed and not (motion_dir / f"{mid_m}.npy").exists():
                variants.append((mid_m, np.asarray(mirror_features(motion), dtype=np.float32)))
                mirrors_made += 1
                _write_mirrored_captions(Path(data) / "texts" / f"{mid}.txt", out / "texts" / f"{mid_m}.txt")
            n = len(motion) // unit * unit
            for vid, m in variants:
                items.append((vid, (m[:n] - mean) / std))
                ids.append(vid)
        codes = _encode_grouped(model, items, dev, batch_size)
        for vid in ids:
            np.save(out / f"{vid}.npy", codes[vid])
        with atomic_path(out / f"{split}.txt") as tmp:
            tmp.write_text("".join(i + "\n" for i in ids), encoding="utf-8")
        counts[split] = len(ids)
        skipped[split] = len(ds.skipped) + len(ds.filtered) + n_out

    manifest.update({
        "complete": True, "nb_code": model.config.nb_code,
        "frames_per_code": unit, "data": str(Path(data).resolve()), "splits": counts,
        "skipped": skipped, "mirrors_made": mirrors_made, "min_frames": min_frames, "max_frames": max_frames,
        "format": "<id>.npy: (1, N) int64 code indices of the first N*frames_per_code frames",
    })
    _write_json(manifest_path, manifest)
    return TokenizeResult(out, counts, mirrors_made, skipped)


def _write_mirrored_captions(src: Path, dst: Path) -> None:
    if not src.is_file():
        return
    lines = [swap_left_right(line.rstrip("\n")) for line in src.read_text(encoding="utf-8").splitlines()
             if parse_caption_line(line) is not None]
    dst.parent.mkdir(exist_ok=True)
    dst.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _write_json(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
