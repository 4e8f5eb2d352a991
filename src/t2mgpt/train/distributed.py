"""Single-device and torchrun (DDP) process setup.

`torchrun --nproc_per_node=N -m t2mgpt ...` sets RANK, WORLD_SIZE and LOCAL_RANK;
without them the run is a single process. The backend is nccl on CUDA, gloo on CPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from t2mgpt.errors import InputError, T2MGPTError
from t2mgpt.utils.device import resolve_device


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_dist_info() -> DistInfo:
    """Read torchrun's environment; a plain process is rank 0 of 1."""
    try:
        return DistInfo(
            rank=int(os.environ.get("RANK", 0)),
            world_size=int(os.environ.get("WORLD_SIZE", 1)),
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        )
    except ValueError as e:
        raise InputError(f"RANK / WORLD_SIZE / LOCAL_RANK must be integers: {e}") from e


def setup_distributed(device: str = "auto") -> tuple[DistInfo, torch.device]:
    """Join the process group if launched by torchrun and pick this process's device.

    With CUDA, rank r of a node uses cuda:LOCAL_RANK; `--device cuda:K` only makes sense
    in a single process.
    """
    info = env_dist_info()
    dev = resolve_device(device)
    if dev.type == "cuda" and info.enabled:
        if dev.index is not None and dev.index != info.local_rank:
            raise InputError("under torchrun each process uses cuda:LOCAL_RANK; pass --device cuda or auto")
        dev = torch.device("cuda", info.local_rank)
        if info.local_rank >= torch.cuda.device_count():
            raise InputError(
                f"LOCAL_RANK {info.local_rank} but only {torch.cuda.device_count()} CUDA device(s): "
                f"lower --nproc_per_node"
            )
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if info.enabled and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        kwargs = {"device_id": dev} if dev.type == "cuda" else {}
        dist.init_process_group(backend=backend, **kwargs)
    return info, dev


def cleanup_distributed(completed: bool = False) -> None:
    """Leave the process group. After a run that completed on every rank, meet first: with gloo, a
    rank that tears down while its peer is still sending aborts the peer ("terminate called...")."""
    if dist.is_available() and dist.is_initialized():
        if completed and dist.get_world_size() > 1:
            dist.barrier()
        dist.destroy_process_group()


def is_dist() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    if is_dist():
        dist.barrier()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum over processes, in place (identity in a single process)."""
    if is_dist():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_gather_objects(obj) -> list:
    """[obj of rank 0, obj of rank 1, ...] (a one-element list in a single process)."""
    if not is_dist():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, src: int = 0):
    """Rank `src`'s `obj` on every process."""
    if not is_dist():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def on_main(is_main: bool, fn, share: bool = False):
    """Run `fn` on rank 0; every rank raises its T2MGPTError, if any. Returns the result on
    rank 0 (on every rank with `share`, for picklable results), None elsewhere."""
    outcome, error = None, None
    if is_main:
        try:
            outcome = ("ok", fn())
        except T2MGPTError as e:
            outcome, error = ("error", type(e).__name__, str(e)), e
    shared = outcome
    if is_dist():
        shared = broadcast_object(outcome if is_main and (share or error is not None) else ("ok", None))
    if error is not None:
        raise error
    if shared[0] == "error":
        import t2mgpt.errors as E

        raise getattr(E, shared[1], InputError)(shared[2])
    return outcome[1] if is_main else shared[1]


def wrap_ddp(model: torch.nn.Module, device: torch.device, sync_buffers: bool = True) -> torch.nn.Module:
    """DistributedDataParallel around `model`; `sync_buffers=False` skips the per-forward
    broadcast of buffers (for modules that keep their buffers in sync themselves)."""
    import inspect

    DDP = torch.nn.parallel.DistributedDataParallel
    kwargs = {"device_ids": [device.index]} if device.type == "cuda" else {}
    if not sync_buffers:
        # torch >= 2.13 renamed broadcast_buffers (and deprecated the old name)
        new = "forward_sync_buffers" in inspect.signature(DDP.__init__).parameters
        kwargs["forward_sync_buffers" if new else "broadcast_buffers"] = False
    return DDP(model, **kwargs)
