"""Quantizer behaviour: first-batch init, EMA math, dead-code reset, state round trip, gradients."""
from __future__ import annotations

import copy
import math

import pytest
import torch

from t2mgpt.errors import InputError
from t2mgpt.tokenizer.quantizers import QUANTIZERS, make_quantizer, register
from t2mgpt.tokenizer.quantizers.ema import QuantizeEMA
from t2mgpt.tokenizer.quantizers.ema_reset import QuantizeEMAReset
from t2mgpt.tokenizer.quantizers.orig import QuantizeOrig
from t2mgpt.tokenizer.quantizers.reset import QuantizeReset
from t2mgpt.tokenizer.config import VQVAEConfig
from t2mgpt.tokenizer.vqvae import VQVAE



def as_bct(values) -> torch.Tensor:
    """A list of scalars -> (1, 1, N) encoder output with code_dim 1."""
    return torch.tensor(values, dtype=torch.float32).view(1, 1, -1)


def test_ema_reset_hand_checked():
    q = QuantizeEMAReset(nb_code=2, code_dim=1, mu=0.5).train()
    assert not q.initialized

    # step 1: codebook := first batch [0, 1]; codes 0,1,1,1; sums [0, 22], counts [1, 3]
    _, _, _, ppl = q(as_bct([0.0, 1.0, 10.0, 11.0]))
    assert q.initialized
    torch.testing.assert_close(q.code_sum.view(-1), torch.tensor([0.5 * 0 + 0.5 * 0, 0.5 * 1 + 0.5 * 22]))
    torch.testing.assert_close(q.code_count, torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(q.codebook.view(-1), torch.tensor([0.0, 11.5 / 2]))
    p = torch.tensor([0.25, 0.75])
    assert ppl.item() == pytest.approx(math.exp(-(p * torch.log(p + 1e-7)).sum().item()), rel=1e-6)
    assert q.usage.item() == 1.0

    # step 2: both inputs go to code 1; code 0's EMA count drops to 0.5 < 1 -> reset to an input
    q(as_bct([5.0, 6.0]))
    torch.testing.assert_close(q.code_count, torch.tensor([0.5, 2.0]))
    torch.testing.assert_close(q.codebook.view(-1), torch.tensor([5.0, (0.5 * 11.5 + 0.5 * 11) / 2]))
    assert q.usage.item() == 0.5


def test_ema_without_reset_keeps_dead_codes():
    q = QuantizeEMA(nb_code=2, code_dim=1, mu=0.5).train()
    q(as_bct([0.0, 1.0, 10.0, 11.0]))
    q(as_bct([5.0, 6.0]))
    torch.testing.assert_close(q.codebook.view(-1), torch.tensor([0.0, (0.5 * 11.5 + 0.5 * 11) / 2]))


def test_init_tiles_small_first_batch():
    torch.manual_seed(0)
    q = QuantizeEMAReset(nb_code=10, code_dim=4).train()
    x = torch.randn(1, 4, 3)  # 3 vectors for 10 codes
    q._maybe_init(x.permute(0, 2, 1).reshape(3, 4))
    rows = x[0].t()  # (3, 4)
    expected = rows.repeat(4, 1)[:10]
    assert (q.codebook - expected).abs().max() < 0.05  # copies plus noise of std 0.01/sqrt(4)
    assert not torch.equal(q.codebook[0], q.codebook[3])  # the noise separates the copies


def test_dead_codes_are_replaced_by_encoder_outputs():
    torch.manual_seed(0)
    q = QuantizeEMAReset(nb_code=32, code_dim=4, mu=0.99).train()
    q(torch.randn(2, 4, 32))  # init from 64 vectors
    before = q.codebook.clone()
    x = torch.randn(2, 4, 40) * 0.1 + 5.0  # a far-away cluster: a few codes catch all of it
    q(x)
    flat = x.permute(0, 2, 1).reshape(-1, 4)  # (80, 4); with >= nb_code inputs the candidates are flat[:32]
    dead = q.code_count < 1.0
    assert 16 < dead.sum() < 32
    torch.testing.assert_close(q.codebook[dead], flat[:32][dead], rtol=0, atol=0)
    assert (torch.cdist(before[dead], flat).min(1).values > 2).all()  # they really moved onto the data
    alive = ~dead
    torch.testing.assert_close(q.codebook[alive], (q.code_sum / q.code_count[:, None])[alive])


def test_reset_quantizer_replaces_unused_and_keeps_parameter_identity():
    torch.manual_seed(0)
    q = QuantizeReset(nb_code=8, code_dim=2).train()
    param = q.codebook
    x = torch.randn(1, 2, 16)
    q(x)
    assert q.codebook is param  # in-place init: an optimizer built before keeps working
    flat = x[0].t()
    # after init every code equals one input; after the update unused codes equal one input too
    assert (torch.cdist(q.codebook.detach(), flat).min(1).values < 1e-6).all()
    _, _, loss, _ = q(x)
    loss.backward()
    assert q.codebook.grad is not None and q.codebook.grad.abs().sum() > 0


def test_orig_quantizer_losses_and_codebook_gradient():
    torch.manual_seed(0)
    q = QuantizeOrig(nb_code=8, code_dim=3, beta=1.0).train()
    z = torch.randn(2, 3, 5, requires_grad=True)
    zq, _, loss, ppl = q(z)
    flat = z.detach().permute(0, 2, 1).reshape(-1, 3)
    codebook = q.codebook.detach()
    e = codebook[torch.cdist(flat, codebook).argmin(1)]  # nearest codes
    torch.testing.assert_close(loss, 2 * ((flat - e) ** 2).mean())
    loss.backward()
    assert q.codebook.grad.abs().sum() > 0
    assert 1.0 <= ppl.item() <= 8.0


def test_straight_through_gradient():
    torch.manual_seed(0)
    q = QuantizeEMAReset(nb_code=8, code_dim=3).train()
    z = torch.randn(2, 3, 5, requires_grad=True)
    zq, _, _, _ = q(z)
    w = torch.randn_like(zq)
    (zq * w).sum().backward()
    torch.testing.assert_close(z.grad, w)  # identity gradient through the lookup

    model = VQVAE(VQVAEConfig(nb_code=8, code_dim=8, output_emb_width=8, width=8, depth=1))
    recon, commit, _ = model(torch.randn(2, 8, 263))
    (recon.square().mean() + commit).backward()
    assert model.encoder.model[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("quantizer", ["ema_reset", "ema", "reset", "orig"])
def test_state_dict_round_trip_continues_identically(quantizer):
    cfg = VQVAEConfig(nb_code=16, code_dim=8, output_emb_width=8, width=8, depth=1, quantizer=quantizer)
    torch.manual_seed(0)
    data = [torch.randn(2, 8, 263) for _ in range(4)]

    def step(model, opt, x):
        recon, commit, ppl = model(x)
        loss = (recon - x).abs().mean() + 0.02 * commit
        opt.zero_grad()
        loss.backward()
        opt.step()
        return recon.detach(), ppl.detach()

    a = VQVAE(cfg)
    opt_a = torch.optim.AdamW(a.parameters(), lr=1e-3)
    for x in data[:2]:
        step(a, opt_a, x)
    # deepcopy: state_dict() returns live references that further training would overwrite
    state = copy.deepcopy({"model": a.state_dict(), "opt": opt_a.state_dict(), "rng": torch.get_rng_state()})
    assert any(k.endswith("initialized") for k in state["model"]) or quantizer == "orig"
    ref = [step(a, opt_a, x) for x in data[2:]]

    b = VQVAE(cfg)
    b.load_state_dict(state["model"])
    opt_b = torch.optim.AdamW(b.parameters(), lr=1e-3)
    opt_b.load_state_dict(state["opt"])
    torch.set_rng_state(state["rng"])
    got = [step(b, opt_b, x) for x in data[2:]]
    for (ra, pa), (rb, pb) in zip(ref, got):
        torch.testing.assert_close(ra, rb, rtol=0, atol=0)
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k


@pytest.mark.parametrize("quantizer", ["ema_reset", "ema", "reset", "orig"])
def test_forward_returns_the_indices_of_the_quantized_vectors(quantizer):
    cfg = VQVAEConfig(nb_code=16, code_dim=8, output_emb_width=8, width=8, depth=1, quantizer=quantizer)
    torch.manual_seed(0)
    model = VQVAE(cfg).train()
    model(torch.randn(4, 16, 263))  # initialise the codebook from data
    q = model.quantizer.eval()
    z = torch.randn(3, 8, 5)
    zq, idx, _, _ = q(z)
    assert idx.shape == (3, 5) and idx.dtype == torch.long
    flat = z.permute(0, 2, 1).reshape(-1, 8)
    nearest = torch.cdist(flat, q.codebook.detach()).argmin(1)
    assert torch.equal(idx.flatten(), nearest)
    torch.testing.assert_close(zq, q.codebook.detach()[idx].permute(0, 2, 1))


def test_encode_gives_the_forward_indices_and_never_moves_the_codebook():
    torch.manual_seed(0)
    model = VQVAE(VQVAEConfig(nb_code=16, code_dim=8, output_emb_width=8, width=8, depth=1)).train()
    x = torch.randn(2, 16, 263)
    model(x)
    before = copy.deepcopy(model.quantizer.state_dict())
    codes = model.encode(x)  # in training mode: must not update the EMA codebook
    assert model.quantizer.training
    for k, v in model.quantizer.state_dict().items():
        assert torch.equal(v, before[k]), k
    z = model.encoder(x.permute(0, 2, 1))
    assert torch.equal(codes, model.quantizer.eval()(z)[1])


def test_decode_rejects_end_and_pad_ids_naming_them():
    model = VQVAE(VQVAEConfig(nb_code=16, code_dim=8, output_emb_width=8, width=8, depth=1))
    with pytest.raises(InputError, match=r"\[0, 16\).*END=16.*PAD=17"):
        model.decode(torch.tensor([[3, 16]]))


def test_a_new_quantizer_joins_by_registering_itself():
    """What a new file in tokenizer/quantizers/ does: subclass, register, done."""

    @register("sign_test")
    class QuantizeSign(QuantizeEMAReset):  # e.g. a variant with a different update rule
        pass

    try:
        assert make_quantizer("sign_test", 8, 4).__class__ is QuantizeSign
        model = VQVAE(VQVAEConfig(nb_code=8, code_dim=8, output_emb_width=8, width=8, depth=1, quantizer="sign_test"))
        assert isinstance(model.quantizer, QuantizeSign)
        recon, _, _ = model.train()(torch.randn(2, 8, 263))
        assert recon.shape == (2, 8, 263)
        assert model.encode(torch.randn(1, 8, 263)).shape == (1, 2)
    finally:
        del QUANTIZERS["sign_test"]
    with pytest.raises(InputError, match="quantizer must be one of"):
        VQVAEConfig(quantizer="sign_test")
