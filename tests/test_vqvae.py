"""VQ-VAE: parity with the original code, shapes, round trips, checkpoint errors, loss."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from t2mgpt.errors import CheckpointError, InputError
from t2mgpt.losses import VQLoss, feature_dim
from t2mgpt.tokenizer.config import VQVAEConfig
from t2mgpt.tokenizer.vqvae import VQVAE



@pytest.fixture(scope="module")
def ref(ref_dir):
    hp = json.loads((ref_dir / "ref_vqvae_t2m.json").read_text())
    io = dict(np.load(ref_dir / "ref_vqvae_t2m_io.npz"))
    return ref_dir / "ref_vqvae_t2m.pth", hp, io


def tiny(**kw) -> VQVAE:
    cfg = dict(input_dim=263, nb_code=16, code_dim=8, output_emb_width=8, width=16, depth=2)
    return VQVAE(VQVAEConfig(**{**cfg, **kw}))


def check_parity(model, io):
    x = torch.from_numpy(io["x"])
    codes = model.encode(x)
    assert codes.dtype == torch.long and torch.equal(codes, torch.from_numpy(io["code_idx"]).long())
    with torch.no_grad():
        recon, commit, ppl = model(x)
        dec = model.decode(torch.from_numpy(io["code_idx"][:1]))
    np.testing.assert_allclose(recon.numpy(), io["recon"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(commit.item(), io["commit_loss"], rtol=1e-5)
    np.testing.assert_allclose(ppl.item(), io["perplexity"], rtol=1e-5)
    np.testing.assert_allclose(dec.numpy(), io["decoded_from_idx0"], rtol=1e-5, atol=1e-5)


def test_parity_with_original(ref):
    path, hp, io = ref
    model = VQVAE.from_original(path, **hp).eval()
    assert model.config.input_dim == 263 and model.config.nb_code == hp["nb_code"]
    check_parity(model, io)


def test_sizes_inferred_from_weights(ref):
    path, hp, io = ref
    model = VQVAE.from_original(path).eval()  # no hparams: sizes come from the shapes
    assert (model.config.width, model.config.depth, model.config.down_t) == (hp["width"], hp["depth"], hp["down_t"])
    check_parity(model, io)


def test_original_layout_and_own_format_round_trip(ref, tmp_path):
    path, hp, io = ref
    model = VQVAE.from_original(path, **hp).eval()
    original = torch.load(path, weights_only=True)["net"]
    exported = model.original_state_dict()
    assert exported.keys() == original.keys()
    assert all(torch.equal(exported[k], original[k]) for k in original)

    model.save(tmp_path / "vq.pt")
    again = VQVAE.load(tmp_path / "vq.pt").eval()
    assert again.config == model.config
    check_parity(again, io)
    assert VQVAE.from_config_dict(model.config_dict()).config == model.config


@pytest.mark.parametrize("down_t,activation,norm", [(1, "relu", None), (2, "silu", "LN"), (3, "gelu", "GN"),
                                                    (2, "relu", "BN")])
def test_shapes_and_encode_decode_consistent_with_forward(down_t, activation, norm):
    torch.manual_seed(0)
    model = tiny(down_t=down_t, activation=activation, norm=norm, width=32)
    f = 2**down_t
    x = torch.randn(3, 8 * f, 263)
    recon, commit, ppl = model(x)  # training mode: initialises the codebook
    assert recon.shape == x.shape and commit.ndim == 0 and ppl.ndim == 0
    recon.mean().backward()

    model.eval()
    codes = model.encode(x)
    assert codes.shape == (3, 8) and 0 <= codes.min() and codes.max() < 16
    with torch.no_grad():
        recon, _, _ = model(x)
    torch.testing.assert_close(model.decode(codes), recon)
    assert model.encode(x[:, :-1]).shape == (3, 8 - 1)  # any length >= f: floor(T / f) codes


def test_bad_inputs_raise_input_error():
    model = tiny().eval()
    with pytest.raises(InputError, match="263"):
        model.encode(torch.randn(1, 16, 251))
    with pytest.raises(InputError, match="multiple of 4"):
        model(torch.randn(1, 18, 263))
    with pytest.raises(InputError, match=r"\[0, 16\)"):
        model.decode(torch.tensor([[0, 16]]))
    with pytest.raises(InputError, match="code_dim"):
        VQVAEConfig(code_dim=256)
    with pytest.raises(InputError, match="quantizer"):
        VQVAEConfig(quantizer="kmeans")


def test_bad_checkpoints(ref, tmp_path):
    path, hp, _ = ref
    junk = tmp_path / "junk.pth"
    junk.write_bytes(np.random.default_rng(0).bytes(2048))
    with pytest.raises(CheckpointError, match="junk.pth"):
        VQVAE.from_original(junk)

    torch.save({"model": {"w": torch.zeros(2)}}, tmp_path / "nonet.pth")
    with pytest.raises(CheckpointError, match="'net'"):
        VQVAE.from_original(tmp_path / "nonet.pth")

    torch.save({"trans": {"w": torch.zeros(2)}}, tmp_path / "gpt.pth")
    with pytest.raises(CheckpointError, match="transformer"):
        VQVAE.from_original(tmp_path / "gpt.pth")

    with pytest.raises(CheckpointError, match="width=512 was given but the weights have width=48"):
        VQVAE.from_original(path, **{**hp, "width": 512})
    with pytest.raises(CheckpointError, match="dataname='t2m'"):
        VQVAE.from_original(path, **{**hp, "dataname": "kit"})
    with pytest.raises(CheckpointError, match="nb_code"):
        VQVAE.from_original(path, **{**hp, "nb_code": 512})

    sd = torch.load(path, weights_only=True)["net"]
    del sd["vqvae.decoder.model.6.weight"]
    torch.save({"net": sd}, tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match="decoder.*model.6.weight"):
        VQVAE.from_original(tmp_path / "missing.pth", **hp)


def test_vq_loss_terms():
    torch.manual_seed(0)
    gt = torch.randn(2, 8, 263)
    pred = gt.clone()
    pred[..., 4:67] += 0.5  # only the ric channels (21 joints x 3) are off, by less than 1
    loss = VQLoss(nb_joints=22)
    total, parts = loss(pred, gt, torch.tensor(2.0))
    smooth = 0.5 * 0.5**2  # smooth-L1 below beta=1 is 0.5 x^2
    torch.testing.assert_close(parts["vel"], torch.tensor(smooth))
    torch.testing.assert_close(parts["recons"], torch.tensor(smooth * 63 / 263))
    torch.testing.assert_close(total, parts["recons"] + 0.02 * 2.0 + 0.5 * parts["vel"])
    assert feature_dim(21) == 251 and VQLoss(nb_joints=21).ric == slice(4, 64)
