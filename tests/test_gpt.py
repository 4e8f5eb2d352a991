"""MotionGPT: parity with the original code, KV-cache equivalence, checkpoint import, input checks."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.generator.attention import KVCache
from t2mgpt.generator.config import GPTConfig
from t2mgpt.generator.gpt import MotionGPT, sinusoidal_positions

TINY = GPTConfig(num_vq=16, embed_dim=32, clip_dim=8, block_size=21, num_layers=1, n_head=4)



def end_prone_model(end_bias: float = 2.0, seed: int = 0) -> MotionGPT:
    """Tiny random model whose greedy decodes stop (END) at prompt-dependent lengths."""
    torch.manual_seed(seed)
    model = MotionGPT(TINY).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(15.0)  # far from init scale, so the text matters
        model.ln_f.weight[0], model.ln_f.bias[0] = 0.0, 1.0  # a constant feature...
        model.head.weight[TINY.vocab.end, 0] += end_bias  # ...that raises the END logit
    return model


@pytest.fixture(scope="module")
def ref(ref_dir):
    hparams = json.loads((ref_dir / "ref_gpt.json").read_text())
    io = dict(np.load(ref_dir / "ref_gpt_io.npz"))
    model = MotionGPT.from_original(ref_dir / "ref_gpt.pth", **hparams)
    return model, io, hparams


# ------------------------------------------------------------------ parity with the original


def test_logits_match_original(ref):
    model, io, _ = ref
    with torch.no_grad():
        logits = model(torch.from_numpy(io["idx"]), torch.from_numpy(io["clip_feature"]))
    assert logits.shape == (3, 21, 65)
    torch.testing.assert_close(logits, torch.from_numpy(io["logits"]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_matches_original_one_at_a_time_and_batched(ref, use_cache):
    model, io, _ = ref
    text = torch.from_numpy(io["clip_feature"])
    expected = [io[f"greedy_{i}"][0] for i in range(3)]
    batched = model.generate(text, greedy=True, use_cache=use_cache)
    for i in range(3):
        alone = model.generate(text[i:i + 1], greedy=True, use_cache=use_cache)
        assert len(alone) == 1
        np.testing.assert_array_equal(alone[0].numpy(), expected[i])
        np.testing.assert_array_equal(batched[i].numpy(), expected[i])
        assert batched[i].dtype == torch.long


def test_positions_are_the_original_sinusoids(ref_dir):
    sd = torch.load(ref_dir / "ref_gpt.pth", weights_only=True)["trans"]
    torch.testing.assert_close(sinusoidal_positions(51, 64), sd["trans_base.pos_embed.embed"][:, 0], rtol=0, atol=1e-6)


def test_original_state_dict_round_trip(ref, ref_dir, tmp_path):
    model, io, hparams = ref
    sd = model.original_state_dict()
    original = torch.load(ref_dir / "ref_gpt.pth", weights_only=True)["trans"]
    assert set(sd) == set(original)
    for k in original:
        if k != "trans_base.pos_embedding.weight":  # unused by the original forward
            torch.testing.assert_close(sd[k], original[k], rtol=0, atol=0)
    torch.save({"trans": sd}, tmp_path / "export.pth")
    again = MotionGPT.from_original(tmp_path / "export.pth", n_head=hparams["n_head"])  # sizes inferred
    assert again.config == model.config
    x = torch.from_numpy(io["clip_feature"])
    with torch.no_grad():
        torch.testing.assert_close(again(torch.from_numpy(io["idx"]), x), model(torch.from_numpy(io["idx"]), x))


# ------------------------------------------------------------------ structure


def test_released_size_and_layout():
    with torch.device("meta"):
        model = MotionGPT()  # released HumanML3D configuration
    assert len(model.base_blocks) == 9 and len(model.head_blocks) == 9
    assert model.tok_emb.num_embeddings == 514 and model.head.out_features == 513 and model.head.bias is None
    assert 225e6 < model.num_params() < 240e6


def test_causal_and_cache_forward_equal_full_forward():
    torch.manual_seed(1)
    model = MotionGPT(TINY).eval()
    text = torch.randn(2, TINY.clip_dim)
    codes = torch.randint(0, TINY.vocab.pad + 1, (2, 12))
    with torch.no_grad():
        full = model(codes, text)  # (2, 13, 17)
        changed = codes.clone()
        changed[:, 7:] = (changed[:, 7:] + 1) % TINY.num_vq
        # a later code never changes earlier logits
        torch.testing.assert_close(model(changed, text)[:, :8], full[:, :8])
        # feeding the sequence in chunks through the KV cache gives the same logits
        cache = KVCache(2 * TINY.num_layers, 2, TINY.n_head, TINY.block_size, TINY.embed_dim // TINY.n_head,
                        model.device, model.dtype)
        x = model._embed(text, codes)
        parts = [model._logits(model._transform(x[:, a:b], cache)) for a, b in [(0, 5), (5, 6), (6, 13)]]
        torch.testing.assert_close(torch.cat(parts, dim=1), full, rtol=1e-5, atol=1e-5)


def test_dropout_only_in_training():
    torch.manual_seed(2)
    model = MotionGPT(TINY, drop_out_rate=0.5)
    text, codes = torch.randn(2, TINY.clip_dim), torch.randint(0, TINY.num_vq, (2, 6))
    model.train()
    assert not torch.allclose(model(codes, text), model(codes, text))
    model.eval()
    torch.testing.assert_close(model(codes, text), model(codes, text), rtol=0, atol=0)


# ------------------------------------------------------------------ bad inputs


def test_bad_inputs_raise_input_error():
    model = MotionGPT(TINY).eval()
    text = torch.randn(2, TINY.clip_dim)
    with pytest.raises(InputError, match=r"\(batch, 8\)"):
        model(torch.zeros(2, 3, dtype=torch.long), torch.randn(2, 512))
    with pytest.raises(InputError, match="block_size - 1 = 20"):
        model(torch.zeros(2, 21, dtype=torch.long), text)
    bad = text.clone()
    bad[1, 3] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        model(torch.zeros(2, 3, dtype=torch.long), bad)
    with pytest.raises(InputError, match="NaN"):
        model.generate(bad)
    with pytest.raises(InputError, match=r"\(batch, 8\)"):
        model.generate(torch.randn(3, 7))
    with pytest.raises(InputError, match="code indices"):
        model(torch.full((2, 3), TINY.vocab.pad + 1), text)
    with pytest.raises(InputError, match="shape"):
        model(torch.zeros(3, 3, dtype=torch.long), text)
    with pytest.raises(InputError, match="max_tokens"):
        model.generate(text, max_tokens=TINY.block_size)
    with pytest.raises(InputError, match="temperature"):
        model.generate(text, temperature=0)
    with pytest.raises(InputError, match="top_p"):
        model.generate(text, top_p=1.5)
    with pytest.raises(InputError):
        GPTConfig(embed_dim=30, n_head=4)


# ------------------------------------------------------------------ checkpoint import errors


def test_from_original_errors(ref_dir, tmp_path):
    hp = json.loads((ref_dir / "ref_gpt.json").read_text())
    path = ref_dir / "ref_gpt.pth"
    with pytest.raises(CheckpointError, match="num_layers"):
        MotionGPT.from_original(path, **{**hp, "num_layers": 9})
    with pytest.raises(CheckpointError, match="embed_dim"):
        MotionGPT.from_original(path, **{**hp, "embed_dim": 1024})
    with pytest.raises(CheckpointError, match="num_vq"):
        MotionGPT.from_original(path, **{**hp, "nb_code": 512})  # original CLI spelling
    with pytest.raises(CheckpointError, match="n_head"):
        MotionGPT.from_original(path, **{**hp, "n_head": 5})
    with pytest.raises(CheckpointError, match="pass n_head"):
        MotionGPT.from_original(path)  # width 64: the head count cannot be guessed
    with pytest.raises(InputError, match="unknown hyper-parameter"):
        MotionGPT.from_original(path, heads=4)
    with pytest.raises(CheckpointError, match="not found"):
        MotionGPT.from_original(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        MotionGPT.from_original(tmp_path / "junk.pth")
    torch.save({"net": {"vqvae.encoder.w": torch.zeros(1)}}, tmp_path / "vq.pth")
    with pytest.raises(CheckpointError, match="VQ-VAE"):
        MotionGPT.from_original(tmp_path / "vq.pth")
    sd = torch.load(path, weights_only=True)["trans"]
    incomplete = {k: v for k, v in sd.items() if "trans_head.blocks.1.mlp" not in k}
    torch.save({"trans": incomplete}, tmp_path / "incomplete.pth")
    with pytest.raises(CheckpointError, match="missing"):
        MotionGPT.from_original(tmp_path / "incomplete.pth", **hp)
    broken = dict(sd, **{"trans_base.cond_emb.bias": torch.full((64,), float("nan"))})
    torch.save({"trans": broken}, tmp_path / "nan.pth")
    with pytest.raises(CheckpointError, match="NaN"):
        MotionGPT.from_original(tmp_path / "nan.pth", **hp)


def test_lazy_export():
    import t2mgpt

    assert t2mgpt.MotionGPT is MotionGPT and t2mgpt.GPTConfig is GPTConfig
