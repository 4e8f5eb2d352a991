"""Best-of-k sampling (t2mgpt.rerank): scores, choice, seeds, the critic in the model folder."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from t2mgpt import T2MGPT
from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.models.contrastive_evaluator import ContrastiveConfig, ContrastiveEvaluator, Vocabulary
from t2mgpt.generator.decoding import Sampling
from t2mgpt.rerank import best_of, code_evidence, critic_similarity
from tiny_model import make_tiny_model_dir

SMALL = dict(dim_embed=32, dim_word=32, dim_text_hidden=32, dim_movement_enc_hidden=32, dim_movement_latent=32,
             dim_motion_hidden=32)
TEXT = "a person kicks with the left leg"


def tiny_critic(dim: int = 263, seed: int = 0) -> ContrastiveEvaluator:
    torch.manual_seed(seed)
    vocab = Vocabulary.build([TEXT, "a person walks forward"])
    return ContrastiveEvaluator(ContrastiveConfig(**SMALL, vocab_size=len(vocab), dim_pose=dim), vocab,
                                np.zeros(dim), np.ones(dim)).eval()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A tiny model folder with a critic and best-of-4 as its default."""
    root = tmp_path_factory.mktemp("rerank")
    pipe = T2MGPT.from_pretrained(make_tiny_model_dir(root / "plain"), device="cpu")
    pipe.critic = tiny_critic()
    pipe.config.candidates = 4
    return pipe.save_pretrained(root / "judged")


def test_code_evidence_is_the_log_likelihood_ratio_of_codes_and_end(folder):
    """The batched, padded teacher-forced score equals log p(codes, END | text) - log p(codes, END |
    no text) summed one position at a time, for sequences of different lengths."""
    pipe = T2MGPT.from_pretrained(folder, device="cpu")
    gpt = pipe.gpt
    feats = pipe.text_features([TEXT, "a person walks forward", TEXT])
    codes = [torch.tensor([3, 1, 4, 1, 5]), torch.tensor([9]), torch.tensor(list(range(20)))]

    def log_p(seq, text):
        seq = torch.cat([seq, torch.tensor([gpt.config.vocab.end])])
        with torch.no_grad():
            return sum(float(gpt(seq[None, :t], text)[0, -1].float().log_softmax(-1)[seq[t]])
                       for t in range(len(seq)))

    expected = [log_p(c, feats[i:i + 1]) - log_p(c, gpt.null_text()) for i, c in enumerate(codes)]
    got = code_evidence(gpt, codes, feats)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-3, rtol=1e-4)
    assert not np.allclose(expected, 0.0)


def test_best_of_picks_the_highest_score_of_each_run_of_k():
    class Gpt:  # stands in for code_evidence's GPT: with text, the first code c has logit c (others 0)
        config = type("C", (), {"vocab": type("V", (), {"end": 9})()})()
        device = torch.device("cpu")

        def __call__(self, inputs, text):
            out = torch.zeros(len(inputs), inputs.shape[1] + 1, 10)
            scale = text[:, 0]  # 1 with text, 0 without
            for i, row in enumerate(inputs):
                out[i, 0, row[0]] = float(row[0]) * scale[i]
            return out

        def null_text(self):
            return torch.zeros(1, 1)

    codes = [torch.tensor([c]) for c in (3, 7, 1, 2, 5, 4)]
    assert best_of(3, Gpt(), codes, torch.ones(6, 1)) == [1, 4]
    assert best_of(1, Gpt(), codes, torch.ones(6, 1)) == list(range(6))


def test_critic_similarity_is_the_cosine_of_its_embeddings():
    critic = tiny_critic()
    rng = np.random.default_rng(0)
    feats = [rng.normal(size=(n, 263)).astype(np.float32) for n in (40, 23, 64, 40)]
    got = critic_similarity(critic, [TEXT] * 4, feats)
    for i, f in enumerate(feats):  # one at a time, cut to whole movement units of 4 frames
        n = len(f) // 4 * 4
        t = torch.nn.functional.normalize(critic.text_embedding([TEXT]), dim=-1)[0]
        m = torch.nn.functional.normalize(critic.motion_embedding(f[None, :n], [n]), dim=-1)[0]
        assert got[i] == pytest.approx(float(t @ m), abs=1e-5)


def test_best_of_k_in_the_pipeline_seeds_and_reproduction(folder):
    pipe = T2MGPT.from_pretrained(folder, device="cpu")
    assert pipe.candidates == 4 and pipe.critic is not None
    out = pipe([TEXT, "a person walks forward"], num_samples=2, seed=100)
    for i, row in enumerate(out):
        for j, m in enumerate(row):
            first = 100 + (i * 2 + j) * 4
            assert first <= m.seed < first + 4 and m.sample == j
            again = pipe([m.text], seed=m.seed, candidates=1)[0][0]  # the winner's seed reproduces it alone
            assert np.array_equal(again.tokens, m.tokens) and np.allclose(again.joints, m.joints)
    # more candidate rows than one batch holds: decoded in chunks, same result
    small = T2MGPT.from_pretrained(folder, device="cpu", max_batch=5)
    chunked = small([TEXT, "a person walks forward"], num_samples=2, seed=100)
    assert [[m.seed for m in r] for r in chunked] == [[m.seed for m in r] for r in out]
    # greedy decoding and timelines draw one candidate; plain sampling keeps seed + k
    assert pipe.candidates_used(greedy=True) == 1 and pipe.candidates_used(seconds=30.0) == 1
    assert [m.seed for m in pipe([TEXT], num_samples=3, seed=7, candidates=1)[0]] == [7, 8, 9]
    for bad in (0, 17, 2.0, True):
        with pytest.raises(InputError, match="candidates must be an integer"):
            pipe([TEXT], candidates=bad)
    # per-motion prefixes go with each motion's candidates (a list, or a 2-D array); a shared one with all
    prefixes = np.array([[1, 2, 3], [4, 5, 6]])
    for given in (prefixes, [list(r) for r in prefixes], [torch.as_tensor(r) for r in prefixes]):
        for m, want in zip(pipe([TEXT], num_samples=2, seed=0, prefix_codes=given)[0], prefixes):
            assert m.tokens[:3].tolist() == want.tolist()
    assert all(m.tokens[:2].tolist() == [7, 8] for m in pipe([TEXT], num_samples=2, prefix_codes=[7, 8])[0])
    with pytest.raises(InputError, match="prefix_codes has 3 entries; give one per motion"):
        pipe([TEXT], num_samples=2, prefix_codes=[[1], [2], [3]])


def test_the_critic_travels_with_the_model_folder(folder, tmp_path):
    pipe = T2MGPT.from_pretrained(folder, device="cpu")
    assert json.loads((folder / "config.json").read_text())["sampling"]["candidates"] == 4
    saved = pipe.save_pretrained(tmp_path / "again")
    assert sorted(p.name for p in (saved / "critic").iterdir()) == sorted(p.name for p in (folder / "critic").iterdir())
    reloaded = T2MGPT.from_pretrained(saved, device="cpu")
    for a, b in zip(pipe.critic.state_dict().values(), reloaded.critic.state_dict().values()):
        assert torch.equal(a, b)
    # a critic of another feature size, and a bad default, are refused when loading
    broken = shutil.copytree(folder, tmp_path / "broken")
    tiny_critic(dim=251).save(broken / "critic")
    with pytest.raises(CheckpointError, match="reads 251-d motions but the model makes 263-d"):
        T2MGPT.from_pretrained(broken, device="cpu")
    config = json.loads((folder / "config.json").read_text())
    config["sampling"]["candidates"] = 0
    bad = shutil.copytree(folder, tmp_path / "bad")
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="candidates must be an integer in"):
        T2MGPT.from_pretrained(bad, device="cpu")


def test_cli_generate_batches_keep_the_candidates_seeds(folder, tmp_path, capsys):
    from t2mgpt.cli import main

    prompts = [TEXT, "a person walks forward", "a person walks"]
    for name, batch in (("one", "64"), ("split", "2")):  # one batch, or one prompt per batch
        assert main(["generate", *prompts, "-n", "2", "--seed", "7", "--candidates", "3", "--format", "json",
                     "--batch-size", batch, "--model", str(folder), "--out-dir", str(tmp_path / name),
                     "--device", "cpu"]) == 0
    docs = {n.name: json.loads(n.read_text()) for n in sorted((tmp_path / "one").iterdir())}
    pipe = T2MGPT.from_pretrained(folder, device="cpu")
    direct = [m for row in pipe(prompts, num_samples=2, seed=7, candidates=3) for m in row]
    assert sorted(d["seed"] for d in docs.values()) == sorted(m.seed for m in direct)
    for n, d in docs.items():
        assert json.loads((tmp_path / "split" / n).read_text())["tokens"] == d["tokens"]
    capsys.readouterr()
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"segments": [{"text": TEXT, "seconds": 2.0}]}))
    assert main(["generate", "--timeline", str(plan), "--candidates", "3", "--model", str(folder),
                 "--out-dir", str(tmp_path / "t"), "--device", "cpu"]) == 2
    assert "leave --candidates out" in capsys.readouterr().err


def test_web_api_candidates(folder):
    from fastapi.testclient import TestClient

    from t2mgpt.serve import create_app

    pipe = T2MGPT.from_pretrained(folder, device="cpu")
    with TestClient(create_app(pipe, max_results=8), base_url="http://127.0.0.1") as client:
        assert client.get("/api/info").json()["model"]["candidates"] == 4
        r = client.post("/api/generate", json={"text": TEXT, "seconds": 2.0, "seed": 40, "num_samples": 2,
                                               "candidates": 2})
        assert r.status_code == 200, r.text
        seeds = [s["seed"] for s in r.json()["samples"]]
        assert 40 <= seeds[0] < 42 and 42 <= seeds[1] < 44
        r = client.post("/api/stream", json={"text": TEXT, "seconds": 2.0, "candidates": 2})
        assert r.status_code == 422 and "candidates" in r.json()["message"]  # a stream is one candidate
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
        assert "candidates" in schemas["GenerateRequest"]["properties"]
        assert "candidates" not in schemas["StreamRequest"]["properties"]
        assert client.post("/api/generate", json={"text": TEXT, "candidates": 99}).status_code == 422


def test_evaluation_samples_as_the_pipeline_does(folder):
    """The protocol's generation with k candidates returns, for each caption, the candidate that
    best_of picks among the k motions the same seeds give one by one."""
    from t2mgpt.eval.generation import as_generation_models, generate_motions

    pipe = T2MGPT.from_pretrained(folder, device="cpu")
    models = as_generation_models(pipe)
    assert models.candidates == 4 and models.critic is pipe.critic
    texts, seeds = [TEXT, "a person walks forward"], [11, 500]
    motions, lens = generate_motions(models, texts, seeds, max_frames=196, sampling=Sampling(guidance_scale=1.0))
    for i, (text, seed) in enumerate(zip(texts, seeds)):
        single = [pipe([text], seed=seed + r, candidates=1, guidance_scale=1.0)[0][0] for r in range(4)]
        codes = [torch.as_tensor(m.tokens) for m in single]
        pick = best_of(4, pipe.gpt, codes, pipe.text_features([text] * 4), pipe.critic, [text] * 4,
                       [m.features for m in single])[0]
        assert lens[i] == len(single[pick].features)
        np.testing.assert_allclose(motions[i, :lens[i]].numpy(), single[pick].features, atol=1e-4)
