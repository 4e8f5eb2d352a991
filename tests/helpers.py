"""Small synthetic datasets in the HumanML3D layout, for tests of training and evaluation.

`make_tiny_dataset(root)` writes new_joint_vecs/, texts/, Mean.npy, Std.npy and
train/val/test.txt. With dim=263 the motions are real HumanML3D features
(`joints_to_features`) of perturbed copies of the bundled sample clip: cropped,
time-warped, turned and with smooth joint noise. Other dims get smooth random walks.
"""
from __future__ import annotations

import contextlib
import importlib.util
import re
from pathlib import Path

import numpy as np

SAMPLE_CLIP = Path(__file__).resolve().parents[1] / "src" / "t2mgpt" / "assets" / "sample_motion.npy"
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(name: str):
    """The module of benchmarks/<name>.py (benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

_ACTIONS = [
    ("walks forward", "walk/VERB forward/ADV"),
    ("jumps up", "jump/VERB up/ADV"),
    ("turns around slowly", "turn/VERB around/ADV slowly/ADV"),
    ("waves with the right hand", "wave/VERB with/ADP the/DET right/ADJ hand/NOUN"),
    ("kicks with the left leg", "kick/VERB with/ADP the/DET left/ADJ leg/NOUN"),
    ("runs in a circle", "run/VERB in/ADP a/DET circle/NOUN"),
]
_SUBJECTS = [("a person", "a/DET person/NOUN"), ("someone", "someone/PRON"), ("the man", "the/DET man/NOUN")]


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_frames: float) -> np.ndarray:
    """Gaussian-smoothed white noise along axis 0, unit-ish amplitude."""
    noise = rng.standard_normal(shape)
    k = np.arange(-3 * int(sigma_frames) - 1, 3 * int(sigma_frames) + 2)
    kernel = np.exp(-0.5 * (k / sigma_frames) ** 2)
    kernel /= np.sqrt((kernel**2).sum())
    flat = noise.reshape(shape[0], -1)
    out = np.stack([np.convolve(flat[:, i], kernel, mode="same") for i in range(flat.shape[1])], axis=1)
    return out.reshape(shape)


def _perturbed_clip(rng: np.random.Generator, clip: np.ndarray, frames: int) -> np.ndarray:
    """A (frames, 22, 3) joint sequence: a crop of `clip`, time-warped, turned, with smooth noise."""
    speed = rng.uniform(0.8, 1.25)
    span = min(len(clip) - 1, (frames - 1) * speed)
    start = rng.uniform(0, len(clip) - 1 - span)
    t = start + np.linspace(0.0, span, frames)
    i0 = np.floor(t).astype(int).clip(0, len(clip) - 2)
    w = (t - i0)[:, None, None]
    joints = (1 - w) * clip[i0] + w * clip[i0 + 1]
    angle = rng.uniform(-np.pi, np.pi)
    c, s = np.cos(angle), np.sin(angle)
    rot_y = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    joints = joints @ rot_y.T
    return joints + 0.01 * _smooth_noise(rng, joints.shape, sigma_frames=4.0)


def _motion_features(rng: np.random.Generator, dim: int, frames: int, clip: np.ndarray | None) -> np.ndarray:
    if clip is not None:
        from t2mgpt.motion.features import joints_to_features

        return joints_to_features(_perturbed_clip(rng, clip, frames + 1))  # loses one frame
    walk = np.cumsum(0.1 * _smooth_noise(rng, (frames, dim), sigma_frames=3.0), axis=0)
    return (walk + rng.normal(0, 1, dim)).astype(np.float32)


def _captions(rng: np.random.Generator, seconds: float) -> list[str]:
    lines = []
    for _ in range(int(rng.integers(1, 4))):
        (subj, subj_tok), (act, act_tok) = _SUBJECTS[rng.integers(len(_SUBJECTS))], _ACTIONS[rng.integers(len(_ACTIONS))]
        start = end = 0.0
        if rng.random() < 0.25 and seconds > 2.0:  # a caption of a segment only
            start = round(float(rng.uniform(0, seconds / 2)), 1)
            end = round(float(rng.uniform(start + 1.0, seconds)), 1)
        lines.append(f"{subj} {act}.#{subj_tok} {act_tok}#{start}#{end}")
    return lines


def make_tiny_dataset(root: str | Path, n_motions: int = 24, dim: int = 263, seed: int = 0,
                      min_frames: int = 40, max_frames: int = 120, mirrored: bool = False,
                      split_fractions: tuple[float, float] = (0.6, 0.2)) -> Path:
    """Write a HumanML3D-layout dataset of `n_motions` clips to `root`; returns `root`.

    Ids are '000000', '000001', ...; the first 60% go to train, the next 20% to val, the rest
    to test. `mirrored=True` also writes each clip's left/right mirror as `M<id>` (listed in
    the same split), as HumanML3D does. Mean/Std are the statistics of all written motions.
    """
    root = Path(root)
    (root / "new_joint_vecs").mkdir(parents=True, exist_ok=True)
    (root / "texts").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    clip = np.load(SAMPLE_CLIP).astype(np.float64) if dim == 263 else None

    ids, motions = [], []
    for i in range(n_motions):
        mid = f"{i:06d}"
        frames = int(rng.integers(min_frames, max_frames + 1))
        feats = _motion_features(rng, dim, frames, clip)
        caps = _captions(rng, frames / 20.0)
        items = [(mid, feats, caps)]
        if mirrored:
            from t2mgpt.motion import mirror_features

            swap = {"left": "right", "right": "left"}
            mcaps = [re.sub(r"\b(left|right)\b", lambda m: swap[m.group(1)], c) for c in caps]
            items.append(("M" + mid, np.asarray(mirror_features(feats), dtype=np.float32), mcaps))
        for name, f, c in items:
            np.save(root / "new_joint_vecs" / f"{name}.npy", f.astype(np.float32))
            (root / "texts" / f"{name}.txt").write_text("\n".join(c) + "\n", encoding="utf-8")
            motions.append(f)
        ids.append([name for name, _, _ in items])

    all_frames = np.concatenate(motions).astype(np.float64)
    np.save(root / "Mean.npy", all_frames.mean(0).astype(np.float32))
    np.save(root / "Std.npy", np.maximum(all_frames.std(0), 0.01).astype(np.float32))

    n_train = max(1, int(round(split_fractions[0] * n_motions)))
    n_val = max(1, int(round(split_fractions[1] * n_motions)))
    bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, n_motions)}
    for split, (a, b) in bounds.items():
        names = [name for group in ids[a:b] for name in group]
        (root / f"{split}.txt").write_text("".join(n + "\n" for n in names), encoding="utf-8")
    return root


@contextlib.contextmanager
def live_server(app):
    """Serve an ASGI app with a real uvicorn on 127.0.0.1 (a free port); yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        srv.should_exit = True
        thread.join(10)
        sock.close()


def fill_disk(folder: Path) -> None:
    """Fill the file system of `folder` to the last byte (a file `filler` in it)."""
    import errno

    with open(Path(folder) / "filler", "wb", buffering=0) as f:
        try:
            while f.write(b"\0" * 4096):
                pass
        except OSError as e:
            assert e.errno == errno.ENOSPC
