"""Which CPU kernel can multiply one decoding step's activations by the released GPT's weights fastest?

At batch 1 every generated code reads all weights of the 18 transformer blocks once (72 linear
layers: qkv 1024->3072, proj 1024->1024, fc 1024->4096, proj 4096->1024; 75M weights), so a
decoding step is bound by how fast a kernel streams those weights. This times one step's 72
products, weights cycling through all 72 layers as in real decoding (they do not fit in cache),
for 1 row (one prompt) and 2 rows (one prompt with classifier-free guidance), on one thread,
as CPU milliseconds per step (median of --repeats), the weight bytes streamed per second, and\nhow far each kernel's output is from fp32 (relative RMS error, random weights: a proxy).

Kernels: fp32 `F.linear`; the library's `Int8Linear` (quantising the activations included) and the
bare kernels it uses, `torch._int_mm` and oneDNN's prepacked `qlinear_pointwise`; weight-only int8
`torch._weight_int8pack_mm` (bf16 activations); weight-only int4 `torch._weight_int4pack_mm_for_cpu`
(bf16 activations, groups of 64: torchao's CPU int4 kernel); and, for reference only, FBGEMM's
`quantized::linear_dynamic`, the kernel behind the deprecated `torch.ao.quantization.quantize_dynamic`
(part of the legacy quantisation stack that PyTorch plans to remove).

    .venv/bin/python benchmarks/bench_int8_kernels.py --repeats 5
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

E, LAYERS, STEPS = 1024, 18, 10
SHAPES = [(3 * E, E), (E, E), (4 * E, E), (E, 4 * E)]  # (out, in) of one block's linear layers


def build(torch):
    """72 random fp32 linears and, per kernel, a step function f(j, x) -> y for layer j."""
    from t2mgpt.generator.int8 import Int8Linear, _onednn_mm, kernel_setup

    torch.manual_seed(0)
    lins = [torch.nn.Linear(k, n) for _ in range(LAYERS) for (n, k) in SHAPES]
    q = [Int8Linear.from_linear(lin) for lin in lins]
    kernels = {
        "fp32 F.linear": lambda j, x: lins[j](x),
        "int8 Int8Linear (library, quantising x included)": lambda j, x: q[j](x),
        "int8 torch._int_mm (bare)": lambda j, x: torch._int_mm(x.to(torch.int8), q[j].weight.t()),
    }
    if kernel_setup()[1]:
        packed = [torch.ops.onednn.qlinear_prepack(m.weight, None) for m in q]
        kernels["int8 oneDNN qlinear_pointwise (bare)"] = lambda j, x: _onednn_mm(
            x.to(torch.uint8), packed[j], q[j]._out_scale, q[j]._zeros)
    bf16_scales = [m.scale.to(torch.bfloat16) for m in q]
    kernels["int8 weight-only torch._weight_int8pack_mm (bf16 x)"] = lambda j, x: torch._weight_int8pack_mm(
        x.to(torch.bfloat16), q[j].weight, bf16_scales[j])
    int4 = [_int4_pack(torch, lin.weight.detach()) for lin in lins]
    kernels["int4 weight-only torch._weight_int4pack_mm_for_cpu (bf16 x, groups of 64)"] = (
        lambda j, x: torch.ops.aten._weight_int4pack_mm_for_cpu(x.to(torch.bfloat16), int4[j][0], 64, int4[j][1]))
    fbgemm = [_fbgemm_pack(torch, lin) for lin in lins]
    kernels["legacy FBGEMM quantized::linear_dynamic (torch.ao's, deprecated)"] = (
        lambda j, x: torch.ops.quantized.linear_dynamic(x, fbgemm[j]))
    weight_bytes = {"fp32": 4, "int8": 1, "legacy": 1, "int4": 0.5}
    return lins, kernels, weight_bytes


def _int4_pack(torch, w, group: int = 64):
    """(N, K) float -> (packed int4 weight, (K/group, N, 2) bf16 scales and zeros) for the CPU kernel."""
    n, k = w.shape
    wg = w.reshape(n, k // group, group)
    lo, hi = wg.amin(-1, keepdim=True), wg.amax(-1, keepdim=True)
    scale = ((hi - lo) / 15).clamp(min=1e-6)
    q = ((wg - lo) / scale).round().clamp(0, 15).to(torch.int32).reshape(n, k)
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1)
    zeros = lo + 8 * scale  # the kernel computes (q - 8) * scale + zero
    sz = torch.stack([scale.reshape(n, -1), zeros.reshape(n, -1)], -1).transpose(0, 1).contiguous()
    return packed, sz.to(torch.bfloat16)


def _fbgemm_pack(torch, lin):
    w = lin.weight.detach()
    scales = (w.abs().amax(1) / 127).double()
    qw = torch.quantize_per_channel(w, scales, torch.zeros(w.shape[0], dtype=torch.long), 0, torch.qint8)
    return torch.ops.quantized.linear_prepack(qw, lin.bias.detach())


def time_step(torch, lins, fn, rows: int, repeats: int) -> float:
    xs = {k: torch.randn(rows, k) for k in (E, 4 * E)}
    for j, lin in enumerate(lins):  # warm-up: primitive caches, first-call packing
        fn(j, xs[lin.in_features])
    times = []
    for _ in range(repeats):
        t = time.process_time()
        for _ in range(STEPS):
            for j, lin in enumerate(lins):
                fn(j, xs[lin.in_features])
        times.append((time.process_time() - t) / STEPS)
    return statistics.median(times) * 1000


def output_error(torch, lins, fn) -> float:
    """Mean over layers of |y - y_fp32| / |y_fp32| (RMS ratio) for one Gaussian row: random weights,
    so only a proxy for a trained model's error."""
    g = torch.Generator().manual_seed(1)
    errs = []
    for j, lin in enumerate(lins):
        x = torch.randn(1, lin.in_features, generator=g)
        want, got = lin(x), fn(j, x).float()
        errs.append(float((got - want).pow(2).mean().sqrt() / want.pow(2).mean().sqrt()))
    return statistics.mean(errs)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)
    lins, kernels, weight_bytes = build(torch)
    n_weights = sum(lin.weight.numel() for lin in lins)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, 1 thread, "
          f"load average {os.getloadavg()[0]:.1f}; {n_weights / 1e6:.1f}M weights in 72 layers")
    print("| kernel | rows | CPU ms / step | weight GB/s | vs legacy FBGEMM | output error |")
    print("|---|---:|---:|---:|---:|---:|")
    with torch.inference_mode():
        for rows in (1, 2):
            res = {}
            for name, fn in kernels.items():
                res[name] = time_step(torch, lins, fn, rows, args.repeats)
            ref = next(v for k, v in res.items() if k.startswith("legacy"))
            for name, ms in res.items():
                per = next(b for key, b in weight_bytes.items() if name.startswith(key))
                err = "-" if "bare" in name else f"{output_error(torch, lins, kernels[name]):.4f}"
                print(f"| {name} | {rows} | {ms:.1f} | {n_weights * per / ms / 1e6:.1f} | {ms / ref:.2f}x | {err} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
