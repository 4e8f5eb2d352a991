"""`t2mgpt train-gpt`: the paper's corruption and loss, learning, exact resume, errors, export."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers import make_tiny_dataset
from test_gpt_dataset import cap, write_codes
from t2mgpt.cli import main
from t2mgpt.train.gpt_task import corrupt_codes, token_loss
from t2mgpt.utils.io import safe_torch_load

VQ_TINY = ["--nb-code", "32", "--code-dim", "32", "--width", "32", "--depth", "1", "--batch-size", "8",
           "--window-size", "32", "--warmup-iters", "2", "--iters", "6", "--eval-every", "6", "--save-every", "6",
           "--device", "cpu", "--no-progress"]
GPT_SMALL = ["--embed-dim", "32", "--num-layers", "1", "--n-head", "2", "--fc-rate", "2", "--batch-size", "8",
             "--lr", "1e-3", "--device", "cpu", "--no-progress"]
GPT_TINY = ["--text-encoder", "hashing", "--clip-dim", "32", *GPT_SMALL]  # weight-free text encoder



@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A tiny dataset, a VQ-VAE trained for a few updates and its codes (with the mirrors made)."""
    root = tmp_path_factory.mktemp("gpt")
    data = make_tiny_dataset(root / "data", n_motions=16, seed=7)
    torch.set_num_threads(1)
    assert main(["train-vq", "--data", str(data), "--out", str(root / "vq"), *VQ_TINY]) == 0
    assert main(["tokenize", "--data", str(data), "--vq", str(root / "vq"), "--out", str(root / "codes"),
                 "--device", "cpu"]) == 0
    return data, root / "vq", root / "codes"


def train(prepared, out, *extra: str) -> int:
    data, vq, codes = prepared
    return main(["train-gpt", "--data", str(data), "--tokens", str(codes), "--vq", str(vq), "--out", str(out),
                 *GPT_TINY, *extra])


def metrics(run_dir, split="train") -> dict[int, dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in rows if r["split"] == split}


# ------------------------------------------------------------------------------ objective


def test_corruption_rate_matches_pkeep():
    torch.manual_seed(0)
    codes = torch.full((400, 50), 40)  # outside [0, 32): every replacement is visible
    for pkeep in (0.5, 0.8):
        out = corrupt_codes(codes, pkeep, 32)
        replaced = out != 40
        assert abs(replaced.float().mean().item() - (1 - pkeep)) < 0.01  # 20k draws: sd 0.0035
        new = out[replaced]
        assert new.min() >= 0 and new.max() < 32 and len(new.unique()) == 32  # uniform random codes
    assert torch.equal(corrupt_codes(codes, 1.0, 32), codes)
    np.random.seed(0)  # pkeep = -1: one rate per batch, drawn uniformly
    rates = [(corrupt_codes(codes[:40], -1, 32) != 40).float().mean().item() for _ in range(200)]
    assert np.std(rates) > 0.2 and abs(np.mean(rates) - 0.5) < 0.06


def test_loss_is_the_originals_and_masks_pad():
    torch.manual_seed(0)
    B, T, V = 6, 11, 17  # num_vq 16: END 16, PAD 17
    lengths = torch.tensor([0, 3, 10, 5, 1, 7])
    target = torch.full((B, T), 17)
    for i, n in enumerate(lengths.tolist()):
        target[i, :n] = torch.randint(0, 16, (n,))
        target[i, n] = 16
    logits = torch.randn(B, T, V, requires_grad=True)
    per_sample, correct, counted = token_loss(logits, target, lengths)
    # train_t2m_trans.py: loss_cls += loss_ce(cls_pred[i][:m_tokens_len[i] + 1], target[i][:m_tokens_len[i] + 1]) / bs
    ce = torch.nn.CrossEntropyLoss()
    ref = sum(ce(logits[i][:n + 1], target[i][:n + 1]) / B for i, n in enumerate(lengths.tolist()))
    torch.testing.assert_close(per_sample.mean(), ref)
    assert counted == (lengths + 1).sum()
    hits = sum((logits[i][:n + 1].argmax(-1) == target[i][:n + 1]).sum() for i, n in enumerate(lengths.tolist()))
    assert correct == hits
    # PAD positions do not count: changing their logits changes nothing, and they get no gradient
    other = logits.detach().clone()
    pad = torch.arange(T)[None] > lengths[:, None]
    other[pad] = 100 * torch.randn(int(pad.sum()), V)
    torch.testing.assert_close(token_loss(other, target, lengths)[0], per_sample.detach())
    per_sample.mean().backward()
    assert (logits.grad[pad] == 0).all() and (logits.grad[~pad] != 0).any()


def test_learns_a_fixed_code_sequence_per_caption(tmp_path):
    from t2mgpt.text.encoders.hashing import HashingTextEncoder
    from t2mgpt.generator.config import GPTConfig
    from t2mgpt.tokenizer.config import VQVAEConfig
    from t2mgpt.tokenizer.vqvae import VQVAE
    from t2mgpt.train.export import load_gpt_checkpoint
    from t2mgpt.train.gpt_task import GPTTrainConfig, train_gpt

    rng = np.random.default_rng(0)
    words = ["walks", "jumps", "runs", "waves", "kicks", "sits", "turns", "crawls"]
    seqs = {w: rng.integers(0, 32, int(rng.integers(4, 9))) for w in words}
    data, codes = write_codes(tmp_path, {f"{i:06d}": (seqs[w], [cap(f"a person {w}.")]) for i, w in enumerate(words)})
    VQVAE(VQVAEConfig(input_dim=263, nb_code=32, code_dim=16, output_emb_width=16, width=16, depth=1)).save(
        tmp_path / "vq.pt")
    enc = HashingTextEncoder(32)
    tc = GPTTrainConfig(iters=150, batch_size=8, lr=3e-3, pkeep=1.0, val_split="", log_every=10, save_every=150)
    result = train_gpt(data, tmp_path / "vq.pt", tmp_path / "run", GPTConfig(embed_dim=64, num_layers=1, n_head=2,
                       fc_rate=2, drop_out_rate=0.0), tc, tokens=codes, text_encoder=enc, device="cpu",
                       progress=False)
    losses = [m["loss"] for m in metrics(tmp_path / "run").values()]
    assert result.step == 150 and losses[-1] < 0.25 * losses[0]
    gpt, ckpt = load_gpt_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["text_encoder"] == {"name": "hashing", "dim": 32, "path": None}
    out = gpt.generate(enc.encode([f"a person {w}." for w in words]), greedy=True)
    got = [(o.tolist(), seqs[w].tolist()) for o, w in zip(out, words)]
    # each caption gets its own sequence (or a variant it was trained on: one code dropped at an end)
    assert all(o in (s, s[1:], s[:-1]) for o, s in got), got
    assert sum(o == s for o, s in got) >= 5, got


# ------------------------------------------------------------------------------ runs


def test_trains_logs_checkpoints_and_resumes_exactly(prepared, tmp_path):
    common = ["--log-every", "1", "--eval-every", "6", "--save-every", "3", "--pkeep", "-1"]
    assert train(prepared, tmp_path / "full", "--iters", "12", *common) == 0
    assert train(prepared, tmp_path / "split", "--iters", "6", *common) == 0
    assert train(prepared, tmp_path / "split", "--iters", "12", "--resume", *common) == 0  # --iters may grow
    full, split = metrics(tmp_path / "full"), metrics(tmp_path / "split")
    assert list(full) == list(range(1, 13)) and split == {k: {**v, "sequences_per_s": split[k]["sequences_per_s"]}
                                                          for k, v in full.items()}  # bit-for-bit
    assert [r["step"] for r in metrics(tmp_path / "full", "val").values()] == [0, 6, 12]
    a, b = (safe_torch_load(tmp_path / r / "last.pt") for r in ("full", "split"))  # weights_only=True
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert a["data"] == b["data"] and torch.equal(a["rng"][0]["torch"], b["rng"][0]["torch"])

    run = tmp_path / "full"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["num_vq"] == 32 and cfg["model"]["clip_dim"] == 32 and cfg["model"]["block_size"] == 51
    assert cfg["train"]["pkeep"] == -1 and cfg["train"]["betas"] == [0.5, 0.9]  # the original's AdamW betas
    assert cfg["text_encoder"] == {"name": "hashing", "dim": 32} and len(cfg["vq"]["sha256"]) == 64
    assert a["kind"] == "t2mgpt.gpt" and a["step"] == 12 and a["config"] == cfg["model"]
    assert a["vq"]["path"].endswith("best.pt") and a["mean"].shape == (263,)
    assert {"best.pt", "last.pt", "text_features.safetensors", "tb", "train.log"} <= {p.name for p in run.iterdir()}
    log = (run / "train.log").read_text()
    assert "step 12/12" in log and "sequences/s" in log and "distinct captions" in log


def test_fid_validation_hook_keeps_best_fid(prepared, tmp_path):
    from t2mgpt.generator.config import GPTConfig
    from t2mgpt.train.gpt_task import GPTTrainConfig, train_gpt

    data, vq, codes = prepared
    seen, fids = [], iter([3.0, 2.0, 2.5])

    def validate(models):  # stands in for t2mgpt.eval.validation (generates and decodes like it)
        feats = models.text_encoder.encode(["a person walks forward."])
        tokens = models.gpt.generate(feats, greedy=True)
        motion = models.vqvae.decode(tokens[0][None]) if len(tokens[0]) else None
        seen.append((models.gpt.training, None if motion is None else motion.shape[-1]))
        return {"fid": next(fids), "top1": 0.5}

    tc = GPTTrainConfig(iters=6, batch_size=8, eval_every=2, save_every=6, log_every=2)
    result = train_gpt(data, vq, tmp_path / "run", GPTConfig(embed_dim=32, num_layers=1, n_head=2, fc_rate=2),
                       tc, tokens=codes, text_encoder="hashing", device="cpu", progress=False,
                       fid_validation=lambda: validate)
    assert [s[1] for s in seen if s[1] is not None] and all(s[1] in (None, 263) for s in seen)
    assert len(seen) == 3 and result.best["fid"] == 2.0 and result.best["fid_step"] == 4
    assert safe_torch_load(tmp_path / "run" / "best_fid.pt")["step"] == 4
    assert [m["fid"] for m in metrics(tmp_path / "run", "eval").values()] == [3.0, 2.0, 2.5]


def test_cli_fid_validation_with_an_evaluator_folder(prepared, tmp_path, capsys):
    import warnings

    from t2mgpt.models.contrastive_evaluator import ContrastiveConfig, ContrastiveEvaluator, Vocabulary

    data = prepared[0]
    torch.manual_seed(0)  # an untrained evaluator is enough to exercise the wiring
    small = dict(dim_embed=16, dim_word=16, dim_text_hidden=16, dim_movement_enc_hidden=16,
                 dim_movement_latent=16, dim_motion_hidden=16)
    vocab = Vocabulary.build(["a person walks forward", "someone jumps up"])
    ContrastiveEvaluator(ContrastiveConfig(**small, vocab_size=len(vocab.words)), vocab, np.load(data / "Mean.npy"),
                         np.load(data / "Std.npy")).save(tmp_path / "ev")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny split: singular covariances
        assert train(prepared, tmp_path / "run", "--iters", "2", "--eval-every", "2",
                     "--evaluator", str(tmp_path / "ev")) == 0
    assert "best FID" in capsys.readouterr().out
    fid = metrics(tmp_path / "run", "eval")
    assert list(fid) == [2] and np.isfinite(fid[2]["fid"]) and "top1_real" in fid[2]
    assert safe_torch_load(tmp_path / "run" / "best_fid.pt")["best"]["fid"] == fid[2]["fid"]
    assert train(prepared, tmp_path / "r2", "--iters", "2", "--evaluator", str(tmp_path / "missing")) == 2
    assert "evaluator" in capsys.readouterr().err and not (tmp_path / "r2" / "config.json").exists()


def test_clear_errors_and_run_folder_safety(prepared, tmp_path, capsys):
    data, vq, codes = prepared
    run = tmp_path / "run"
    assert train(prepared, run, "--iters", "2", "--eval-every", "2") == 0
    before = (run / "last.pt").read_bytes()
    capsys.readouterr()
    assert train(prepared, run, "--iters", "2", "--pkeep", "0.9") == 2
    err = capsys.readouterr().err
    assert "already holds a training run" in err and "pkeep: 0.5 -> 0.9" in err
    assert train(prepared, run, "--iters", "4", "--pkeep", "0.9", "--resume") == 2
    assert "cannot resume" in capsys.readouterr().err
    assert (run / "last.pt").read_bytes() == before

    # codes of another VQ-VAE (other codebook size)
    assert main(["train-vq", "--data", str(data), "--out", str(tmp_path / "vq16"),
                 *VQ_TINY[:1], "16", *VQ_TINY[2:]]) == 0
    capsys.readouterr()
    assert main(["train-gpt", "--data", str(data), "--tokens", str(codes), "--vq", str(tmp_path / "vq16"),
                 "--out", str(tmp_path / "r2"), *GPT_TINY, "--iters", "1"]) == 2
    assert "codebook of 32 codes but the VQ-VAE" in capsys.readouterr().err
    # captions missing (neither in the dataset nor for the mirrors made by tokenize)
    import shutil

    bare, bare_codes = tmp_path / "bare", tmp_path / "bare_codes"
    bare.mkdir()
    for f in ("Mean.npy", "Std.npy", "train.txt", "val.txt"):
        shutil.copy(data / f, bare / f)
    shutil.copytree(codes, bare_codes, ignore=shutil.ignore_patterns("texts"))
    assert main(["train-gpt", "--data", str(bare), "--tokens", str(bare_codes), "--vq", str(vq),
                 "--out", str(tmp_path / "r3"), *GPT_TINY, "--iters", "1"]) == 2
    err = capsys.readouterr().err
    assert "no usable (caption, codes) pair" in err and "no caption" in err
    # text encoder not available here
    assert main(["train-gpt", "--data", str(data), "--tokens", str(codes), "--vq", str(vq), "--out",
                 str(tmp_path / "r4"), *GPT_SMALL, "--iters", "1", "--text-encoder", "clip",
                 "--clip-path", str(tmp_path / "no-clip")]) == 2
    assert "needs the clip-vit-b-32 text encoder" in capsys.readouterr().err
    assert train(prepared, tmp_path / "r5", "--iters", "1", "--text-encoder", "minilm", "--clip-dim", "32") == 2
    assert "does not fit the minilm text encoder" in capsys.readouterr().err
    assert not any((tmp_path / r / "config.json").exists() for r in ("r2", "r3", "r4", "r5"))


def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_folder(prepared, tmp_path, capsys):
    data, vq, _ = prepared
    run = tmp_path / "run"  # the codes are made into RUN/tokens, then the text encoder is missing
    assert main(["train-gpt", "--data", str(data), "--vq", str(vq), "--out", str(run), *GPT_SMALL, "--iters", "1",
                 "--text-encoder", "clip", "--clip-path", str(tmp_path / "no-clip")]) == 2
    assert "needs the clip-vit-b-32 text encoder" in capsys.readouterr().err
    assert not run.exists()


def test_config_files_and_flags(prepared, tmp_path):
    import dataclasses
    from pathlib import Path

    from t2mgpt.cli import build_parser
    from t2mgpt.commands.train_gpt import resolve_configs
    from t2mgpt.generator.config import GPTConfig
    from t2mgpt.train.gpt_config import MODEL_FLAGS

    defaults = GPTConfig()
    assert {f.name for f in MODEL_FLAGS} == {f.name for f in dataclasses.fields(GPTConfig)} - {"num_vq"}
    assert all(f.default == getattr(defaults, f.name) for f in MODEL_FLAGS)
    configs = Path(__file__).resolve().parents[1] / "configs"
    for name in ("gpt_humanml3d.json", "gpt_kit.json"):
        args = build_parser().parse_args(["train-gpt", "--data", "d", "--vq", "v", "--out", "o",
                                          "--config", str(configs / name)])
        model, tc, encoder, num_vq = resolve_configs(args)
        assert (model.embed_dim, model.num_layers, model.n_head, model.block_size, model.clip_dim) == (1024, 9, 16, 51, 512)
        assert (tc.iters, tc.batch_size, tc.lr, tc.lr_milestones, tc.gamma, tc.pkeep) == (300000, 128, 1e-4, [150000], 0.05, 0.5)
        assert (tc.betas, tc.weight_decay, tc.warmup_iters, encoder, num_vq) == ((0.5, 0.9), 1e-6, 0, "clip-vit-b-32", None)
    args = build_parser().parse_args(["train-gpt", "--data", "d", "--vq", "v", "--out", "o", "--config",
                                      str(configs / "gpt_humanml3d.json"), "--text-encoder", "minilm", "--pkeep", "-1",
                                      "--lr-milestones", "10", "20"])
    model, tc, encoder, _ = resolve_configs(args)
    assert (model.clip_dim, encoder, tc.pkeep, tc.lr_milestones) == (384, "minilm", -1, [10, 20])


def test_end_to_end_minilm_export_and_generate(prepared, tmp_path, capsys):
    """dataset -> train-vq -> tokenize (fixture) -> train-gpt (real MiniLM) -> export-model -> generate."""
    from safetensors import safe_open

    from t2mgpt import T2MGPT

    data, vq, codes = prepared
    run, model_dir = tmp_path / "gpt", tmp_path / "model"
    assert main(["train-gpt", "--data", str(data), "--vq", str(vq), "--out", str(run), *GPT_SMALL,  # codes made here
                 "--text-encoder", "minilm", "--iters", "4", "--eval-every", "2"]) == 0
    assert json.loads((run / "tokens" / "tokenize.json").read_text())["complete"]
    assert json.loads((run / "config.json").read_text())["text_encoder"] == {"name": "minilm", "dim": 384}
    assert main(["export-model", "--vq", str(vq), "--gpt", str(run), "--out", str(model_dir), "--half",
                 "--name", "tiny-e2e", "--card-notes", "Test export."]) == 0
    with safe_open(str(model_dir / "gpt.safetensors"), framework="pt") as f:
        assert f.get_tensor("head.weight").dtype == torch.float16
    pipe = T2MGPT.from_pretrained(model_dir, device="cpu")
    assert pipe.gpt.dtype == torch.float32 and pipe.config.text_encoder == "minilm" and pipe.name == "tiny-e2e"
    best = safe_torch_load(run / "best.pt")
    for k, v in pipe.gpt.state_dict().items():  # float16 round trip of the trained weights
        torch.testing.assert_close(v, best["model"][k].half().float())
    motions = pipe(["a person walks forward."], num_samples=2, seed=0, seconds=2.0)
    assert [m.joints.shape for m in motions[0]] == [(40, 22, 3)] * 2
    card = (model_dir / "README.md").read_text()
    assert "Test export." in card and "float16" in card and "validation loss" in card

    # a VQ-VAE other than the one the codes came from is refused
    from t2mgpt.tokenizer.vqvae import VQVAE

    other = VQVAE.load(vq / "best.pt")
    with torch.no_grad():
        other.quantizer.codebook[0] += 1e-3
    other.save(tmp_path / "other.pt")
    capsys.readouterr()
    assert main(["export-model", "--vq", str(tmp_path / "other.pt"), "--gpt", str(run), "--out", str(tmp_path / "m2")]) == 2
    assert "was trained on the codes of the VQ-VAE" in capsys.readouterr().err and not (tmp_path / "m2").exists()
    assert main(["export-model", "--vq", str(vq), "--gpt", str(run), "--out", str(model_dir)]) == 2  # exists
    # guidance needs a GPT trained with condition dropout: this run had none
    capsys.readouterr()
    assert main(["export-model", "--vq", str(vq), "--gpt", str(run), "--out", str(tmp_path / "m3"),
                 "--guidance-scale", "2"]) == 2
    assert "--cond-drop" in capsys.readouterr().err and not (tmp_path / "m3").exists()

    # the model card: an evaluation table from `evaluate --json-out` results, licence and data text from files
    from t2mgpt.eval.result import EvaluationResult

    res = EvaluationResult("generation", model={"fid": [0.5, 0.7], "top1": [0.2, 0.2]},
                           ground_truth={"fid": [0.01, 0.01], "top1": [0.3, 0.3]},
                           info={"split": "test", "entries": 99, "batch_size": 32})
    res.write_json(tmp_path / "gen.json")
    (tmp_path / "licence.md").write_text("Free for all uses.\n")
    assert main(["export-model", "--vq", str(vq), "--gpt", str(run), "--out", str(tmp_path / "m3"),
                 "--evaluation", str(tmp_path / "gen.json"), "--license-file", str(tmp_path / "licence.md"),
                 "--trained-on", "Tiny synthetic data."]) == 0
    card = (tmp_path / "m3" / "README.md").read_text()
    assert "| Generated | 0.600 ± 0.139 | 0.200 ± 0.000 |" in card and "| Real motion | 0.010 ± 0.000 |" in card
    assert "Free for all uses." in card and "Tiny synthetic data." in card
    assert T2MGPT.from_pretrained(tmp_path / "m3").config.card.evaluation.startswith("| | FID | Top-1 |")
    capsys.readouterr()
    assert main(["export-model", "--vq", str(vq), "--gpt", str(run), "--out", str(tmp_path / "m4"),
                 "--evaluation", str(tmp_path / "licence.md")]) == 2
    assert "not a `t2mgpt evaluate --json-out` result" in capsys.readouterr().err and not (tmp_path / "m4").exists()
    assert main(["export-model", "--vq", str(vq), "--gpt", str(run), "--out", str(tmp_path / "m4"),
                 "--license-file", str(tmp_path / "missing.md")]) == 2
    assert "cannot read --license-file" in capsys.readouterr().err and not (tmp_path / "m4").exists()
    assert main(["export-model", "--vq", str(vq), "--gpt", str(run), "--out", str(tmp_path / "m4"),
                 "--card-notes", "x", "--card-notes-file", str(tmp_path / "licence.md")]) == 2
    assert "not both" in capsys.readouterr().err and not (tmp_path / "m4").exists()


def test_init_from_a_model_folder_and_cond_drop(prepared, tmp_path, capsys):
    """--init-from starts from another model's GPT weights (fine-tuning); --cond-drop trains a share
    of samples with the zero text feature (classifier-free guidance's unconditional input)."""
    data, vq, _ = prepared
    common = ["--log-every", "1", "--eval-every", "4", "--save-every", "4"]
    assert train(prepared, tmp_path / "a", "--iters", "4", *common) == 0
    assert main(["export-model", "--vq", str(vq), "--gpt", str(tmp_path / "a"), "--checkpoint", "last",
                 "--out", str(tmp_path / "model")]) == 0
    assert train(prepared, tmp_path / "b", "--iters", "4", "--init-from", str(tmp_path / "model"), *common) == 0
    val_a, val_b = metrics(tmp_path / "a", "val"), metrics(tmp_path / "b", "val")
    assert val_b[0]["loss"] == pytest.approx(val_a[4]["loss"], rel=1e-6)  # b starts where a ended
    assert val_b[0]["loss"] < val_a[0]["loss"]

    assert train(prepared, tmp_path / "c", "--iters", "4", "--cond-drop", "0.5", *common) == 0
    assert metrics(tmp_path / "c")[1]["loss"] != metrics(tmp_path / "a")[1]["loss"]  # other inputs, same seed
    assert json.loads((tmp_path / "c" / "config.json").read_text())["train"]["cond_drop"] == 0.5
    capsys.readouterr()
    # best-of-k scores candidates against the unconditional prediction: only for cond-drop GPTs
    assert main(["export-model", "--vq", str(vq), "--gpt", str(tmp_path / "a"), "--checkpoint", "last",
                 "--out", str(tmp_path / "best_of"), "--candidates", "4"]) == 2
    assert "without condition dropout" in capsys.readouterr().err and not (tmp_path / "best_of").exists()
    assert main(["export-model", "--vq", str(vq), "--gpt", str(tmp_path / "c"), "--checkpoint", "last",
                 "--out", str(tmp_path / "best_of"), "--candidates", "4"]) == 0
    assert json.loads((tmp_path / "best_of" / "config.json").read_text())["sampling"]["candidates"] == 4
    capsys.readouterr()
    assert main(["export-model", "--vq", str(vq), "--gpt", str(tmp_path / "c"), "--checkpoint", "last",
                 "--out", str(tmp_path / "judged"), "--candidates", "4", "--critic", str(tmp_path / "a")]) == 2
    assert "is not a folder made by `t2mgpt train-evaluator`" in capsys.readouterr().err
    assert not (tmp_path / "judged").exists()
    assert train(prepared, tmp_path / "d", "--iters", "4", "--cond-drop", "1.0") == 2
    assert "cond_drop must be in [0, 1)" in capsys.readouterr().err
    assert train(prepared, tmp_path / "e", "--iters", "4", "--embed-dim", "64", "--init-from",
                 str(tmp_path / "model")) == 2
    assert "does not match this run's model sizes" in capsys.readouterr().err


def test_export_with_a_decoder_only_fine_tuning_of_the_vq(prepared, tmp_path, capsys):
    """A decoder fine-tuned with --decoder-only (same encoder and codebook: same codes) goes with a
    GPT trained on the original VQ-VAE's codes; a VQ-VAE fine-tuned as a whole does not."""
    from t2mgpt import T2MGPT
    from t2mgpt.tokenizer.receptive_field import receptive_field

    data, vq, _ = prepared
    assert train(prepared, tmp_path / "gpt", "--iters", "2", "--eval-every", "2") == 0
    tune = ["--data", str(data), "--init-from", str(vq), "--batch-size", "8", "--window-size", "32", "--iters", "3",
            "--eval-every", "3", "--device", "cpu", "--no-progress"]
    assert main(["train-vq", "--out", str(tmp_path / "dec"), "--decoder-only", "--decoder-lookahead", "2", *tune]) == 0
    assert main(["export-model", "--vq", str(tmp_path / "dec"), "--gpt", str(tmp_path / "gpt"),
                 "--out", str(tmp_path / "model")]) == 0
    pipe = T2MGPT.from_pretrained(tmp_path / "model", device="cpu")
    assert json.loads((tmp_path / "model" / "config.json").read_text())["vqvae"]["decoder_lookahead"] == 2
    assert receptive_field(pipe.vqvae.decoder, 4).right <= 2
    assert main(["train-vq", "--out", str(tmp_path / "all"), *tune]) == 0  # encoder and codebook move too
    capsys.readouterr()
    assert main(["export-model", "--vq", str(tmp_path / "all"), "--gpt", str(tmp_path / "gpt"),
                 "--out", str(tmp_path / "m2")]) == 2
    assert "was trained on the codes of the VQ-VAE" in capsys.readouterr().err


def test_export_takes_the_gpt_of_a_model_folder(prepared, tmp_path, capsys):
    """--gpt MODEL_FOLDER: its GPT, text encoder, statistics and card text, with a decoder-only
    fine-tuning of its VQ-VAE; any other VQ-VAE is refused."""
    from t2mgpt import T2MGPT

    data, vq, _ = prepared
    assert train(prepared, tmp_path / "gpt", "--iters", "2", "--eval-every", "2") == 0
    assert main(["export-model", "--vq", str(vq), "--gpt", str(tmp_path / "gpt"), "--out", str(tmp_path / "a"),
                 "--license", "CC0-1.0"]) == 0
    assert main(["train-vq", "--data", str(data), "--out", str(tmp_path / "dec"), "--init-from", str(tmp_path / "a"),
                 "--decoder-only", "--decoder-lookahead", "0", "--batch-size", "8", "--window-size", "32",
                 "--iters", "2", "--eval-every", "2", "--device", "cpu", "--no-progress"]) == 0
    assert main(["export-model", "--vq", str(tmp_path / "dec"), "--gpt", str(tmp_path / "a"),
                 "--out", str(tmp_path / "b"), "--half"]) == 0
    a, b = T2MGPT.from_pretrained(tmp_path / "a"), T2MGPT.from_pretrained(tmp_path / "b")
    assert b.vqvae.config.decoder_lookahead == 0 and a.vqvae.config.decoder_lookahead is None
    assert b.config.card.license == "CC0-1.0" and "reads at most 0 codes ahead" in b.config.card.notes
    for k, v in a.gpt.state_dict().items():
        torch.testing.assert_close(b.gpt.state_dict()[k], v.half().float())
    np.testing.assert_array_equal(b.normalizer.mean, a.normalizer.mean)
    capsys.readouterr()
    assert main(["export-model", "--vq", str(tmp_path / "dec"), "--gpt", "t2mgpt-cmu-demo", "--out",
                 str(tmp_path / "c")]) == 2
    assert "was trained on the codes of the VQ-VAE" in capsys.readouterr().err and not (tmp_path / "c").exists()


def test_codes_of_an_older_tokenize_still_match_their_vq(tmp_path):
    """A tokenize.json written before a VQ-VAE config field existed (here decoder_lookahead)
    names the same codes; a different encoder size does not."""
    from t2mgpt.errors import DataError
    from t2mgpt.tokenizer.vqvae import VQVAE, VQVAEConfig
    from t2mgpt.train.gpt_task import check_tokens

    vq = VQVAE(VQVAEConfig(input_dim=263, nb_code=32, code_dim=16, output_emb_width=16, width=16, depth=1))
    older = vq.config_dict()
    older.pop("decoder_lookahead")
    tokens = tmp_path / "tokens"
    tokens.mkdir()

    def manifest(config):
        (tokens / "tokenize.json").write_text(json.dumps({"complete": True, "nb_code": 32, "frames_per_code": 4,
                                                          "vq": str(tmp_path / "vq.pt"), "vq_config": config}))

    for same in (older, {**older, "decoder_lookahead": 4}):  # the decoder's padding does not change codes
        manifest(same)
        assert check_tokens(tokens, vq, tmp_path / "vq.pt") is None
    manifest({**older, "width": 32})
    with pytest.raises(DataError, match="another configuration"):
        check_tokens(tokens, vq, tmp_path / "vq.pt")
