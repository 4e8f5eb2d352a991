"""The evaluation split (dataset_TM_eval rules), the protocol end to end, validation hook, CLI errors."""
import json
import logging
import pickle
import shutil

import numpy as np
import pytest
import torch

from helpers import make_tiny_dataset
from tiny_model import make_tiny_model_dir
from t2mgpt.cli import main
from t2mgpt.errors import DataError, InputError
from t2mgpt.eval import EvalDataset, EvaluatorTrainConfig, evaluate_generation, evaluate_reconstruction, \
    load_evaluator, make_validation_fn, train_evaluator
from t2mgpt.eval.evaluators import GuoEvaluator
from t2mgpt.eval.generation import decode_codes, generate_motions, reconstruct_motions
from t2mgpt.eval.protocol import evaluate_baseline
from t2mgpt.generator.decoding import Sampling
from t2mgpt.pipeline import T2MGPT

SMALL = dict(dim_embed=16, dim_word=16, dim_text_hidden=16, dim_movement_enc_hidden=16, dim_movement_latent=16,
             dim_motion_hidden=16)
BS = 8  # R-precision batch for the tiny splits (the paper: 32)



@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    make_tiny_dataset(root / "data", n_motions=60, split_fractions=(0.4, 0.2))
    train_evaluator(root / "data", root / "ev", EvaluatorTrainConfig(epochs=2, batch_size=16, eval_batch_size=BS,
                                                                     val_draws=1, test_draws=2),
                    SMALL, progress=False, log_fn=lambda s: None)
    make_tiny_model_dir(root / "model")
    return root


@pytest.fixture(scope="module")
def pipe(work):
    return T2MGPT.from_pretrained(work / "model", device="cpu")


@pytest.fixture(scope="module")
def ev(work):
    return load_evaluator(work / "ev")


@pytest.fixture(scope="module")
def test_set(work):
    return EvalDataset(work / "data", "test")


# ----------------------------------------------------------------------------- eval dataset

def _write(root, items, dim=263):
    """items: (id, frames, [caption lines]) -> a HumanML3D-layout folder with every id in test."""
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    rng = np.random.default_rng(0)
    for mid, frames, lines in items:
        np.save(root / "new_joint_vecs" / f"{mid}.npy", rng.normal(size=(frames, dim)).astype(np.float32))
        (root / "texts" / f"{mid}.txt").write_text("\n".join(lines) + "\n")
    np.save(root / "Mean.npy", np.zeros(dim, np.float32))
    np.save(root / "Std.npy", np.ones(dim, np.float32))
    for split in ("train", "val", "test"):
        (root / f"{split}.txt").write_text("".join(m + "\n" for m, _, _ in items))
    return root


WALK = "a man walks.#a/DET man/NOUN walk/VERB#0.0#0.0"
LONG = "long.#" + " ".join(["walk/VERB"] * 25) + "#0.0#0.0"


def test_entries_follow_the_original_rules(tmp_path):
    root = _write(tmp_path / "d", [
        ("short", 39, [WALK]),  # < 40 frames: dropped
        ("ok40", 40, [WALK]),
        ("ok199", 199, [WALK, LONG]),  # < 200: kept with both captions
        ("long200", 200, [WALK]),  # >= 200: dropped
        ("spans", 120, [WALK, "jumps.#jump/VERB#1.0#4.0", "tiny.#jump/VERB#0.0#1.5"]),
        ("onlyspan", 150, ["waves.#wave/VERB#0.5#3.0"]),  # no whole caption: only the span
    ])
    ds = EvalDataset(root, "test")
    got = {e.name: (len(e.motion), len(e.captions)) for e in ds.entries}
    # spans: int(start * 20):int(end * 20); the 1.5 s span (30 frames) is too short
    assert got == {"ok40": (40, 1), "ok199": (199, 2), "spans#1": (60, 1), "spans": (120, 1), "onlyspan#0": (50, 1)}
    span = next(e for e in ds.entries if e.name == "spans#1")
    whole = next(e for e in ds.entries if e.name == "spans")
    np.testing.assert_array_equal(span.motion, whole.motion[20:80])


def test_batches_cut_pad_sort_and_crop_as_original(tmp_path):
    items = [(f"m{i}", f, [WALK, LONG] if i % 3 == 0 else [WALK]) for i, f in enumerate(range(40, 199, 7))]
    ds = EvalDataset(_write(tmp_path / "d", items), "test")
    by_name = {e.name: e for e in ds.entries}
    batches = list(ds.batches(seed=3, batch_size=5))
    assert len(batches) == len(ds) // 5  # drop_last
    for b in batches:
        assert b.motions.shape == (5, 196, 263) and b.motions.dtype == np.float32
        assert np.all(np.diff(b.cap_lens) <= 0), "sorted by caption length, longest first"
        for k in range(5):
            entry, m_len = by_name[b.names[k]], int(b.m_lens[k])
            units = len(entry.motion) // 4
            assert m_len % 4 == 0 and m_len in (units * 4, (units - 1) * 4)
            assert b.cap_lens[k] == min(len(b.captions[k].tokens), 20) + 2 <= 22
            assert not b.motions[k, m_len:].any(), "zero padding to 196 frames"
            window = b.motions[k, :m_len]
            starts = [s for s in range(len(entry.motion) - m_len + 1) if np.array_equal(entry.motion[s:s + m_len], window)]
            assert starts, "a contiguous window of the entry"
    assert any(b.cap_lens.max() == 22 for b in batches), "the 25-token caption is cut to 20 + sos/eos"


def test_coin_toss_and_reproducibility(test_set):
    rng = np.random.default_rng(0)
    entry = test_set.entries[0]
    full = len(entry.motion) // 4 * 4
    short = np.mean([test_set.draw(0, rng)[2] != full for _ in range(3000)])
    assert 0.30 < short < 0.37  # 'double' is one of ['single', 'single', 'double']

    def names(seed):
        return [(b.names, b.m_lens.tolist(), b.texts) for b in test_set.batches(seed, BS)]

    assert names(1) == names(1)
    assert names(1) != names(2)


def test_dataset_errors(tmp_path, test_set):
    with pytest.raises(DataError, match="not found"):
        EvalDataset(tmp_path / "nope", "test")
    root = _write(tmp_path / "d", [("short", 39, [WALK])])
    with pytest.raises(DataError, match="no motion usable"):
        EvalDataset(root, "test")
    (root / "test.txt").write_text("")
    with pytest.raises(DataError, match="empty"):
        EvalDataset(root, "test")
    with pytest.raises(DataError, match="fewer than one batch"):
        test_set.check_batch_size(len(test_set) + 1)


# ----------------------------------------------------------------------------- generation pieces

def test_batched_generation_equals_one_by_one(pipe):
    texts = ["a person walks forward", "someone jumps", "a man waves", "a person walks forward"]
    seeds = [11, 12, 13, 14]
    motions, lens = generate_motions(pipe, texts, seeds)
    assert motions.shape == (4, 196, 263) and torch.all(lens % 4 == 0) and torch.all(lens <= 196)
    for i in range(4):
        m1, l1 = generate_motions(pipe, texts[i:i + 1], seeds[i:i + 1])
        assert l1[0] == lens[i]
        assert torch.equal(m1[0], motions[i])  # each sequence is decoded alone: batch-invariant
        assert not motions[i, lens[i]:].any()
    # decoded motions are the VQ-VAE output, denormalised with the model's statistics
    codes = [torch.tensor([1, 2, 3]), torch.arange(60) % 30]
    out, lens = decode_codes(pipe.vqvae, codes, pipe.normalizer, 196)
    assert lens.tolist() == [12, 196]  # 60 codes = 240 frames, cut to 196 as the original
    ref = pipe.normalizer.denormalize(pipe.vqvae.decode(codes[0][None]))[0]
    torch.testing.assert_close(out[0, :12], ref, atol=1e-5, rtol=1e-5)


def test_grouped_reconstruction_equals_one_by_one(pipe, test_set):
    b = next(test_set.batches(0, BS))
    rec = reconstruct_motions(pipe.vqvae, pipe.normalizer, b.motions, b.m_lens)
    for k in (0, BS - 1):
        n = int(b.m_lens[k])
        x = pipe.normalizer.normalize(torch.as_tensor(b.motions[k:k + 1, :n]))
        ref = pipe.normalizer.denormalize(pipe.vqvae(x)[0])
        torch.testing.assert_close(rec[k:k + 1, :n], ref, atol=1e-4, rtol=1e-4)
        assert not rec[k, n:].any()


# ----------------------------------------------------------------------------- protocol

@pytest.fixture(scope="module")
def generation(pipe, test_set, ev):
    return evaluate_generation(pipe, test_set, ev, replications=2, mm=True, seed=0, batch_size=BS, mm_texts=4,
                               mm_samples=3, mm_times=2, progress=False)


def test_generation_protocol_reports_every_metric(generation, tmp_path):
    s = generation.summary()
    assert set(s["model"]) == {"fid", "top1", "top2", "top3", "mm_dist", "diversity", "multimodality"}
    assert set(s["ground_truth"]) == {"fid", "top1", "top2", "top3", "mm_dist", "diversity"}
    for row in s.values():
        for v in row.values():
            assert np.isfinite(v["mean"]) and v["ci95"] >= 0
    for row in (generation.model, generation.ground_truth):
        assert all(len(v) == 2 for v in row.values())
        assert row["top1"][0] <= row["top2"][0] <= row["top3"][0] <= 1
    # the random-weight model is far from the data; two draws of the real split are close
    assert s["ground_truth"]["fid"]["mean"] < s["model"]["fid"]["mean"]
    assert generation.info["batch_size"] == BS and generation.info["mm_texts"] == 4
    generation.write_json(tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["summary"]["model"]["fid"]["mean"] == pytest.approx(s["model"]["fid"]["mean"])
    assert data["per_replication"]["ground_truth"]["top1"] == generation.ground_truth["top1"]
    table = generation.table()
    assert "Real motion" in table and "Generated" in table and "MModality" in table


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # greedy random model: identical motions
def test_evaluation_samples_with_top_p_through_the_pipelines_decoding(pipe, test_set, ev):
    texts, seeds = ["a person walks forward", "someone jumps"], [3, 4]
    nucleus, _ = generate_motions(pipe, texts, seeds, sampling=Sampling(top_p=0.3))
    for m, (direct,) in zip(nucleus, (pipe([t], seed=s, top_p=0.3)[0] for t, s in zip(texts, seeds))):
        np.testing.assert_allclose(m[:direct.num_frames].numpy(), direct.features, atol=1e-5, rtol=1e-5)
    # a vanishing nucleus keeps only the most likely code: the numbers of greedy decoding
    tiny = evaluate_generation(pipe, test_set, ev, replications=1, seed=0, batch_size=BS, top_p=1e-300,
                               progress=False)
    greedy = evaluate_generation(pipe, test_set, ev, replications=1, seed=0, batch_size=BS, greedy=True,
                                 progress=False)
    assert tiny.model == greedy.model and tiny.info["top_p"] == 1e-300
    with pytest.raises(InputError, match="top_p"):
        evaluate_generation(pipe, test_set, ev, replications=1, batch_size=BS, top_p=1.5, progress=False)


def test_generation_is_reproducible(pipe, test_set, ev, generation):
    again = evaluate_generation(pipe, test_set, ev, replications=1, seed=0, batch_size=BS, progress=False)
    for k in ("fid", "top1", "mm_dist", "diversity"):
        assert again.model[k][0] == pytest.approx(generation.model[k][0], rel=1e-6)
        assert again.ground_truth[k][0] == pytest.approx(generation.ground_truth[k][0], rel=1e-6)


def test_multimodality_is_scaled_down_on_small_splits(pipe, test_set, ev, caplog):
    with caplog.at_level(logging.WARNING):
        r = evaluate_generation(pipe, test_set, ev, replications=1, mm=True, batch_size=BS, mm_texts=1000,
                                mm_samples=3, mm_times=2, progress=False)
    assert r.info["mm_texts"] == test_set.num_batches(BS) * BS
    assert "MultiModality uses" in caplog.text
    with pytest.raises(InputError, match="more samples"):
        evaluate_generation(pipe, test_set, ev, replications=1, mm=True, batch_size=BS, mm_samples=2, mm_times=2)


class _Identity(torch.nn.Module):
    """A perfect 'VQ-VAE': reconstruction equals input."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x, torch.zeros(()), torch.zeros(())


def test_reconstruction_protocol(pipe, test_set, ev):
    r = evaluate_reconstruction(pipe.vqvae, test_set, ev, replications=2, normalizer=pipe.normalizer, batch_size=BS,
                                progress=False)
    assert r.mode == "reconstruction" and "multimodality" not in r.model
    assert all(np.isfinite(v).all() for v in r.model.values())
    # a perfect reconstruction has the real motions' R-precision and MM-Dist, and FID ~ 0
    perfect = evaluate_reconstruction(_Identity(), test_set, ev, replications=2, batch_size=BS, progress=False)
    for k in ("top1", "top2", "top3", "mm_dist", "diversity"):
        np.testing.assert_allclose(perfect.model[k], perfect.ground_truth[k], rtol=1e-4, atol=1e-5)
    assert max(perfect.model["fid"]) < 1e-3
    np.testing.assert_allclose(perfect.ground_truth["top1"], r.ground_truth["top1"])  # same draws, same seed


def test_baselines_are_text_blind_real_motions(work, test_set, ev):
    shuffled = evaluate_baseline("shuffled", test_set, ev, replications=2, batch_size=BS, progress=False)
    assert shuffled.mode == "baseline:shuffled" and "Shuffled text" in shuffled.table()
    # the same real motions, only paired with other captions: FID (blind to text) sees no difference
    assert max(shuffled.model["fid"]) < 1e-3
    # every caption gets another caption's motion: no caption can be ranked first by its own motion
    assert np.mean(shuffled.model["mm_dist"]) > np.mean(shuffled.ground_truth["mm_dist"])
    train = EvalDataset(work / "data", "train")
    blind = evaluate_baseline("train-motions", test_set, ev, replications=2, reference=train, batch_size=BS,
                              progress=False)
    assert blind.mode == "baseline:train-motions" and all(np.isfinite(v).all() for v in blind.model.values())
    np.testing.assert_allclose(blind.ground_truth["top1"], shuffled.ground_truth["top1"])  # same draws
    with pytest.raises(InputError, match="reference"):
        evaluate_baseline("train-motions", test_set, ev, batch_size=BS)
    with pytest.raises(InputError, match="baseline must be"):
        evaluate_baseline("noise", test_set, ev, batch_size=BS)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # constant fake embeddings
def test_shuffled_baseline_pairs_every_caption_with_another_motion(test_set, monkeypatch):
    from t2mgpt.eval import replication

    seen = []

    def fake_run(evaluator, dataset, seeds, batch_size, model_motions, div_times, bar, cache=None):
        batch = next(dataset.batches(seeds["data"], batch_size))
        motions, lens = model_motions(batch, np.random.default_rng(seeds["generation"]))
        seen.append((batch, motions, lens))
        return {"fid": 0.0}, {}, np.zeros((4, 2))

    class _Ev:
        dim_pose = test_set.dim

        def motion_embedding(self, motions, lens):
            return torch.zeros(len(lens), 2)

    monkeypatch.setattr(replication, "run_replication", fake_run)
    evaluate_baseline("shuffled", test_set, _Ev(), replications=3, batch_size=BS, progress=False)
    assert len(seen) == 3
    for batch, motions, lens in seen:
        rows = [next(j for j in range(BS) if lens[i] == batch.m_lens[j] and np.array_equal(motions[i], batch.motions[j]))
                for i in range(BS)]
        assert sorted(rows) == list(range(BS)), "a permutation of the batch's own motions"
        assert all(r != i for i, r in enumerate(rows)) or len(set(map(bytes, batch.motions))) < BS


def test_cli_evaluate_baseline(work, capsys):
    common = ["--data", str(work / "data"), "--evaluator", str(work / "ev"), "--batch-size", str(BS),
              "--replications", "2", "--device", "cpu", "--no-progress"]
    assert main(["evaluate", "--baseline", "train-motions", *common]) == 0
    out = capsys.readouterr().out
    assert "Train motion" in out and "Real motion" in out
    assert main(["evaluate", *common]) == 2
    assert "either --model" in capsys.readouterr().err
    assert main(["evaluate", "--baseline", "shuffled", "--mm", *common]) == 2


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # greedy random model: identical motions
def test_validation_fn(pipe, work, ev):
    val = EvalDataset(work / "data", "val")
    validate = make_validation_fn(ev, val, batch_size=BS)
    pipe.gpt.train()
    m1 = validate(gpt_pipeline=pipe)
    assert pipe.gpt.training and not pipe.vqvae.training, "modes restored"
    pipe.gpt.eval()
    m2 = validate(gpt_pipeline=pipe)
    assert m1 == m2, "same draw, greedy decoding: identical numbers for an unchanged model"
    assert {"fid", "top1", "top2", "top3", "mm_dist", "diversity", "top1_real", "mm_dist_real",
            "diversity_real"} <= set(m1)
    rec = validate(vqvae=pipe.vqvae)
    assert rec["top1_real"] == m1["top1_real"] and np.isfinite(rec["fid"])
    with pytest.raises(InputError, match="exactly one"):
        validate()


# ----------------------------------------------------------------------------- the published evaluator

def _glove(folder, words=("unk", "sos", "eos", "a", "person", "walk", "forward", "jump"), dim=300):
    folder.mkdir(parents=True)
    np.save(folder / "our_vab_data.npy", np.random.default_rng(0).normal(size=(len(words), dim)).astype(np.float32))
    (folder / "our_vab_words.pkl").write_bytes(pickle.dumps(list(words)))
    (folder / "our_vab_idx.pkl").write_bytes(pickle.dumps({w: i for i, w in enumerate(words)}))


def test_released_evaluator_behind_the_interface(ref_dir, tmp_path, test_set):
    model_dir = tmp_path / "t2m" / "Comp_v6_KLD01" / "model"
    model_dir.mkdir(parents=True)
    shutil.copy(ref_dir / "ref_evaluator_t2m.tar", model_dir / "finest.tar")
    meta = model_dir.parent / "meta"
    meta.mkdir()
    np.save(meta / "mean.npy", test_set.mean)
    np.save(meta / "std.npy", test_set.std)
    _glove(tmp_path / "glove")
    ev = load_evaluator(model_dir / "finest.tar", glove=tmp_path / "glove")  # meta found beside it
    assert isinstance(ev, GuoEvaluator) and ev.dim_pose == 263
    b = next(test_set.batches(0, BS))
    em = ev.motion_embedding(b.motions, b.m_lens)
    x = (torch.as_tensor(b.motions) - torch.as_tensor(test_set.mean)) / torch.as_tensor(test_set.std)
    x = x * (torch.arange(196)[None, :, None] < torch.as_tensor(b.m_lens)[:, None, None])
    torch.testing.assert_close(em, ev.evaluator.motion_embedding(x, torch.as_tensor(b.m_lens)))
    assert ev.text_embedding(b.captions).shape == (BS, 40)
    with pytest.raises(InputError, match="word/POS"):
        ev.text_embedding(["plain text"])


def test_cli_evaluate(work, tmp_path, capsys):
    common = ["--model", str(work / "model"), "--data", str(work / "data"), "--evaluator", str(work / "ev"),
              "--batch-size", str(BS), "--replications", "2", "--device", "cpu", "--no-progress"]
    assert main(["evaluate", *common, "--json-out", str(tmp_path / "gen.json")]) == 0
    out = capsys.readouterr().out
    assert "Real motion" in out and "Generated" in out
    assert json.loads((tmp_path / "gen.json").read_text())["replications"] == 2
    assert main(["evaluate", *common, "--reconstruction", "--json-out", str(tmp_path / "rec.json")]) == 0
    assert "Reconstruction" in capsys.readouterr().out
    assert json.loads((tmp_path / "rec.json").read_text())["mode"] == "reconstruction"
    assert main(["evaluate", *common, "--replications", "1", "--top-p", "0.8", "--guidance-scale", "2", "--json-out",
                 str(tmp_path / "p.json")]) == 0
    info = json.loads((tmp_path / "p.json").read_text())["info"]
    assert info["top_p"] == 0.8 and info["guidance_scale"] == 2.0
    capsys.readouterr()
    assert main(["evaluate", *common, "--reconstruction", "--top-p", "0.8"]) == 2
    assert "--top-p" in capsys.readouterr().err
    assert main(["evaluate", *common, "--guidance-scale", "nan"]) == 2
    assert "guidance_scale" in capsys.readouterr().err


@pytest.mark.parametrize("case, message", [
    ("no_evaluator", "download_extractor.sh"),
    ("no_glove", "--glove"),
    ("bad_glove", "our_vab_data.npy"),
    ("no_meta", "--evaluator-meta"),
    ("not_evaluator_folder", "train-evaluator"),
    ("no_data", "not found"),
    ("empty_split", "empty"),
])
def test_cli_evaluate_errors(case, message, work, ref_dir, tmp_path, capsys):
    tar = tmp_path / "finest.tar"
    shutil.copy(ref_dir / "ref_evaluator_t2m.tar", tar)
    (tmp_path / "glove").mkdir()
    (tmp_path / "empty.txt").write_text("")
    data, evaluator, extra = str(work / "data"), str(work / "ev"), []
    if case == "no_evaluator":
        evaluator = str(tmp_path / "missing.tar")
    elif case == "no_glove":
        evaluator = str(tar)
    elif case == "bad_glove":
        evaluator, extra = str(tar), ["--glove", str(tmp_path / "glove"), "--evaluator-meta", str(tmp_path)]
    elif case == "no_meta":
        _glove(tmp_path / "g2")
        evaluator, extra = str(tar), ["--glove", str(tmp_path / "g2")]
    elif case == "not_evaluator_folder":
        evaluator = str(tmp_path / "glove")
    elif case == "no_data":
        data = str(tmp_path / "nodata")
    elif case == "empty_split":
        shutil.copytree(work / "data", tmp_path / "d2")
        (tmp_path / "d2" / "test.txt").write_text("")
        data = str(tmp_path / "d2")
    code = main(["evaluate", "--model", str(work / "model"), "--data", data, "--evaluator", evaluator,
                 "--batch-size", str(BS), "--device", "cpu", "--no-progress", *extra])
    assert code == 2
    assert message in capsys.readouterr().err
