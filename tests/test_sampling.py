"""MotionGPT.generate: cache vs recompute, per-row END, min/max tokens, top-k/top-p, seeds."""
from __future__ import annotations

import pytest
import torch

from t2mgpt.generator.config import GPTConfig

from t2mgpt.generator.gpt import MotionGPT
from t2mgpt.generator.sampling import filter_logits, sample_with_uniforms

TINY = GPTConfig(num_vq=16, embed_dim=32, clip_dim=8, block_size=21, num_layers=1, n_head=4)
END = TINY.vocab.end



def end_prone_model(end_bias: float = 2.0, seed: int = 0) -> MotionGPT:
    """Tiny random model whose greedy decodes stop (END) at prompt-dependent lengths."""
    torch.manual_seed(seed)
    model = MotionGPT(TINY).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(15.0)
        model.ln_f.weight[0], model.ln_f.bias[0] = 0.0, 1.0  # a constant feature...
        model.head.weight[END, 0] += end_bias  # ...that raises the END logit
    return model


@pytest.fixture(scope="module")
def model():
    return end_prone_model()


@pytest.fixture(scope="module")
def texts():
    return torch.randn(10, TINY.clip_dim, generator=torch.Generator().manual_seed(3))


def step0_logits(model, text):
    with torch.no_grad():
        logits = model(torch.zeros(text.size(0), 0, dtype=torch.long), text)[:, 0]
    logits[:, END] = float("-inf")  # END is never the first token
    return logits


def test_cache_equals_recompute_with_different_stop_lengths(model, texts):
    for m in (model, end_prone_model(end_bias=5.0, seed=1)):
        cached = m.generate(texts, greedy=True)
        lengths = [len(c) for c in cached]
        assert len(set(lengths)) >= 3, lengths  # prompts stop at different steps
        recomputed = m.generate(texts, greedy=True, use_cache=False)
        for a, b in zip(cached, recomputed):
            assert torch.equal(a, b)
        sampled = m.generate(texts, seed=7, top_k=4)
        for a, b in zip(sampled, m.generate(texts, seed=7, top_k=4, use_cache=False)):
            assert torch.equal(a, b)


def test_each_row_stops_at_its_own_end(model, texts):
    batch = model.generate(texts, greedy=True)
    for i, codes in enumerate(batch):
        alone = model.generate(texts[i], greedy=True)[0]
        assert torch.equal(codes, alone)
        assert 1 <= len(codes) <= TINY.block_size - 1 and (codes < END).all()
        if len(codes) < TINY.block_size - 1:  # stopped early: the model's next choice is END
            with torch.no_grad():
                logits = model(codes[None], texts[i:i + 1])
            assert logits[0, -1].argmax().item() == END


def test_min_and_max_tokens(model, texts):
    free = [len(c) for c in model.generate(texts, greedy=True)]
    assert min(free) < 5
    at_least = [len(c) for c in model.generate(texts, greedy=True, min_tokens=5)]
    assert min(at_least) >= 5
    assert all(a == f for a, f in zip(at_least, free) if f >= 5)  # rows already long enough unchanged
    at_most = model.generate(texts, greedy=True, max_tokens=3)
    assert all(1 <= len(c) <= 3 for c in at_most)
    full = model.generate(texts, seed=0, min_tokens=20, max_tokens=20)
    assert all(len(c) == 20 and (c < END).all() for c in full)


def test_end_first_is_suppressed():
    model = end_prone_model(end_bias=200.0)  # END dominates every step
    with torch.no_grad():
        assert (model(torch.zeros(4, 0, dtype=torch.long), torch.randn(4, 8))[:, 0].argmax(-1) == END).all()
    for kwargs in ({"greedy": True}, {"seed": 0}, {"seed": 0, "top_k": 1}):
        out = model.generate(torch.randn(4, 8), **kwargs)
        assert [len(c) for c in out] == [1, 1, 1, 1]


def test_top_k_and_top_p_restrict_the_support(model):
    text = torch.randn(1, TINY.clip_dim).expand(400, -1)
    logits = step0_logits(model, text[:1])[0]
    probs = torch.softmax(logits, -1)
    seeds = list(range(400))

    first = torch.stack([c[0] for c in model.generate(text, seed=seeds, top_k=3, max_tokens=1)])
    allowed = set(torch.topk(logits, 3).indices.tolist())
    assert set(first.tolist()) <= allowed and len(set(first.tolist())) > 1

    order = torch.argsort(probs, descending=True)
    n_keep = int((torch.cumsum(probs[order], 0) < 0.6).sum()) + 1  # smallest prefix with mass >= 0.6
    nucleus = set(order[:n_keep].tolist())
    first = torch.stack([c[0] for c in model.generate(text, seed=seeds, top_p=0.6, max_tokens=1)])
    assert set(first.tolist()) <= nucleus

    greedy_first = model.generate(text[:1], greedy=True, max_tokens=1)[0][0]
    assert all(c[0] == greedy_first for c in model.generate(text[:5], seed=0, top_k=1, max_tokens=1))
    assert all(c[0] == greedy_first for c in model.generate(text[:5], seed=0, top_p=1e-6, max_tokens=1))


def test_filter_logits_and_inverse_cdf_sampling():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05, 0.0]]))
    kept = filter_logits(logits, top_k=2)
    assert torch.isinf(kept[0, 2:]).all() and torch.isfinite(kept[0, :2]).all()
    kept = filter_logits(logits, top_p=0.79)  # 0.5 + 0.3 reaches 0.79
    assert torch.isfinite(kept[0, :2]).all() and torch.isinf(kept[0, 2:]).all()
    kept = filter_logits(logits, top_p=0.81)
    assert torch.isfinite(kept[0, :3]).all() and torch.isinf(kept[0, 3:]).all()
    torch.testing.assert_close(filter_logits(logits[:, :4], temperature=2.0), logits[:, :4] / 2)
    # evenly spaced uniforms reproduce the distribution exactly (to one count)
    n = 1000
    u = (torch.arange(n) + 0.5) / n
    idx = sample_with_uniforms(logits.expand(n, -1), u)
    counts = torch.bincount(idx, minlength=5).float()
    assert (counts - n * torch.tensor([0.5, 0.3, 0.15, 0.05, 0.0])).abs().max() <= 1
    assert sample_with_uniforms(logits, torch.tensor([0.0])).item() == 0
    assert sample_with_uniforms(logits, torch.tensor([1.0 - 2**-24])).item() == 3  # never the zero-prob token


def test_seeds_reproducible_and_independent_of_batch(model, texts):
    kwargs = dict(temperature=1.3, top_p=0.95)
    a = model.generate(texts[:4], seed=11, **kwargs)
    b = model.generate(texts[:4], seed=11, **kwargs)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    c = model.generate(texts[:4], seed=12, **kwargs)
    assert any(not torch.equal(x, y) for x, y in zip(a, c))
    # row i uses seed + i: the same prompt and row seed give the same codes alone or in any batch
    for i in range(4):
        assert torch.equal(model.generate(texts[i], seed=11 + i, **kwargs)[0], a[i])
    reordered = model.generate(texts[[3, 0]], seed=[14, 11], **kwargs)
    assert torch.equal(reordered[0], a[3]) and torch.equal(reordered[1], a[0])
    # seed=None follows torch's global RNG
    torch.manual_seed(5)
    d = model.generate(texts[:4], **kwargs)
    torch.manual_seed(5)
    assert all(torch.equal(x, y) for x, y in zip(d, model.generate(texts[:4], **kwargs)))


def test_generate_leaves_no_grad_and_returns_model_device(model, texts):
    out = model.generate(texts[:2], seed=0)
    assert all(c.device == model.device and c.dtype == torch.long and not c.requires_grad for c in out)


def test_generate_runs_in_eval_mode_and_restores_it(texts):
    model = end_prone_model()
    expected = model.generate(texts[:3], greedy=True)
    model.train()
    got = model.generate(texts[:3], greedy=True)
    assert model.training
    assert all(torch.equal(a, b) for a, b in zip(expected, got))
