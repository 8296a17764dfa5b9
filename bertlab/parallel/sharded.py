"""Sharded data parallelism (ZeRO stage 3 / FSDP): data parallelism without N full copies of the model.

Data parallelism keeps on every rank all parameters (4 bytes each in fp32), all gradients (4) and the
Adam state (8: first and second moments) — 16 bytes per parameter, N times over. FSDP cuts each of
them into N shards, one per rank:

    forward of a layer:   all-gather its parameter shards → full layer → compute → free the full copy
    backward of a layer:  all-gather again → gradients → reduce-scatter: each rank keeps the *mean* of its shard
    optimizer step:       each rank updates only its shard (with only its shard of the Adam state)

Per rank: 16 / N bytes per parameter plus one layer's full parameters at a time; per step three passes
over the parameters (all-gather, all-gather, reduce-scatter) instead of DDP's all-reduce (≈ two). The
maths of the step is unchanged, so the losses equal one process's. ``torch.distributed.fsdp.fully_shard``
(FSDP2) shards each parameter along dim 0 as a ``DTensor``; :func:`memory_per_rank` counts the local
pieces.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .data_parallel import train_steps
from .workload import build_model


def _local(t: torch.Tensor) -> torch.Tensor:
    """The part of ``t`` stored on this rank (a DTensor's local shard; a plain tensor is all local)."""
    return t.to_local() if hasattr(t, "to_local") else t


def _nbytes(t: torch.Tensor) -> int:
    t = _local(t)
    return t.numel() * t.element_size()


def memory_per_rank(model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> dict[str, int]:
    """Bytes this rank stores for the parameters, their gradients and the optimizer state (local shards only).

    Tied parameters are counted once. Returns ``{"params", "grads", "optimizer", "total"}`` in bytes.
    """
    params = list(model.parameters())  # de-duplicated
    out = {"params": sum(_nbytes(p) for p in params),
           "grads": sum(_nbytes(p.grad) for p in params if p.grad is not None),
           "optimizer": 0}
    if optimizer is not None:
        for state in optimizer.state.values():
            out["optimizer"] += sum(_nbytes(v) for v in state.values() if isinstance(v, torch.Tensor))
    out["total"] = out["params"] + out["grads"] + out["optimizer"]
    return out


def shard_model(model: nn.Module, mesh=None) -> nn.Module:
    """Apply FSDP2: each encoder layer is its own shard group (gathered one at a time), then the rest
    (embeddings, heads) at the root. Modifies and returns ``model``."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = mesh or init_device_mesh("cpu", (torch.distributed.get_world_size(),))
    for layer in model.bert.encoder.layer:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def fsdp_worker(args: dict[str, Any], rank: int, world: int) -> dict[str, Any]:
    """One rank of the sharded demo: the workload trained with ``fully_shard``; returns the losses, the step
    times, this rank's memory, and (rank 0) the final weights gathered to full tensors."""
    workload = args["workload"]
    model = shard_model(build_model(workload))
    out = train_steps(model, model, workload["batches"], rank, world, workload["lr"], workload["weight_decay"])
    full = {k: (v.full_tensor() if hasattr(v, "full_tensor") else v).detach().clone()  # a collective: every rank
            for k, v in model.state_dict().items()}
    if rank == 0:
        out["state"] = full
    out["sharded_parameters"] = sum(_local(p).numel() for p in model.parameters())
    return out
