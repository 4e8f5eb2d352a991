"""GPT training pairs: the original `dataset_TM_train.py` rules, deterministic resumable order."""
from __future__ import annotations

import json

import numpy as np
import pytest

from t2mgpt.data.gpt_dataset import DROP_PROB, CodeCaptionPairs, PairLoader
from t2mgpt.errors import DataError

NB = 32  # codebook size: END = 32, PAD = 33


def write_codes(root, motions: dict[str, tuple[np.ndarray, list[str]]], mirror_texts: dict[str, list[str]] = {},
                split: str = "train", dim: int = 263):
    """A dataset folder (texts, Mean.npy) and a `t2mgpt tokenize`-style codes folder."""
    data, codes = root / "data", root / "codes"
    (data / "texts").mkdir(parents=True, exist_ok=True)
    (codes / "texts").mkdir(parents=True, exist_ok=True)
    np.save(data / "Mean.npy", np.zeros(dim, np.float32))
    np.save(data / "Std.npy", np.ones(dim, np.float32))
    for mid, (seq, lines) in motions.items():
        np.save(codes / f"{mid}.npy", np.asarray(seq, np.int64).reshape(1, -1))
        if lines is not None:
            (data / "texts" / f"{mid}.txt").write_text("".join(line + "\n" for line in lines))
    for mid, lines in mirror_texts.items():  # captions of mirrors made by the tokenizer
        (codes / "texts" / f"{mid}.txt").write_text("".join(line + "\n" for line in lines))
    (codes / f"{split}.txt").write_text("".join(m + "\n" for m in motions))
    (codes / "tokenize.json").write_text(json.dumps({"complete": True, "nb_code": NB, "frames_per_code": 4}))
    return data, codes


def cap(text: str, start: float = 0.0, end: float = 0.0) -> str:
    return f"{text}#a/DET person/NOUN#{start}#{end}"


def entry(pairs, e):
    """([code sequences], [captions]) of entry e."""
    s = pairs.seq_ids[pairs.seq_ptr[e]:pairs.seq_ptr[e + 1]]
    c = pairs.cap_ids[pairs.cap_ptr[e]:pairs.cap_ptr[e + 1]]
    return ([pairs.codes[pairs.seq_start[i]:pairs.seq_start[i] + pairs.seq_len[i]].tolist() for i in s],
            [pairs.captions[i] for i in c])


def test_entries_spans_and_end_pad_layout(tmp_path):
    seq = np.arange(40) % NB
    data, codes = write_codes(tmp_path, {
        "000001": (seq, [cap("a person walks."), cap("someone walks."), cap("a person stops.", 1.0, 2.0),
                         cap("a person turns.", 4.5, 9.0), cap("past the end.", 9.0, 12.0), "no#tokens#x#y", ""]),
        "000002": (np.arange(3), []),  # no caption: skipped
        "000003": (np.arange(4), [cap("only a span.", 0.2, 0.6)]),  # no whole caption: span entry only
    })
    pairs = CodeCaptionPairs(codes, data, "train", max_codes=50)
    st = pairs.stats
    assert (st.whole, st.spans, st.motions, st.no_captions, st.empty_spans) == (1, 3, 2, ["000002"], 1)
    assert len(pairs) == 4 and pairs.captions[:2] == ["a person walks.", "someone walks."]
    # whole-motion captions share one entry; a span caption is its own entry: codes start*fps/4 .. end*fps/4
    assert entry(pairs, 0) == ([seq.tolist()], ["a person walks.", "someone walks."])
    assert entry(pairs, 1) == ([seq[5:10].tolist()], ["a person stops."])  # 1..2 s at 20 fps
    assert entry(pairs, 2) == ([seq[22:40].tolist()], ["a person turns."])  # int(22.5).. cut at the end
    assert entry(pairs, 3) == ([[1, 2]], ["only a span."])  # int(0.2*5) = 1 .. int(0.6*5) = 3

    target, lengths = pairs.targets(np.array([0, 1]), block_size=51)
    assert target.shape == (2, 51) and lengths.tolist() == [40, 5]
    assert target[0, :40].tolist() == seq.tolist() and target[0, 40] == NB and (target[0, 41:] == NB + 1).all()
    assert target[1, :5].tolist() == seq[5:10].tolist() and target[1, 5] == NB and (target[1, 6:] == NB + 1).all()
    # 50 codes + END exactly fill block_size 51; longer sequences are skipped
    data, codes = write_codes(tmp_path / "long", {"000001": (np.arange(50) % NB, [cap("fits.")]),
                                                  "000002": (np.arange(51) % NB, [cap("too long.")])})
    pairs = CodeCaptionPairs(codes, data, "train", max_codes=50)
    assert len(pairs) == 1 and pairs.stats.too_long == 1
    target, lengths = pairs.targets(np.array([0]), block_size=51)
    assert lengths[0] == 50 and target[0, 50] == NB and (target[0, :50] < NB).all()


def test_kit_frame_rate_and_codes_of_another_vq(tmp_path):
    seq = np.arange(20)
    data, codes = write_codes(tmp_path, {"000001": (seq, [cap("a span.", 1.6, 3.2)])}, dim=251)
    pairs = CodeCaptionPairs(codes, data, "train")  # KIT-ML: 12.5 fps
    assert pairs.fps == 12.5 and entry(pairs, 0)[0] == [seq[5:10].tolist()]
    with pytest.raises(DataError, match="VQ-VAE has 16 codes"):
        CodeCaptionPairs(codes, data, "train", nb_code=16)
    (codes / "000001.npy").unlink()
    with pytest.raises(DataError, match="no usable"):
        CodeCaptionPairs(codes, data, "train")


def test_mirrored_codes_go_with_mirrored_captions(tmp_path):
    a, b = np.arange(10), np.arange(10, 20)
    data, codes = write_codes(
        tmp_path, {"000001": (a, [cap("a person waves the left hand.")]),
                   "M000001": (b, None)},  # mirror made by the tokenizer: captions in CODES/texts
        mirror_texts={"M000001": [cap("a person waves the right hand.")]})
    pairs = CodeCaptionPairs(codes, data, "train")
    loader = PairLoader(pairs, batch_size=2, block_size=51, seed=0)
    for _ in range(20):
        batch = next(loader)
        for t, n, c in zip(batch.target, batch.lengths, batch.caption):
            codes_ = set(t[:n].tolist())
            side = "right" if codes_ <= set(b.tolist()) else "left"
            assert codes_ <= set((b if side == "right" else a).tolist())
            assert side in pairs.captions[c]


def test_head_tail_drop_frequency(tmp_path):
    seq = np.arange(12) + 3
    data, codes = write_codes(tmp_path, {f"{i:06d}": (seq, [cap(f"caption {i}.")]) for i in range(50)})
    pairs = CodeCaptionPairs(codes, data, "train")
    loader = PairLoader(pairs, batch_size=50, block_size=51, seed=1)
    kinds = {"none": 0, "tail": 0, "head": 0}
    for _ in range(60):
        batch = next(loader)
        for t, n in zip(batch.target, batch.lengths):
            got = t[:n].tolist()
            kind = "none" if got == seq.tolist() else "tail" if got == seq[:-1].tolist() else "head"
            assert kind != "head" or got == seq[1:].tolist()
            assert t[n] == NB and (t[n + 1:] == NB + 1).all()
            kinds[kind] += 1
    total = sum(kinds.values())  # 3000 draws: 1/3 dropped, half of them at the tail
    dropped = kinds["tail"] + kinds["head"]
    assert abs(dropped / total - DROP_PROB) < 0.03
    assert abs(kinds["tail"] / dropped - 0.5) < 0.05


def test_order_is_a_function_of_seed_epoch_rank(tmp_path):
    data, codes = write_codes(tmp_path, {f"{i:06d}": (np.arange(5 + i % 7), [cap(f"c{i}."), cap(f"d{i}.")])
                                         for i in range(24)})
    pairs = CodeCaptionPairs(codes, data, "train")

    def stream(loader, n):
        return [next(loader) for _ in range(n)]

    one = stream(PairLoader(pairs, 8, 51, seed=5), 9)  # 3 epochs of 3 batches
    assert not all(np.array_equal(x.target, y.target) for x, y in zip(one[:3], one[3:6]))  # epochs differ
    ranks = [stream(PairLoader(pairs, 8, 51, seed=5, rank=r, world_size=2), 9) for r in range(2)]
    for k, b in enumerate(one):  # the ranks' halves make up the single-process batch
        assert np.array_equal(np.concatenate([ranks[0][k].target, ranks[1][k].target]), b.target)
        assert np.array_equal(np.concatenate([ranks[0][k].caption, ranks[1][k].caption]), b.caption)
    resumed = PairLoader(pairs, 8, 51, seed=5)
    resumed.load_state_dict({"epoch": 1, "index": 1})
    for x, y in zip(stream(resumed, 5), one[4:]):
        assert np.array_equal(x.target, y.target) and np.array_equal(x.caption, y.caption)
    assert not np.array_equal(next(PairLoader(pairs, 8, 51, seed=6)).target, one[0].target)
    with pytest.raises(DataError, match="fewer than one batch"):
        PairLoader(pairs, 32, 51, seed=0)


def test_span_share_sets_how_often_span_captions_are_drawn(tmp_path):
    # 6 motions with a whole caption and 4 span captions each: 6 whole entries, 24 span entries
    data, codes = write_codes(tmp_path, {f"{i:06d}": (np.arange(40) % NB, [cap(f"w{i}.")] + [
        cap(f"s{i}{k}.", 2.0 * k, 2.0 * k + 1.0) for k in range(4)]) for i in range(6)})
    pairs = CodeCaptionPairs(codes, data, "train")
    assert pairs.is_span.tolist().count(False) == 6 and pairs.is_span.sum() == 24

    def span_rate(loader, n=400):
        caps = np.concatenate([next(loader).caption for _ in range(n)])
        return np.mean([pairs.captions[c].startswith("s") for c in caps])

    assert abs(span_rate(PairLoader(pairs, 12, 51, seed=1)) - 24 / 30) < 0.05  # every entry once per epoch
    assert abs(span_rate(PairLoader(pairs, 12, 51, seed=1, span_share=0.25)) - 0.25) < 0.03
    assert span_rate(PairLoader(pairs, 12, 51, seed=1, span_share=0.0), 50) == 0.0
    # still a pure function of (seed, epoch, index): a resumed loader continues the same stream
    a, b = PairLoader(pairs, 12, 51, seed=1, span_share=0.5), PairLoader(pairs, 12, 51, seed=1, span_share=0.5)
    first = [next(a) for _ in range(7)]
    b.load_state_dict({"epoch": 1, "index": 1})  # 2 batches per epoch
    assert all(np.array_equal(next(b).target, x.target) for x in first[3:])
    for bad in (1.5, -0.5):
        with pytest.raises(DataError, match="span_share"):
            PairLoader(pairs, 12, 51, seed=1, span_share=bad)
    whole_only = CodeCaptionPairs(*reversed(write_codes(tmp_path / "w", {f"{i:06d}": (np.arange(9), [cap("w.")])
                                                                          for i in range(12)})), "train")
    with pytest.raises(DataError, match="span_share"):
        PairLoader(whole_only, 12, 51, seed=1, span_share=0.5)
