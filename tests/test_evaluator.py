"""The published evaluator (parity with ref_evaluator_t2m), GloVe/POS vectorisation, safe pickles."""
import json
import os
import pickle

import numpy as np
import pytest
import torch

import t2mgpt
from t2mgpt.errors import CheckpointError, DataError, InputError
from t2mgpt.eval import POS_ENUMERATOR, WordVectorizer, caption_tokens, vectorize_caption, vectorize_captions
from t2mgpt.models.evaluator import Evaluator, EvaluatorConfig
from t2mgpt.utils.safe_pickle import safe_pickle_load


@pytest.fixture(scope="module")
def hparams(ref_dir):
    return json.loads((ref_dir / "ref_evaluator_t2m.json").read_text())


@pytest.fixture(scope="module")
def ev(ref_dir, hparams):
    return Evaluator.from_original(ref_dir / "ref_evaluator_t2m.tar", **hparams)


@pytest.fixture(scope="module")
def io(ref_dir):
    return dict(np.load(ref_dir / "ref_evaluator_t2m_io.npz"))


# ---------------------------------------------------------------- evaluator parity

def test_embeddings_match_original(ev, io):
    text = ev.text_embedding(io["word_embs"], io["pos_ohot"], io["cap_lens"])
    motion = ev.motion_embedding(io["motions"], io["m_lens"])
    np.testing.assert_allclose(text.numpy(), io["text_embedding"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(motion.numpy(), io["motion_embedding"], atol=1e-5, rtol=0)
    t2, m2 = ev.co_embeddings(io["word_embs"], io["pos_ohot"], io["cap_lens"], io["motions"], io["m_lens"])
    assert torch.equal(t2, text) and torch.equal(m2, motion)


def test_loaded_config_and_lazy_export(ref_dir, ev, hparams):
    assert t2mgpt.Evaluator is Evaluator
    assert ev.config == EvaluatorConfig(**hparams)
    assert not ev.training
    # sizes are read from the weights, so hparams are optional
    assert Evaluator.from_original(ref_dir / "ref_evaluator_t2m.tar").config == ev.config
    assert EvaluatorConfig() == EvaluatorConfig.for_dataset("t2m")  # released sizes
    assert EvaluatorConfig.for_dataset("kit").dim_pose == 251


def test_unsorted_batches_keep_input_order(ev, io):
    perm = np.array([2, 0, 3, 1])  # cap_lens and m_lens no longer descending
    text = ev.text_embedding(io["word_embs"][perm], io["pos_ohot"][perm], io["cap_lens"][perm])
    motion = ev.motion_embedding(io["motions"][perm], io["m_lens"][perm])
    np.testing.assert_allclose(text.numpy(), io["text_embedding"][perm], atol=1e-5, rtol=0)
    np.testing.assert_allclose(motion.numpy(), io["motion_embedding"][perm], atol=1e-5, rtol=0)


def test_text_padding_is_ignored(ev, io):
    we, po, cl = io["word_embs"].copy(), io["pos_ohot"].copy(), io["cap_lens"]
    for i, n in enumerate(cl):
        we[i, n:] = 123.0
        po[i, n:] = 0.0
    np.testing.assert_allclose(ev.text_embedding(we, po, cl).numpy(), io["text_embedding"], atol=1e-5, rtol=0)


def test_motion_length_in_frames_is_floored_to_units(ev, io):
    # 122 and 123 frames give the same 30 units as 120
    base = ev.motion_embedding(io["motions"][1:2], [120])
    for n in (121, 123):
        torch.testing.assert_close(ev.motion_embedding(io["motions"][1:2], [n]), base)
    assert not torch.allclose(ev.motion_embedding(io["motions"][1:2], [124]), base)


def test_bad_inputs_raise(ev, io):
    with pytest.raises(InputError, match="motions must have shape"):
        ev.motion_embedding(io["motions"][..., :251], io["m_lens"])
    with pytest.raises(InputError, match="1..196"):
        ev.motion_embedding(io["motions"], [197, 120, 64, 160])
    with pytest.raises(InputError, match="at least unit_length"):
        ev.motion_embedding(io["motions"], [3, 120, 64, 160])
    with pytest.raises(InputError, match="4 integer lengths"):
        ev.motion_embedding(io["motions"], [196, 120])
    with pytest.raises(InputError, match="share batch"):
        ev.text_embedding(io["word_embs"], io["pos_ohot"][:, :20], io["cap_lens"])
    bad = io["word_embs"].copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        ev.text_embedding(bad, io["pos_ohot"], io["cap_lens"])


def test_checkpoint_problems_raise(ref_dir, tmp_path, hparams):
    with pytest.raises(CheckpointError, match="disagree"):
        Evaluator.from_original(ref_dir / "ref_evaluator_t2m.tar", **{**hparams, "dim_coemb_hidden": 512})
    with pytest.raises(InputError, match="unknown evaluator hyper-parameters"):
        Evaluator.from_original(ref_dir / "ref_evaluator_t2m.tar", dim_hidden=3)
    with pytest.raises(CheckpointError, match="not an evaluator checkpoint"):
        Evaluator.from_original(ref_dir / "ref_vqvae_t2m.pth")
    with pytest.raises(CheckpointError, match="not found"):
        Evaluator.from_original(tmp_path / "missing.tar")


def test_malicious_checkpoint_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "finest.tar"
    torch.save({"movement_encoder": _Evil(f"touch {marker}")}, path)
    with pytest.raises(CheckpointError):
        Evaluator.from_original(path)
    assert not marker.exists()


# ---------------------------------------------------------------- GloVe word vectorizer

WORDS = ["unk", "sos", "eos", "a", "man", "walk", "left", "quickly", "the", "circle"]


def _write_glove(folder, dim=300, protocol=pickle.HIGHEST_PROTOCOL, numpy_idx=False):
    folder.mkdir(exist_ok=True)
    vectors = np.random.default_rng(0).normal(size=(len(WORDS), dim)).astype(np.float32)
    order = list(reversed(WORDS))  # rows in another order than the word list
    idx = {w: (np.int64(i) if numpy_idx else i) for i, w in enumerate(order)}
    np.save(folder / "our_vab_data.npy", vectors)
    with open(folder / "our_vab_words.pkl", "wb") as f:
        pickle.dump(WORDS, f, protocol=protocol)
    with open(folder / "our_vab_idx.pkl", "wb") as f:
        pickle.dump(idx, f, protocol=protocol)
    return {w: vectors[idx[w]] for w in WORDS}


@pytest.fixture
def glove(tmp_path):
    vec = _write_glove(tmp_path / "glove")
    return WordVectorizer.from_folder(tmp_path / "glove"), vec


CAPTION = ["a/DET", "man/NOUN", "walk/VERB", "left/ADV", "quickly/ADV", "in/ADP", "a/DET", "circle/NOUN"]


def test_vectorize_caption_as_original(glove):
    wv, vec = glove
    word_embs, pos_ohot, cap_len = vectorize_caption(CAPTION, wv)
    assert word_embs.shape == (22, 300) and pos_ohot.shape == (22, 15) and cap_len == 10
    words = ["sos", "a", "man", "walk", "left", "quickly", "unk", "a", "circle", "eos"] + ["unk"] * 12
    np.testing.assert_array_equal(word_embs, np.stack([vec[w] for w in words]))
    pos = ["OTHER", "DET", "NOUN", "Act_VIP", "Loc_VIP", "Desc_VIP", "OTHER", "DET", "NOUN", "OTHER"]
    pos += ["OTHER"] * 12
    np.testing.assert_array_equal(pos_ohot.argmax(1), [POS_ENUMERATOR[p] for p in pos])
    np.testing.assert_array_equal(pos_ohot.sum(1), np.ones(22))


def test_long_captions_are_cropped_to_20_words(glove):
    wv, _ = glove
    tokens = [f"w{i}/NOUN" for i in range(25)]
    padded, cap_len = caption_tokens(tokens)
    assert cap_len == 22 and padded == ["sos/OTHER"] + tokens[:20] + ["eos/OTHER"]
    padded, cap_len = caption_tokens(tokens[:20])  # exactly 20: no padding either
    assert cap_len == 22 and len(padded) == 22
    padded, cap_len = caption_tokens(tokens[:3])
    assert cap_len == 5 and padded[5:] == ["unk/OTHER"] * 17
    assert vectorize_caption(tokens, wv)[0].shape == (22, 300)


def test_unknown_pos_and_bad_tokens(glove):
    wv, vec = glove
    w, p = wv["man/X"]
    np.testing.assert_array_equal(w, vec["man"])
    assert p.argmax() == POS_ENUMERATOR["OTHER"]
    with pytest.raises(InputError, match="word/POS"):
        wv["walk"]
    with pytest.raises(InputError, match="no tokens"):
        vectorize_caption([], wv)


def test_vectorized_batch_feeds_the_evaluator(glove, ev):
    wv, _ = glove
    word_embs, pos_ohot, cap_lens = vectorize_captions([CAPTION, CAPTION[:3], ["man/NOUN"] * 30], wv)
    assert word_embs.dtype == np.float32 and word_embs.shape == (3, 22, 300)
    np.testing.assert_array_equal(cap_lens, [10, 5, 22])
    emb = ev.text_embedding(word_embs, pos_ohot, cap_lens)
    assert emb.shape == (3, 40) and torch.isfinite(emb).all()


def test_numpy_and_old_protocol_pickles_load(tmp_path):
    vec = _write_glove(tmp_path / "g", dim=6, protocol=2, numpy_idx=True)
    wv = WordVectorizer.from_folder(tmp_path / "g")
    assert len(wv) == len(WORDS) and wv.dim == 6
    np.testing.assert_array_equal(wv["walk/VERB"][0], vec["walk"])
    arr = np.arange(6.0).reshape(2, 3)
    (tmp_path / "a.pkl").write_bytes(pickle.dumps({"x": arr, "n": np.float32(2.5), "s": {1, 2}}, protocol=2))
    got = safe_pickle_load(tmp_path / "a.pkl")
    np.testing.assert_array_equal(got["x"], arr)
    assert got["n"] == np.float32(2.5) and got["s"] == {1, 2}


class _Evil:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return os.system, (self.cmd,)


def test_malicious_pickle_is_refused(tmp_path):
    _write_glove(tmp_path / "g", dim=4)
    marker = tmp_path / "pwned"
    with open(tmp_path / "g" / "our_vab_words.pkl", "wb") as f:
        pickle.dump([_Evil(f"touch {marker}")], f)
    with pytest.raises(DataError, match="refusing to load global"):
        WordVectorizer.from_folder(tmp_path / "g")
    assert not marker.exists()


def test_missing_or_inconsistent_glove_files(tmp_path):
    with pytest.raises(DataError, match="our_vab_data.npy"):
        WordVectorizer.from_folder(tmp_path)
    _write_glove(tmp_path / "g", dim=4)
    with open(tmp_path / "g" / "our_vab_idx.pkl", "wb") as f:
        pickle.dump({"unk": 0}, f)
    with pytest.raises(DataError, match="do not agree"):
        WordVectorizer.from_folder(tmp_path / "g")
