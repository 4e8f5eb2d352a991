"""The open decoding engine: constraints as one hook, prefixes, fixed codes, streaming, stop/cancel."""
from __future__ import annotations

import pytest
import torch

from t2mgpt.errors import InputError
from t2mgpt.generator.decoding import DecodingCancelled, StopDecoding, cancel_when
from t2mgpt.generator.config import GPTConfig
from t2mgpt.generator.gpt import MotionGPT
from t2mgpt.generator.sampling import filter_logits

TINY = GPTConfig(num_vq=16, embed_dim=32, clip_dim=8, block_size=21, num_layers=1, n_head=4)
END = TINY.vocab.end


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = MotionGPT(TINY).eval()
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() == 2:
                p.mul_(8.0)  # peaked but not degenerate distributions
    return m


@pytest.fixture(scope="module")
def texts():
    return torch.randn(12, TINY.clip_dim, generator=torch.Generator().manual_seed(3))


def test_a_constraint_is_one_hook_and_its_codes_never_appear(model, texts):
    banned = torch.tensor([0, 3, 5, 7, 11])

    def forbid(step):  # the whole constraint
        return step.logits.index_fill(1, banned, float("-inf"))

    free = torch.cat(model.generate(texts, seed=0, min_tokens=20))
    assert torch.isin(free, banned).sum() > 20  # without the hook the model likes these codes
    for greedy in (False, True):
        rows = model.generate(texts, greedy=greedy, seed=0, min_tokens=20, hooks=[forbid])
        assert all(len(r) == 20 for r in rows)
        assert not torch.isin(torch.cat(rows), banned).any()


def test_a_prefix_of_a_sampled_run_continues_it_exactly(model, texts):
    full = model.generate(texts, seed=5, top_k=8)
    prefixes = [f[:3] for f in full]
    again = model.generate(texts, seed=5, top_k=8, prefix=prefixes)
    for a, b in zip(full, again):
        assert torch.equal(a, b)  # the given codes consumed their uniforms: the rest is the same draw
    shared = torch.tensor([1, 2, 3, 4])
    for use_cache in (True, False):
        rows = model.generate(texts, seed=1, prefix=shared, use_cache=use_cache)
        assert all(torch.equal(r[:4], shared) and len(r) >= 4 for r in rows)
    assert all(torch.equal(a, b) for a, b in zip(model.generate(texts, seed=1, prefix=shared),
                                                 model.generate(texts, seed=1, prefix=shared, use_cache=False)))


def test_fixed_codes_stay_and_rows_reach_them(model, texts):
    fixed = [{9: 4, 12: 6} if i % 2 else None for i in range(len(texts))]
    rows = model.generate(texts, seed=2, fixed=fixed)
    for i, r in enumerate(rows):
        if i % 2:
            assert len(r) >= 13 and r[9] == 4 and r[12] == 6
    recomputed = model.generate(texts, seed=2, fixed=fixed, use_cache=False)
    assert all(torch.equal(a, b) for a, b in zip(rows, recomputed))
    # the unconstrained rows are exactly what they are without any fixed codes
    plain = model.generate(texts, seed=2)
    assert all(torch.equal(rows[i], plain[i]) for i in range(0, len(texts), 2))


def test_exact_length_with_a_hook_and_a_prefix(model, texts):
    rows = model.generate(texts, seed=3, min_tokens=7, max_tokens=7, prefix=[2, 2],
                          hooks=[lambda s: s.logits.index_fill(1, torch.tensor([2]), float("-inf"))])
    assert all(len(r) == 7 and torch.equal(r[:2], torch.tensor([2, 2])) and not (r[2:] == 2).any() for r in rows)


def test_the_callback_streams_every_code_in_order(model, texts):
    seen: dict[int, list[int]] = {}

    def stream(step):
        assert step.codes.shape == (len(step.rows), step.step + 1)
        for row, code in zip(step.rows.tolist(), step.codes[:, -1].tolist()):
            seen.setdefault(row, []).append(code)

    rows = model.generate(texts, seed=4, callback=stream)
    for i, r in enumerate(rows):
        streamed = seen[i]
        if len(r) < TINY.block_size - 1:
            assert streamed[-1] == END
            streamed = streamed[:-1]
        assert streamed == r.tolist()


def test_stop_keeps_the_codes_so_far_and_cancel_abandons(model, texts):
    full = model.generate(texts, seed=6, min_tokens=10)

    def stop_after_5(step):
        if step.step == 4:
            raise StopDecoding

    cut = model.generate(texts, seed=6, min_tokens=10, callback=stop_after_5)
    assert all(torch.equal(c, f[:5]) for c, f in zip(cut, full))
    cut = model.generate(texts, seed=6, min_tokens=10, hooks=[lambda s: (_ for _ in ()).throw(StopDecoding)
                                                              if s.step == 4 else None])
    assert all(torch.equal(c, f[:4]) for c, f in zip(cut, full))

    steps = []
    flag = {"cancelled": False}

    def watch(step):
        steps.append(step.step)
        flag["cancelled"] = step.step == 2  # e.g. the client went away during step 2

    with pytest.raises(DecodingCancelled):
        model.generate(texts, seed=6, min_tokens=10, hooks=[cancel_when(lambda: flag["cancelled"])], callback=watch)
    assert steps == [0, 1, 2]  # nothing computed after the cancellation was seen


def test_hooks_that_forbid_everything_and_bad_given_codes(model, texts):
    with pytest.raises(InputError, match="no allowed code for row 0 at step 0"):
        model.generate(texts, seed=0, hooks=[lambda s: torch.full_like(s.logits, float("-inf"))])
    with pytest.raises(InputError, match="prefix codes must be in"):
        model.generate(texts, seed=0, prefix=[1, END])
    with pytest.raises(InputError, match="position 25 is outside"):
        model.generate(texts[:1], seed=0, fixed=[{25: 1}])
    with pytest.raises(InputError, match="2 prefixes for 12 rows"):
        model.generate(texts, seed=0, prefix=[[1], [2]])


def test_tiny_top_p_keeps_the_most_likely_token(model, texts):
    logits = torch.randn(4, END + 1)
    for p in (1e-46, 1e-300, 5e-324):
        kept = filter_logits(logits, top_p=p)
        assert torch.equal(torch.isfinite(kept).sum(1), torch.ones(4, dtype=torch.long))
        assert torch.equal(kept.argmax(1), logits.argmax(1))
    greedy = model.generate(texts, greedy=True)
    tiny = model.generate(texts, seed=0, top_p=1e-46)
    assert all(len(t) >= 1 and torch.equal(a, t) for a, t in zip(greedy, tiny))


def test_classifier_free_guidance_fits_in_one_hook(model, texts):
    from t2mgpt.generator.guidance import ClassifierFreeGuidance

    null = torch.zeros(TINY.clip_dim)
    plain = model.generate(texts, greedy=True)
    unconditioned = model.generate(null.expand(len(texts), -1), greedy=True)
    # scale 0: only the unconditioned pass speaks; scale 1: only the conditioned one
    zero = model.generate(texts, greedy=True, hooks=[ClassifierFreeGuidance(model, null, 0.0)])
    assert all(torch.equal(a, b) for a, b in zip(zero, unconditioned))
    one = model.generate(texts, seed=3, hooks=[ClassifierFreeGuidance(model, null, 1.0)])
    same = sum(torch.equal(a, b) for a, b in zip(one, model.generate(texts, seed=3)))
    assert same >= len(texts) - 1  # equal up to float rounding at a near-tie
    guided = model.generate(texts, greedy=True, hooks=[ClassifierFreeGuidance(model, null, 3.0, use_cache=False)])
    assert [g.tolist() for g in guided] != [p.tolist() for p in plain] and all(len(g) >= 1 for g in guided)
    cfg = ClassifierFreeGuidance(model, null, 3.0)
    cached = model.generate(texts, greedy=True, hooks=[cfg])
    assert all(torch.equal(a, b) for a, b in zip(guided, cached))  # rows dropped in step with the engine
    # the same hook serves the next call, here one that starts after a prefilled prefix
    prefix = [g[:3] for g in guided]
    again = model.generate(texts, greedy=True, prefix=prefix, hooks=[cfg])
    assert sum(torch.equal(a, b) for a, b in zip(again, guided)) >= len(texts) - 1


def test_guidance_scale_option_guides_from_the_null_text(model, texts):
    """`guidance_scale` (API, CLI, web) is the hook above with the trained null text (zeros)."""
    unconditioned = model.generate(model.null_text().expand(len(texts), -1), greedy=True)
    zero = model.generate(texts, greedy=True, guidance_scale=0.0)
    assert all(torch.equal(a, b) for a, b in zip(zero, unconditioned))
    sampled = model.generate(texts, seed=5, guidance_scale=3.0)
    assert all(torch.equal(a, b) for a, b in zip(sampled, model.generate(texts, seed=5, guidance_scale=3.0)))
    assert [s.tolist() for s in sampled] != [p.tolist() for p in model.generate(texts, seed=5)]
    for bad in (-1.0, float("nan"), float("inf"), 21.0, True):
        with pytest.raises(InputError, match="guidance_scale"):
            model.generate(texts, guidance_scale=bad)
