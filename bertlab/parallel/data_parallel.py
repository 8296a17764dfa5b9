"""Data parallelism: every process holds the whole model and a slice of the global batch.

    rank r:  loss_r = its share of the global-batch loss  →  backward  →  g_r
    all-reduce:  g = (g_0 + … + g_{N−1}) / N   on every rank  (the *average*, not the sum)
    every rank:  the same optimizer step on the same g  →  the replicas stay identical

Because the global-batch loss is the mean of the ranks' shares, the average of the ranks' gradients is
the gradient of the global batch: N processes take exactly the step one process would take on the
whole batch. ``torch.nn.parallel.DistributedDataParallel`` does the all-reduce during the backward pass,
bucket by bucket, overlapping communication with the rest of the backward; :func:`allreduce_gradients_`
is the same thing written out after the backward. Bytes all-reduced per step = parameters × 4 (fp32).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ..pretraining import IGNORE_INDEX, pretraining_loss
from ..training.param_groups import no_decay_groups
from .workload import build_model
from .workload import threads as one_process_threads


def average_gradients(per_rank: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """What an all-reduce of gradients leaves on every rank: the element-wise mean over ranks.

    ``per_rank[r][name]`` is rank r's gradient of parameter ``name`` (any shape); returns ``{name: mean}``
    with the same shapes. The inputs are not modified.
    """
    names = list(per_rank[0])
    return {name: torch.stack([grads[name] for grads in per_rank]).mean(dim=0) for name in names}


def allreduce_gradients_(model: nn.Module) -> int:
    """Data parallelism by hand, after ``loss.backward()``: replace every gradient by its mean over all ranks.

    ``dist.all_reduce`` sums in place on every rank; dividing by the world size turns the sum into the
    mean. Returns the bytes all-reduced (parameters × bytes per element).
    """
    world, sent = dist.get_world_size(), 0
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)  # SUM over ranks, in place
            p.grad /= world
            sent += p.grad.numel() * p.grad.element_size()
    return sent


def allreduce_bytes(model: nn.Module) -> int:
    """Bytes of gradient that data parallelism all-reduces per step: one value per trainable parameter."""
    return sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)


def shard_batch(batch: Mapping[str, torch.Tensor], rank: int, world: int) -> dict[str, torch.Tensor]:
    """Rank ``rank``'s contiguous slice of every (B, …) tensor of a global batch (B divisible by ``world``)."""
    size = len(next(iter(batch.values())))
    if size % world:
        raise ValueError(f"a global batch of {size} cannot be split evenly over {world} processes")
    per = size // world
    return {k: v[rank * per:(rank + 1) * per] for k, v in batch.items()}


def share_loss(model: nn.Module, batch: Mapping[str, torch.Tensor], rank: int, world: int):
    """Rank ``rank``'s share of the global batch's MLM + NSP loss, weighted so that the mean over ranks is
    exactly the one-process loss on the whole batch. Returns (total, mlm, nsp) scalars.

    The MLM loss averages over *masked positions*, and the ranks hold different numbers of them: each
    rank divides its summed loss by (masked positions in the global batch) / world, not by its own count.
    """
    chosen_in_global_batch = int((batch["labels"] != IGNORE_INDEX).sum())
    return pretraining_loss(model, shard_batch(batch, rank, world), mlm_count=chosen_in_global_batch / world)


def train_steps(net: nn.Module, model: nn.Module, batches: Sequence[Mapping[str, torch.Tensor]], rank: int,
                world: int, lr: float, weight_decay: float,
                after_backward: Callable[[nn.Module], Any] | None = None) -> dict[str, Any]:
    """AdamW steps on ``batches`` (one per step), each process on its share; ``net`` is what is called
    (the DDP wrapper, or the model), ``model`` the parameters. ``after_backward(model)`` runs between
    backward and the optimizer step (hand-made gradient sync).

    Returns ``losses`` (the global-batch loss per step, averaged over ranks), ``step_seconds`` and
    ``memory`` (bytes of parameters / gradients / optimizer state on this rank after the first step).
    """
    from .sharded import memory_per_rank

    opt = torch.optim.AdamW(no_decay_groups(model, weight_decay), lr=lr)
    losses, seconds, memory = [], [], {}
    for step, batch in enumerate(batches):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss, _, _ = share_loss(net, batch, rank, world)
        loss.backward()
        if after_backward is not None:
            after_backward(model)
        opt.step()
        seconds.append(time.perf_counter() - t0)
        if step == 0:
            memory = memory_per_rank(model, opt)
        logged = loss.detach().clone()
        if world > 1:
            dist.all_reduce(logged)
            logged /= world
        losses.append(logged.item())
    return {"losses": losses, "step_seconds": seconds, "memory": memory}


def train_one_process(workload: dict[str, Any], threads: int | None = 1) -> dict[str, Any]:
    """The reference: one process, the whole global batch, the same steps. Returns ``losses``,
    ``step_seconds``, ``memory`` and the final ``state`` (state_dict)."""
    with one_process_threads(threads):  # like one worker process
        model = build_model(workload)
        out = train_steps(model, model, workload["batches"], 0, 1, workload["lr"], workload["weight_decay"])
    out["state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return out


class _ByteCounter:
    def __init__(self) -> None:
        self.bytes = 0
        self.buckets_per_step = [0]


def _counting_allreduce_hook(counter, bucket):  # DDP checks the annotations: none, or the real classes
    """DDP's default all-reduce (sum, then divide by world), counting the bytes of every gradient bucket."""
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

    counter.bytes += bucket.buffer().numel() * bucket.buffer().element_size()
    counter.buckets_per_step[-1] += 1
    if bucket.is_last():  # the step's last bucket: the next call belongs to the next step
        counter.buckets_per_step.append(0)
    return default_hooks.allreduce_hook(None, bucket)  # type: ignore[arg-type]


def time_allreduce(numel: int, repeats: int = 5) -> float:
    """Median seconds to all-reduce ``numel`` float32 values over the current process group."""
    x = torch.ones(numel)
    dist.all_reduce(x)  # warm-up (connections, buffers)
    times = []
    for _ in range(repeats):
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(x)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def ddp_worker(args: dict[str, Any], rank: int, world: int) -> dict[str, Any]:
    """One rank of the data-parallel demo: the workload trained with ``DistributedDataParallel`` (counting the
    bytes its all-reduces carry), then again with :func:`allreduce_gradients_` (by hand); plus the time of
    one all-reduce of all the gradients. Rank 0 also returns the final weights of both runs."""
    workload = args["workload"]
    model = build_model(workload)
    counter = _ByteCounter()
    ddp = nn.parallel.DistributedDataParallel(model, gradient_as_bucket_view=True)  # grads live in the buckets
    ddp.register_comm_hook(counter, _counting_allreduce_hook)
    out = train_steps(ddp, model, workload["batches"], rank, world, workload["lr"], workload["weight_decay"])
    out["bytes_per_step"] = counter.bytes / len(workload["batches"])
    out["buckets_per_step"] = counter.buckets_per_step[:-1]
    out["parameters"] = sum(p.numel() for p in model.parameters())
    by_hand = build_model(workload)
    manual = train_steps(by_hand, by_hand, workload["batches"], rank, world, workload["lr"],
                         workload["weight_decay"], after_backward=allreduce_gradients_)
    out["manual_losses"] = manual["losses"]
    out["manual_step_seconds"] = manual["step_seconds"]
    out["allreduce_seconds"] = time_allreduce(out["parameters"])
    if rank == 0:
        out["state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        out["manual_state"] = {k: v.detach().clone() for k, v in by_hand.state_dict().items()}
    return out


def per_rank_gradients(model: nn.Module, batch: Mapping[str, torch.Tensor], world: int) -> list[dict[str, torch.Tensor]]:
    """In one process: the gradient each of ``world`` replicas would compute on its share of ``batch``
    (``{name: grad}`` per rank), for showing that their average is the global-batch gradient."""
    grads = []
    for rank in range(world):
        model.zero_grad(set_to_none=True)
        share_loss(model, batch, rank, world)[0].backward()
        grads.append({n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None})
    model.zero_grad(set_to_none=True)
    return grads


def global_gradient(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The one-process gradient of the MLM + NSP loss on the whole ``batch``: ``{name: grad}``."""
    model.zero_grad(set_to_none=True)
    pretraining_loss(model, batch)[0].backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return grads
