"""Streaming generation (`pipe.stream`): the decoder's receptive field, read off its layers, is
the one the weights show; streamed chunks concatenate to the one-shot motion; closing a
stream stops the decoding; bad arguments are refused before anything runs."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from tiny_model import make_tiny_model_dir

from t2mgpt import T2MGPT
from t2mgpt.errors import InputError
from t2mgpt.streaming import CodeDecoder
from t2mgpt.tokenizer.receptive_field import input_span, receptive_field
from t2mgpt.tokenizer.config import VQVAEConfig
from t2mgpt.tokenizer.vqvae import VQVAE

TEXT = "a person walks forward and then turns around"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return T2MGPT.from_pretrained(make_tiny_model_dir(tmp_path_factory.mktemp("m") / "tiny"), device="cpu")


@pytest.fixture(scope="module")
def bundled():
    return T2MGPT.from_pretrained(device="cpu")


def random_vqvae(**config) -> VQVAE:
    torch.manual_seed(0)
    vq = VQVAE(VQVAEConfig(input_dim=263, nb_code=16, code_dim=8, output_emb_width=8, width=32, **config))
    with torch.no_grad():
        for p in vq.decoder.parameters():
            p.normal_(0, 0.3)  # no dead ReLUs, so every path of the field shows in the output
        vq.quantizer.codebook.normal_()
    return vq.eval()


def measured_field(vq: VQVAE, n_codes: int, code: int) -> tuple[int, int]:
    """The frames that change when one code changes (its influence, the field's mirror image)."""
    codes = torch.randint(0, vq.config.nb_code, (1, n_codes), generator=torch.Generator().manual_seed(1))
    base = vq.decode(codes)[0]
    other = codes.clone()
    other[0, code] = (other[0, code] + 1) % vq.config.nb_code
    changed = ((vq.decode(other)[0] - base).abs().amax(-1) > 0).nonzero().flatten()
    return int(changed.min()), int(changed.max())


@pytest.mark.parametrize("config", [dict(), dict(depth=1, down_t=1), dict(depth=2, dilation_growth_rate=2, down_t=3)])
def test_receptive_field_matches_the_weights(config):
    vq = random_vqvae(**config)
    f = vq.config.downsample
    field = receptive_field(vq.decoder, f)
    n = 60
    first, last = measured_field(vq, n, n // 2)
    # frame t reads code n//2 iff codes_read(t) covers it: the first and last such frames must be
    # exactly the ones the weights change
    reads = [t for t in range(n * f) if field.codes_read(t, t)[0] <= n // 2 <= field.codes_read(t, t)[1]]
    assert (first, last) == (reads[0], reads[-1])
    assert field.frames_ready(n) == max(t for t in range(n * f) if field.codes_read(t, t)[1] <= n - 1) + 1


def test_paper_decoder_field():
    field = receptive_field(VQVAE().decoder, 4)  # the paper's: down_t 2, depth 3, dilation growth 3
    assert (field.left, field.right) == (22, 22)
    assert field.first == (-22, -22, -22, -21) and field.last == (21, 22, 22, 22)
    assert input_span(VQVAE().decoder, 4000, 4003) == (978, 1022)


def test_group_norm_reads_the_whole_sequence(tiny):
    vq = random_vqvae(norm="GN", depth=1)
    assert receptive_field(vq.decoder, 4).right is None
    dec = CodeDecoder(vq)
    codes = list(range(12))
    assert len(dec.push(codes[:11])) == 0  # nothing is final before the last code
    torch.testing.assert_close(dec.push(codes[11:], final=True), vq.decode(torch.tensor([codes]))[0])


def test_code_decoder_equals_one_shot_whatever_the_pieces():
    vq = random_vqvae()
    codes = torch.randint(0, 16, (37,), generator=torch.Generator().manual_seed(2)).tolist()
    want = vq.decode(torch.tensor([codes]))[0]
    for pieces in ([1] * 37, [5, 20, 12], [37]):
        dec, got, i = CodeDecoder(vq), [], 0
        for k, n in enumerate(pieces):
            got.append(dec.push(codes[i:i + n], final=k == len(pieces) - 1))
            i += n
        torch.testing.assert_close(torch.cat(got), want, atol=1e-5, rtol=1e-5)


def concat(stream):
    chunks = list(stream)
    assert [c.start for c in chunks] == [0] + [c.end for c in chunks[:-1]]
    assert chunks[-1].final and not any(c.final for c in chunks[:-1])
    return chunks, np.concatenate([c.joints for c in chunks]), np.concatenate([c.features for c in chunks])


@pytest.mark.parametrize("kw", [dict(seconds=10, seed=0), dict(seed=5), dict(seconds=3, greedy=True),
                                dict(seconds=6, seed=2, top_k=4, temperature=0.8)])
def test_stream_equals_one_shot_tiny(tiny, kw):
    want = tiny(TEXT, **kw)[0][0]
    with tiny.stream(TEXT, **kw) as stream:
        chunks, joints, features = concat(stream)
    np.testing.assert_array_equal(stream.codes, want.tokens)
    assert joints.shape == want.joints.shape
    assert np.abs(joints - want.joints).max() < 1e-3  # metres: within 1 mm
    np.testing.assert_allclose(features, want.features, atol=1e-4)
    if len(want.tokens) > 30:
        assert len(chunks) > 2  # it streamed: frames came out before the end


def test_stream_equals_one_shot_bundled(bundled):
    want = bundled(TEXT, seconds=10, seed=0, candidates=1)[0][0]  # a stream is one candidate
    stream = bundled.stream(TEXT, seconds=10, seed=0)
    chunks, joints, _ = concat(stream)
    assert np.abs(joints - want.joints).max() < 1e-3
    # the first chunk is out as soon as its look-ahead (22 codes) is decoded: frames of code 0
    assert chunks[0].end <= 4 * (50 - 22)
    assert len(chunks) > 5


def test_closing_a_stream_stops_the_decoding(tiny):
    steps = []
    gate = threading.Event()

    def count(step):
        steps.append(step.step)
        if step.step == 30:
            gate.wait(5)  # hold the GPT here until the reader has closed the stream

    stream = tiny.stream(TEXT, seconds=10, seed=0, hooks=[count])
    first = next(stream)
    assert first.start == 0 and not first.final
    stream._stop.set()  # what close() does first; then let the GPT take its next step
    gate.set()
    stream.close()
    assert not stream._thread.is_alive()
    assert max(steps) <= 31 < 49  # stopped within a step, not run to the 50th code
    assert list(stream) == []


def test_errors_in_the_decoding_reach_the_reader(tiny):
    def boom(step):
        if step.step == 3:
            raise RuntimeError("hook failed")

    with pytest.raises(RuntimeError, match="hook failed"):
        list(tiny.stream(TEXT, seconds=4, seed=0, hooks=[boom]))


@pytest.mark.parametrize("kw, match", [(dict(seconds=99), "seconds"), (dict(temperature=0), "temperature"),
                                       (dict(top_p=2.0), "top_p"), (dict(seed=-1), "seed"),
                                       (dict(top_k=0), "top_k")])
def test_bad_arguments_are_refused_before_decoding(tiny, kw, match):
    before = threading.active_count()
    with pytest.raises(InputError, match=match):
        tiny.stream(TEXT, **kw)
    with pytest.raises(InputError, match="one prompt"):
        tiny.stream([TEXT])
    assert threading.active_count() == before  # no worker was started


def test_dropping_a_stream_stops_the_decoding(tiny):
    import gc

    steps = []
    stream = tiny.stream(TEXT, seconds=10, seed=0, hooks=[lambda step: steps.append(step.step) or time.sleep(0.02)])
    next(stream)
    worker = stream._thread
    del stream
    gc.collect()
    worker.join(5)
    assert not worker.is_alive() and max(steps) < 49


@pytest.mark.parametrize("kw", [dict(seed=4), dict(seed=9, top_k=5, cleanup=False), dict(greedy=True)])
def test_timeline_stream_equals_compose(tiny, kw):
    timeline = [("a person walks forward", 6.0), ("a person jumps", 7.0), ("a person sits down", 3.0)]  # 16 s
    want = tiny.compose(timeline, **kw)
    paced = [lambda step: time.sleep(0.005)]  # a busy machine must not let the tiny model finish before the first read
    with tiny.compose_stream(timeline, hooks=paced, **kw) as stream:
        chunks, joints, features = concat(stream)
    np.testing.assert_array_equal(stream.codes, want.tokens)
    assert joints.shape == want.joints.shape == (320, 22, 3) and len(chunks) > 3
    assert np.abs(joints - want.joints).max() < 1e-3
    np.testing.assert_allclose(features, want.features, atol=1e-4)
    got = stream.motion()
    assert got.segments == want.segments and got.text == want.text and got.seed == want.seed


def test_timeline_stream_with_a_path_equals_compose(tiny):
    timeline, path = [("a person walks forward", 4.0)], [(2.0, 0.0, 1.0), (4.0, 1.0, 2.0)]
    want = tiny.compose(timeline, seed=1, path=path)
    _, joints, _ = concat(tiny.compose_stream(timeline, seed=1, path=path))
    assert np.abs(joints - want.joints).max() < 1e-3
