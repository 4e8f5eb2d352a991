"""The contrastive evaluator: it learns text-motion retrieval, saves/loads as a folder, fails clearly."""
import json

import numpy as np
import pytest
import torch

from t2mgpt.cli import main
from t2mgpt.errors import CheckpointError, DataError
from t2mgpt.eval import EvalDataset, EvaluatorTrainConfig, load_evaluator, train_evaluator
from t2mgpt.eval.trainer import _training_batch, retrieval_metrics
from t2mgpt.models.contrastive_evaluator import (ContrastiveConfig, ContrastiveEvaluator, Vocabulary,
                                                 is_evaluator_folder, tokenize)

SMALL = dict(dim_embed=32, dim_word=32, dim_text_hidden=32, dim_movement_enc_hidden=32, dim_movement_latent=32,
             dim_motion_hidden=32)

# Text determines motion: the action picks a feature pattern, the adverb its speed.
ACTIONS = [("walks forward", "walk/VERB forward/ADV", 0.5), ("jumps up", "jump/VERB up/ADV", 1.0),
           ("waves a hand", "wave/VERB a/DET hand/NOUN", 2.0)]
SPEEDS = [("slowly", "slowly/ADV", 0.6), ("", "", 1.0), ("quickly", "quickly/ADV", 1.6)]


def make_class_dataset(root, n_motions=150, dim=263, seed=0):
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(len(ACTIONS), dim))
    phase = rng.uniform(0, 2 * np.pi, size=dim)
    ids, motions = [], []
    for i in range(n_motions):
        a, s = rng.integers(len(ACTIONS)), rng.integers(len(SPEEDS))
        t = np.arange(int(rng.integers(48, 160)))[:, None] / 20.0
        m = np.sin(2 * np.pi * ACTIONS[a][2] * SPEEDS[s][2] * t + phase) * basis[a]
        m = (m + 0.3 * rng.normal(size=m.shape)).astype(np.float32)
        subj, subj_tok = [("a person", "a/DET person/NOUN"), ("someone", "someone/PRON")][i % 2]
        text = " ".join(x for x in (subj, ACTIONS[a][0], SPEEDS[s][0]) if x) + "."
        tokens = " ".join(x for x in (subj_tok, ACTIONS[a][1], SPEEDS[s][1]) if x)
        mid = f"{i:06d}"
        np.save(root / "new_joint_vecs" / f"{mid}.npy", m)
        (root / "texts" / f"{mid}.txt").write_text(f"{text}#{tokens}#0.0#0.0\n")
        ids.append(mid)
        motions.append(m)
    allm = np.concatenate(motions)
    np.save(root / "Mean.npy", allm.mean(0))
    np.save(root / "Std.npy", allm.std(0))
    a, b = int(0.6 * n_motions), int(0.8 * n_motions)
    for split, part in (("train", ids[:a]), ("val", ids[a:b]), ("test", ids[b:])):
        (root / f"{split}.txt").write_text("".join(x + "\n" for x in part))
    return root



@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("trainev")
    data = make_class_dataset(root / "data")
    cfg = EvaluatorTrainConfig(epochs=8, batch_size=16, lr=3e-3, val_draws=2, test_draws=5)
    logs = []
    metrics = train_evaluator(data, root / "ev", cfg, SMALL, progress=False, log_fn=logs.append)
    return root, metrics, logs


def test_training_learns_retrieval_well_above_chance(trained):
    root, metrics, logs = trained
    r = metrics["retrieval"]
    assert metrics["split"] == "test" and metrics["batch_size"] == 30  # 30 test entries < 32
    assert metrics["chance"]["top1"] == pytest.approx(1 / 30, abs=1e-4)
    # 9 (action, speed) classes: a perfect text side can at best pick the class (~3.3 candidates)
    assert r["top1"] > 3 * metrics["chance"]["top1"]
    assert r["top1"] <= r["top2"] <= r["top3"]
    trained_ev = load_evaluator(root / "ev")
    torch.manual_seed(0)
    untrained = ContrastiveEvaluator(trained_ev.config, trained_ev.vocab, trained_ev.mean, trained_ev.std).eval()
    untrained_top1 = np.mean(retrieval_metrics(untrained, EvalDataset(root / "data", "test"), [0, 1, 2])["top1"])
    assert r["top1"] > untrained_top1 + 0.1
    assert "top-1" in logs[-1] and "MM-Dist" in logs[-1]
    assert metrics["best_epoch"] >= 1 and len(metrics["history"]) == 8


def test_folder_round_trip(trained):
    root, metrics, _ = trained
    folder = root / "ev"
    assert {p.name for p in folder.iterdir()} >= {"config.json", "evaluator.safetensors", "vocab.json", "mean.npy",
                                                   "std.npy", "metrics.json"}
    assert is_evaluator_folder(folder) and not is_evaluator_folder(root / "data")
    assert json.loads((folder / "metrics.json").read_text())["retrieval"] == metrics["retrieval"]
    ev = load_evaluator(folder)
    again = ContrastiveEvaluator.load(folder)
    b = next(EvalDataset(root / "data", "test").batches(0, 8))
    torch.testing.assert_close(ev.motion_embedding(b.motions, b.m_lens), again.motion_embedding(b.motions, b.m_lens))
    t = ev.text_embedding(b.captions)
    torch.testing.assert_close(t, ev.text_embedding(b.texts))  # Captions or plain strings
    torch.testing.assert_close(t.norm(dim=1), torch.ones(8))  # unit vectors
    # the retrieval reported in metrics.json is reproduced by the loaded folder
    r = retrieval_metrics(ev, EvalDataset(root / "data", "test"), [0 * 1000 + 500 + k for k in range(5)])
    assert np.mean(r["top1"]) == pytest.approx(metrics["retrieval"]["top1"], abs=1e-4)


def test_vocabulary_and_unknown_words():
    assert tokenize("A man walks, then jumps 2 times. Don't!") == ["a", "man", "walks", "then", "jumps", "2",
                                                                    "times", "don't"]
    vocab = Vocabulary.build(["a man walks", "a man runs"])
    assert vocab.words[:2] == ["<pad>", "<unk>"] and "walks" in vocab.index
    assert vocab.encode("a dog walks", max_len=32) == [vocab.index["a"], 1, vocab.index["walks"]]
    assert vocab.encode("...", max_len=32) == [1]
    ids, lens = vocab.batch(["a man", "a man walks slowly"], max_len=3)
    assert ids.shape == (2, 3) and lens.tolist() == [2, 3] and ids[0, 2] == 0


def test_training_windows(trained):
    root, _, _ = trained
    train = EvalDataset(root / "data", "train")
    ev = load_evaluator(root / "ev")
    rng = np.random.default_rng(0)
    idx = np.arange(16)
    for crop_min in (1.0, 0.5):
        ids, lengths, motions, m_lens, same = _training_batch(train, idx, rng, ev.vocab, ev.config, 0.5, "cpu", crop_min)
        full = np.array([len(train.entries[i].motion) // 4 * 4 for i in idx])
        assert np.all(m_lens.numpy() % 4 == 0) and np.all(m_lens.numpy() <= full)
        assert motions.shape == (16, int(m_lens.max()), 263)
        if crop_min == 1.0:
            assert np.all(m_lens.numpy() >= full - 4)  # the evaluation's coin toss only
        else:
            assert np.all(m_lens.numpy() >= np.minimum(train.min_motion_len // 4 * 4, full - 4))
            assert np.any(m_lens.numpy() < full - 4)
        assert torch.equal(same, same.T) and same.diagonal().all()
        assert set(ids.unique().tolist()) <= set(range(len(ev.vocab)))


def test_duplicate_captions_are_all_positives():
    cfg = ContrastiveConfig(**SMALL, vocab_size=2)
    model = ContrastiveEvaluator(cfg, Vocabulary(["<pad>", "<unk>"]), np.zeros(263), np.ones(263))
    e = torch.nn.functional.normalize(torch.randn(4, 32), dim=1)
    texts = torch.stack([e[0], e[0], e[2], e[3]])  # captions 0 and 1 are the same sentence
    same = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.bool)
    motions = torch.stack([e[0], e[0], e[2], e[3]])
    # identical motions for identical captions: soft targets make this the best possible pairing
    loss = model.loss(texts, motions, same)
    swapped = model.loss(texts, motions[[0, 1, 3, 2]], same)
    assert loss < swapped


def test_errors(tmp_path, trained, capsys):
    root, _, _ = trained
    data = tmp_path / "d"
    make_class_dataset(data, n_motions=20)
    (data / "val.txt").unlink()
    with pytest.raises(DataError, match="val split"):
        train_evaluator(data, tmp_path / "ev", EvaluatorTrainConfig(epochs=1), SMALL, progress=False)
    with pytest.raises(CheckpointError, match="config.json"):
        ContrastiveEvaluator.load(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in ("config.json", "vocab.json", "mean.npy", "std.npy"):
        (broken / f).write_bytes((root / "ev" / f).read_bytes())
    with pytest.raises(CheckpointError, match="evaluator.safetensors"):
        load_evaluator(broken)
    assert main(["train-evaluator", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["train-evaluator", "--data", str(data), "--out", str(root / "ev")]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_cli_train_evaluator(tmp_path, capsys):
    data = make_class_dataset(tmp_path / "d", n_motions=40)
    code = main(["train-evaluator", "--data", str(data), "--out", str(tmp_path / "ev"), "--epochs", "1",
                 "--embed-dim", "8", "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "retrieval" in out and "wrote" in out
    assert load_evaluator(tmp_path / "ev").config.dim_embed == 8
