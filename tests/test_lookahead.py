"""A VQ-VAE decoder with a bounded look-ahead (`VQVAEConfig.decoder_lookahead`): the look-ahead
read off its layers is the one its weights show and stays within the bound, it streams exactly,
it keeps the paper decoder's weight layout, and model folders without the option load as before."""
from __future__ import annotations

import itertools
import json
import shutil
import threading

import numpy as np
import pytest
import torch
from test_streaming import TEXT, concat, measured_field, random_vqvae
from tiny_model import make_tiny_model_dir

from t2mgpt import T2MGPT
from t2mgpt.errors import InputError
from t2mgpt.io.lookup import resolve_model
from t2mgpt.streaming import CodeDecoder
from t2mgpt.tokenizer.config import VQVAEConfig
from t2mgpt.tokenizer.receptive_field import receptive_field
from t2mgpt.tokenizer.resnet import PaddedConv1d
from t2mgpt.tokenizer.vqvae import VQVAE


@pytest.mark.parametrize("config", [dict(decoder_lookahead=0), dict(decoder_lookahead=2),
                                    dict(decoder_lookahead=4), dict(decoder_lookahead=3, depth=2, down_t=3)])
def test_lookahead_from_the_layers_is_the_measured_one_and_within_the_bound(config):
    vq = random_vqvae(**config)
    f, n, code = vq.config.downsample, 80, 60
    field = receptive_field(vq.decoder, f)
    assert field.right <= config["decoder_lookahead"]
    first, last = measured_field(vq, n, code)
    # the first frame that a change of code 60 moves is the first one that reads it: the look-ahead
    earliest = min(t for t in range(n * f) if field.codes_read(t, t)[1] >= code)
    assert first == earliest
    assert code - first // f == field.right or (code - first // f == field.right + 1 and first % f == f - 1)
    reads = [t for t in range(n * f) if field.codes_read(t, t)[0] <= code <= field.codes_read(t, t)[1]]
    assert (first, last) == (reads[0], reads[-1])


def test_paper_sizes_with_a_bound_of_4_codes():
    dec = VQVAE(VQVAEConfig(decoder_lookahead=4)).decoder
    field = receptive_field(dec, 4)
    assert field.last == (3, 4, 4, 4) and field.right == 4  # instead of 22
    assert receptive_field(VQVAE(VQVAEConfig(decoder_lookahead=0)).decoder, 4).last == (0, 0, 0, 0)  # causal
    # the same parameters under the same names: a paper decoder's weights load into it
    paper = VQVAE(VQVAEConfig()).decoder
    assert {k: v.shape for k, v in dec.state_dict().items()} == {k: v.shape for k, v in paper.state_dict().items()}
    dec.load_state_dict(paper.state_dict())
    pads = [m.pad for m in dec.modules() if isinstance(m, PaddedConv1d)]
    assert len(pads) == 11 and all(p[0] >= p[1] for p in pads)  # more padding on the past side
    x = torch.randn(1, 512, 12)
    assert dec(x).shape == paper(x).shape == (1, 263, 48)


def test_bad_lookahead_is_refused():
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(InputError, match="decoder_lookahead"):
            VQVAEConfig(decoder_lookahead=bad)


def test_code_decoder_with_a_bounded_decoder_equals_one_shot():
    vq = random_vqvae(decoder_lookahead=2)
    codes = torch.randint(0, 16, (41,), generator=torch.Generator().manual_seed(3)).tolist()
    want = vq.decode(torch.tensor([codes]))[0]
    dec, got = CodeDecoder(vq), []
    for i, c in enumerate(codes):
        got.append(dec.push([c], final=i == len(codes) - 1))
        if i == 2:  # three codes (0..2) decode the frames of code 0 and more
            assert len(torch.cat(got)) >= vq.config.downsample
    # float rounding only (these random weights give values up to ~1e5; windows of other lengths sum
    # in another order)
    torch.testing.assert_close(torch.cat(got), want, atol=2e-6 * float(want.abs().max()), rtol=1e-5)


@pytest.fixture(scope="module")
def bounded(tmp_path_factory):
    folder = make_tiny_model_dir(tmp_path_factory.mktemp("m") / "bounded", decoder_lookahead=2)
    return folder, T2MGPT.from_pretrained(folder, device="cpu")


def test_model_folder_stores_the_option_and_streams_exactly(bounded):
    folder, pipe = bounded
    assert json.loads((folder / "config.json").read_text())["vqvae"]["decoder_lookahead"] == 2
    assert pipe.vqvae.config.decoder_lookahead == 2
    assert receptive_field(pipe.vqvae.decoder, 4).right <= 2
    want = pipe(TEXT, seconds=10, seed=0)[0][0]
    steps, gate = [], threading.Event()

    def hold(step):  # the GPT waits before its 7th code until the reader has the first chunk
        steps.append(step.step)
        if step.step == 6:
            gate.wait(10)

    with pipe.stream(TEXT, seconds=10, seed=0, hooks=[hold]) as stream:
        first = next(stream)
        assert max(steps) <= 6 and not gate.is_set()  # out within 6 of the 50 codes (look-ahead 2, the fit: 5 frames)
        gate.set()
        chunks, joints, _ = concat(itertools.chain([first], stream))
    np.testing.assert_array_equal(stream.codes, want.tokens)
    assert np.abs(joints - want.joints).max() < 1e-3  # metres: within 1 mm


def test_old_model_folders_load_unchanged(tmp_path):
    old = tmp_path / "old"
    shutil.copytree(resolve_model("t2mgpt-cmu-demo"), old)
    cfg = json.loads((old / "config.json").read_text())
    # a folder written before the option existed (the bundled model's version 1 was one): same
    # weights and keys, no decoder_lookahead
    assert cfg["vqvae"].pop("decoder_lookahead") == 4  # version 2 ships the bounded decoder
    (old / "config.json").write_text(json.dumps(cfg))
    pipe = T2MGPT.from_pretrained(old, device="cpu")
    assert pipe.vqvae.config.decoder_lookahead is None
    assert not any(isinstance(m, PaddedConv1d) for m in pipe.vqvae.modules())
    assert receptive_field(pipe.vqvae.decoder, 4).right == 22
    # decoding is the paper decoder's: the same weights in a freshly built paper VQVAE decode alike
    paper = VQVAE(VQVAEConfig(**{k: v for k, v in cfg["vqvae"].items()})).eval()
    paper.load_state_dict(pipe.vqvae.state_dict())
    codes = torch.randint(0, 512, (1, 30), generator=torch.Generator().manual_seed(0))
    assert torch.equal(pipe.vqvae.decode(codes), paper.decode(codes))
