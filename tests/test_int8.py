"""Opt-in int8 decoding: valid motions, reproducible, logits close to fp32, CPU only, CLI flags."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tiny_model import make_tiny_model_dir
from t2mgpt.cli import main
from t2mgpt.errors import InputError
from t2mgpt.pipeline import T2MGPT

TEXTS = ["a person walks forward", "someone jumps up and down"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("int8") / "tiny")


@pytest.fixture(scope="module")
def pipes(folder):
    return T2MGPT.from_pretrained(folder, device="cpu"), T2MGPT.from_pretrained(folder, device="cpu", quantize="int8")


def test_only_the_blocks_linear_layers_are_quantised(pipes):
    fp32, q = pipes
    assert fp32.gpt.quantized is None and q.gpt.quantized == "int8" and "quantized=int8" in repr(q)
    from t2mgpt.generator.int8 import Int8Linear

    kinds = {type(m) for blocks in (q.gpt.base_blocks, q.gpt.head_blocks) for m in blocks.modules()}
    assert Int8Linear in kinds and torch.nn.Linear not in kinds
    assert type(q.gpt.head) is torch.nn.Linear and type(q.gpt.cond_emb) is torch.nn.Linear  # stay fp32
    assert q.gpt.quantize_int8() is q.gpt  # idempotent


def test_logits_close_to_fp32(pipes):
    fp32, q = pipes
    g = torch.Generator().manual_seed(0)
    text = torch.randn(4, fp32.gpt.config.clip_dim, generator=g)
    codes = torch.randint(0, fp32.gpt.config.num_vq, (4, 20), generator=g)
    with torch.inference_mode():
        a, b = fp32.gpt(codes, text), q.gpt(codes, text)
    assert a.shape == b.shape and torch.isfinite(b).all()
    diff = (a - b).abs()
    # observed on the tiny random model: logit std 0.104, max abs diff 2.2e-4 (0.2% of the std),
    # mean 3.8e-5, argmax agreement 100%; allowed: 2% / 0.5% of the std (int8 rounding, not a bug)
    assert 0 < diff.max() < 0.02 * a.std() and diff.mean() < 0.005 * a.std()
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() > 0.9


def test_quantised_pipeline_generates_valid_reproducible_motions(pipes):
    _, q = pipes
    first = q(TEXTS, num_samples=2, seconds=2.0, seed=7)
    again = q(TEXTS, num_samples=2, seconds=2.0, seed=7)
    for row, row2 in zip(first, again):
        for m, m2 in zip(row, row2):
            assert m.joints.shape == (40, 22, 3) and np.isfinite(m.joints).all()
            assert m.features.shape == (40, 263) and len(m.tokens) == 10
            assert (m.tokens < q.gpt.config.num_vq).all()
            np.testing.assert_array_equal(m.tokens, m2.tokens)
            np.testing.assert_array_equal(m.joints, m2.joints)
    free = q(TEXTS[0], seed=3)[0][0]  # free length: ends at END (or the block size)
    assert 1 <= len(free.tokens) <= q.config.max_tokens and np.isfinite(free.joints).all()


def test_int8_is_cpu_only_and_cannot_be_saved(folder, pipes, tmp_path, monkeypatch):
    import t2mgpt.pipeline as P

    _, q = pipes
    with pytest.raises(InputError, match="fp32"):
        q.save_pretrained(tmp_path / "saved")
    with pytest.raises(InputError, match="'int8'"):
        T2MGPT.from_pretrained(folder, device="cpu", quantize="int4")

    monkeypatch.setattr(P, "resolve_device", lambda name: torch.device("cuda"))  # as on a GPU machine
    with pytest.raises(InputError, match="CPU-only"):
        q.to("cuda")
    assert q.device.type == "cpu"
    with pytest.raises(InputError, match="int8 dynamic quantisation is CPU-only"):
        T2MGPT.from_pretrained(folder, device="cuda", quantize="int8")
    monkeypatch.setattr(T2MGPT, "device", property(lambda self: torch.device("cuda")))
    fp32 = T2MGPT.__new__(T2MGPT)
    with pytest.raises(InputError, match="CPU-only"):
        fp32.quantize("int8")


def test_auto_device_means_cpu_with_int8(folder, monkeypatch):
    import t2mgpt.pipeline as P

    asked = []
    real = P.resolve_device
    monkeypatch.setattr(P, "resolve_device", lambda name: asked.append(name) or real(name))
    assert T2MGPT.from_pretrained(folder, quantize="int8").device.type == "cpu" and asked[0] == "cpu"


def test_cli_generate_and_serve_flags(folder, pipes, tmp_path, monkeypatch, capsys):
    _, q = pipes
    args = ["generate", TEXTS[0], "--model", str(folder), "--seed", "5", "--seconds", "2", "--format", "npy",
            "--device", "cpu"]
    assert main([*args, "--int8", "--out-dir", str(tmp_path / "q")]) == 0
    joints = np.load(next((tmp_path / "q").glob("*.npy")))
    np.testing.assert_array_equal(joints, q(TEXTS[0], seconds=2.0, seed=5)[0][0].joints)

    import uvicorn

    import t2mgpt.serve

    served = []
    monkeypatch.setattr(t2mgpt.serve, "create_app", lambda pipe, **kw: served.append(pipe) or "app")
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    assert main(["serve", "--model", str(folder), "--device", "cpu", "--int8"]) == 0
    assert main(["serve", "--model", str(folder), "--device", "cpu"]) == 0
    assert [p.gpt.quantized for p in served] == ["int8", None]


def dequantised_reference(layer, x):
    """float64 product of the layer's dequantised int8 activations and weights, plus the bias."""
    from t2mgpt.generator.int8 import quantize_per_row

    xq, m = quantize_per_row(x.reshape(-1, layer.in_features))
    w = layer.weight.double() * layer.scale.double()[:, None]  # (N, K) dequantised weights
    y = (xq.double() * m.double() / 127) @ w.T
    return y if layer.bias is None else y + layer.bias.double()


@pytest.mark.parametrize("rows", [1, 15])  # 1 row: torch._int_mm's GEMV; several: oneDNN's packed GEMM
def test_int8_linear_is_the_exact_product_of_its_quantised_operands(rows):
    from t2mgpt.generator.int8 import Int8Linear, kernel_setup

    torch.manual_seed(0)
    lin = torch.nn.Linear(48, 24)
    q = Int8Linear.from_linear(lin)
    qmax = kernel_setup()[0]  # 127, or 63 on CPUs whose int8 kernels saturate
    assert q.weight.dtype == torch.int8 and (q.weight.abs().amax(1) == qmax).all()  # each row uses the full range
    step = q.scale[:, None]
    assert ((q.weight.float() * step - lin.weight).abs() <= step / 2 + 1e-7).all()  # rounded to the nearest step
    x = torch.randn(rows, 48).reshape(-1, 1, 48) if rows == 1 else torch.randn(3, 5, 48)
    with torch.no_grad():
        y = q(x)
        assert y.shape == (*x.shape[:-1], 24) and y.dtype == torch.float32
        torch.testing.assert_close(y.reshape(-1, 24).double(), dequantised_reference(q, x), atol=1e-5, rtol=1e-5)
        assert (y - lin(x)).abs().max() < 0.05 * lin(x).std()  # and close to the float layer (observed 2.7%)


def test_one_row_and_batched_kernels_agree():
    from t2mgpt.generator.int8 import Int8Linear

    torch.manual_seed(1)
    q = Int8Linear.from_linear(torch.nn.Linear(64, 40, bias=False))
    x = torch.randn(6, 64)
    with torch.no_grad():
        batched = q(x)
        one_by_one = torch.cat([q(row[None]) for row in x])
    torch.testing.assert_close(batched, one_by_one, atol=1e-5, rtol=1e-6)  # per-row scales: no batch coupling
    torch.testing.assert_close(batched.double(), dequantised_reference(q, x), atol=1e-5, rtol=1e-5)


def test_a_used_layer_can_be_deep_copied():
    import copy

    from t2mgpt.generator.int8 import Int8Linear

    q = Int8Linear.from_linear(torch.nn.Linear(32, 16))
    x = torch.randn(4, 32)
    with torch.no_grad():
        y = q(x)  # batched: makes the packed copy of the weights
        twin = copy.deepcopy(q)
        torch.testing.assert_close(twin(x), y, atol=0, rtol=0)
        torch.testing.assert_close(twin(x[:1]), q(x[:1]), atol=0, rtol=0)


WORST_CASE = """
import torch
from t2mgpt.generator.int8 import Int8Linear, kernel_setup
torch.manual_seed(0)
lin = torch.nn.Linear(256, 32, bias=False)
with torch.no_grad():
    lin.weight.copy_(torch.randn(32, 256).sign() * 0.1)  # every quantised weight at +-qmax
q = Int8Linear.from_linear(lin)
x = lin.weight[:4].detach().sign()  # every activation at +-127, aligned with the weights' signs
exact = x.double() @ (q.weight.double() * q.scale.double()[:, None]).T
with torch.no_grad():
    worst = max(((q(x[:n]).double() - exact[:n]).abs().max() / exact.abs().max()).item() for n in (1, 4))
print(kernel_setup()[0], worst)
"""


@pytest.mark.parametrize("isa", [None, "AVX2"])
def test_worst_case_products_do_not_saturate(isa):
    """x86 CPUs without VNNI sum u8 x s8 pairs in int16; 8-bit weights would overflow there (25% off)."""
    import os
    import platform
    import subprocess
    import sys

    if isa and platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("ONEDNN_MAX_CPU_ISA=AVX2 emulates an x86 CPU without VNNI")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if isa:
        env["ONEDNN_MAX_CPU_ISA"] = isa
    out = subprocess.run([sys.executable, "-c", WORST_CASE], env=env, capture_output=True, text=True, check=True)
    qmax, worst = out.stdout.split()
    assert float(worst) < 1e-6
    if isa:
        assert qmax == "63"  # 7-bit weights on such CPUs
