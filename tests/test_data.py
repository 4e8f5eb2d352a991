"""Dataset folder reader (HumanML3D layout) and VQ training windows."""
from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from helpers import make_tiny_dataset
from t2mgpt.data.humanml3d import HumanML3DDataset, mirror_id, parse_caption_line
from t2mgpt.data.vq_dataset import MotionWindows, WindowLoader
from t2mgpt.errors import DataError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny", n_motions=12, seed=1)


@pytest.fixture
def copy(tiny, tmp_path):
    dst = tmp_path / "ds"
    shutil.copytree(tiny, dst)
    return dst


def test_reads_motions_captions_and_stats(tiny):
    ds = HumanML3DDataset(tiny, "train")
    ids = (tiny / "train.txt").read_text().split()
    assert ds.ids == ids and len(ds) == len(ids) and ds.dim == 263 and ds.fps == 20.0
    for mid, m in zip(ds.ids, ds.motions):
        assert m.dtype == np.float32 and m.shape[1] == 263
        np.testing.assert_array_equal(m, np.load(tiny / "new_joint_vecs" / f"{mid}.npy"))  # unnormalised
    assert all(len(c) >= 1 for c in ds.captions)
    sample = ds[0]
    assert sample.id == ids[0] and sample.captions[0].tokens[0].count("/") == 1
    np.testing.assert_allclose(ds.denormalize(ds.normalize(sample.motion)), sample.motion, atol=1e-5)


def test_caption_line_parsing():
    c = parse_caption_line("a man walks.#a/DET man/NOUN walk/VERB#0.0#0.0\n")
    assert c.text == "a man walks." and c.tokens == ("a/DET", "man/NOUN", "walk/VERB") and c.whole
    seg = parse_caption_line("he jumps#he/PRON jump/VERB#1.5#3.0")
    assert (seg.start, seg.end, seg.whole) == (1.5, 3.0, False)
    assert parse_caption_line("x#x/X#nan#nan").whole  # NaN times mean the whole motion, as in the original
    assert parse_caption_line("") is None and parse_caption_line("no tags") is None
    assert mirror_id("012314") == "M012314" and mirror_id("M012314") == "012314"


def test_missing_files_are_skipped_and_counted(copy, caplog):
    ids = (copy / "train.txt").read_text().split()
    (copy / "new_joint_vecs" / f"{ids[0]}.npy").unlink()
    (copy / "texts" / f"{ids[1]}.txt").unlink()
    with caplog.at_level(logging.WARNING):
        ds = HumanML3DDataset(copy, "train")
    assert ds.skipped == ids[:2] and ds.ids == ids[2:]
    assert "2 of" in caplog.text
    assert len(HumanML3DDataset(copy, "train", texts=False)) == len(ids) - 1  # texts not needed


def test_all_missing_is_an_error(copy):
    shutil.rmtree(copy / "new_joint_vecs")
    (copy / "new_joint_vecs").mkdir()
    with pytest.raises(DataError, match="no usable motion"):
        HumanML3DDataset(copy, "val")


@pytest.mark.parametrize("breakage, match", [
    (lambda d: shutil.rmtree(d), "not found"),
    (lambda d: shutil.rmtree(d / "new_joint_vecs"), "new_joint_vecs"),
    (lambda d: (d / "train.txt").unlink(), "train.txt not found"),
    (lambda d: (d / "train.txt").write_text("\n\n"), "empty"),
    (lambda d: (d / "Mean.npy").unlink(), "Mean.npy"),
    (lambda d: np.save(d / "Std.npy", np.ones(251, np.float32)), "differ in shape"),
    (lambda d: np.save(d / "Std.npy", np.zeros(263, np.float32)), "zero"),
    (lambda d: np.save(d / "new_joint_vecs" / "000000.npy", np.zeros((50, 251), np.float32)), "251"),
    (lambda d: np.save(d / "new_joint_vecs" / "000000.npy",
                       np.full((50, 263), np.nan, np.float32)), "NaN"),
    (lambda d: (d / "new_joint_vecs" / "000000.npy").write_bytes(b"garbage"), "not a readable"),
])
def test_bad_folders_raise_clear_errors(copy, breakage, match):
    breakage(copy)
    with pytest.raises(DataError, match=match):
        HumanML3DDataset(copy, "train")


def test_windows_are_normalised_slices(tiny):
    ds = HumanML3DDataset(tiny, "train", texts=False)
    w = MotionWindows.from_dataset(ds, window_size=48)
    long_enough = [m for m in ds.motions if len(m) >= 48]
    assert len(w) == len(long_enough) and w.num_skipped == len(ds) - len(long_enough)
    got = w.gather(np.array([1]), np.array([3]))[0]
    np.testing.assert_allclose(got, ds.normalize(long_enough[1][3:51]), rtol=1e-6, atol=1e-6)
    idx, off = w.fixed_windows()
    assert len(idx) == sum(len(m) // 48 for m in long_enough) and (off + 48 <= w.lengths[idx]).all()


def test_loader_epochs_visit_each_motion_once_and_resume(tiny):
    w = MotionWindows.from_dataset(HumanML3DDataset(tiny, "train", texts=False), window_size=32)
    loader = WindowLoader(w, batch_size=2, seed=7)
    perm, offsets = loader.epoch_plan(0)
    assert sorted(perm) == list(range(len(w))) and (offsets + 32 <= w.lengths).all()
    assert not np.array_equal(perm, loader.epoch_plan(1)[0])  # reshuffled every epoch
    spe = loader.steps_per_epoch
    assert spe == len(w) // 2 >= 3  # the last incomplete batch is dropped
    stream = [next(loader) for _ in range(spe + 2)]
    assert loader.state_dict() == {"epoch": 1, "index": 2}
    # a fresh loader restored from a saved position continues with the same batches
    other = WindowLoader(w, batch_size=2, seed=7)
    other.load_state_dict({"epoch": 0, "index": 2})
    for expected in stream[2:]:
        np.testing.assert_array_equal(next(other), expected)
    # prefetching in a thread yields the same stream, also across a jump of position
    fetcher = WindowLoader(w, batch_size=2, seed=7, prefetch=True)
    for expected in stream[:3]:
        np.testing.assert_array_equal(next(fetcher), expected)
    fetcher.load_state_dict({"epoch": 0, "index": 1})
    for expected in stream[1:]:
        np.testing.assert_array_equal(next(fetcher), expected)
    assert fetcher.state_dict() == loader.state_dict()
    fetcher.close()


def test_ranks_split_the_global_batch(tiny):
    w = MotionWindows.from_dataset(HumanML3DDataset(tiny, "train", texts=False), window_size=32)
    single = WindowLoader(w, batch_size=4, seed=3)
    ranks = [WindowLoader(w, batch_size=4, seed=3, rank=r, world_size=2) for r in range(2)]
    for _ in range(3):
        np.testing.assert_array_equal(np.concatenate([next(r) for r in ranks]), next(single))
    with pytest.raises(DataError, match="divisible"):
        WindowLoader(w, batch_size=3, seed=3, rank=0, world_size=2)
    with pytest.raises(DataError, match="fewer than one batch"):
        WindowLoader(w, batch_size=len(w) + 1, seed=3)
    with pytest.raises(DataError, match="no motion has at least"):
        MotionWindows.from_dataset(HumanML3DDataset(tiny, "train", texts=False), window_size=10_000)


def test_mirrored_dataset_layout(tmp_path):
    root = make_tiny_dataset(tmp_path / "m", n_motions=4, mirrored=True, seed=2)
    ids = (root / "train.txt").read_text().split()
    assert ids == ["000000", "M000000", "000001", "M000001"]
    a, b = (np.load(root / "new_joint_vecs" / f"{i}.npy") for i in ids[:2])
    assert a.shape == b.shape and not np.allclose(a, b)
