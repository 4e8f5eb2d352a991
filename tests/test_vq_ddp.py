"""Under DDP the quantizer state stays identical across ranks although each rank sees other data."""
from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from t2mgpt.tokenizer.quantizers import base as quantizer_module
from t2mgpt.tokenizer.config import VQVAEConfig
from t2mgpt.tokenizer.vqvae import VQVAE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quantizer_state(model: VQVAE) -> torch.Tensor:
    q = model.quantizer
    parts = [t.detach().float().flatten() for _, t in sorted(q.state_dict().items())]
    return torch.cat(parts)


def _train_and_gather(synced: bool, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Train a tiny VQ-VAE in DDP for a few steps; return (all ranks' quantizer states, their inputs)."""
    torch.manual_seed(0)  # same initial weights everywhere (DDP would broadcast them anyway)
    cfg = VQVAEConfig(nb_code=32, code_dim=8, output_emb_width=8, width=16, depth=1, mu=0.9)
    model = torch.nn.parallel.DistributedDataParallel(VQVAE(cfg), forward_sync_buffers=False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(100 + rank)  # different data on each rank
    torch.manual_seed(1000 + rank)  # and different local randomness (reset noise)
    if not synced:
        quantizer_module._world_size = lambda: 1  # what the original does: no cross-rank sync
    for _ in range(4):
        x = torch.randn(2, 16, 263, generator=gen)  # 8 latents < 32 codes: tiling noise is used
        recon, commit, _ = model(x)
        loss = (recon - x).abs().mean() + 0.02 * commit
        opt.zero_grad()
        loss.backward()
        opt.step()
    state = _quantizer_state(model.module)
    states = [torch.empty_like(state) for _ in range(2)]
    dist.all_gather(states, state)
    return torch.stack(states), x


def _worker(rank: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    torch.set_num_threads(1)
    try:
        synced, x_last = _train_and_gather(True, rank)
        unsynced, _ = _train_and_gather(False, rank)
        if rank == 0:
            torch.save({"synced": synced, "unsynced": unsynced, "x0": x_last}, out)
        else:
            torch.save({"x1": x_last}, out + ".1")
        dist.barrier()  # neither rank tears gloo down while the other still uses it (an abort, 1 run in ~8)
    finally:
        dist.destroy_process_group()


@pytest.mark.timeout(120)
def test_codebooks_stay_identical_across_ranks(tmp_path):
    out = str(tmp_path / "states.pt")
    mp.spawn(_worker, args=(_free_port(), out), nprocs=2, join=True)
    res = torch.load(out, weights_only=True)
    x1 = torch.load(out + ".1", weights_only=True)["x1"]
    assert not torch.equal(res["x0"], x1)  # the ranks really trained on different data
    synced, unsynced = res["synced"], res["unsynced"]
    assert torch.isfinite(synced).all()
    assert torch.equal(synced[0], synced[1])  # codebook, EMA sums, counts, init flag: all equal
    assert not torch.allclose(unsynced[0], unsynced[1])  # control: without the sync they drift apart
