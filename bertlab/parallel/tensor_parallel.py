"""Tensor parallelism (Megatron-LM, Shoeybi et al. 2019): split each layer's matrices across ranks.

PyTorch stores a linear layer's weight as (out_features, in_features) and computes y = x Wᵀ + b.

- **Column-parallel** (split the *output* features, dim 0 of W): rank r computes y_r = x W_rᵀ + b_r, a
  slice of y's features. Needs the whole input x, produces a slice: no communication.
- **Row-parallel** (split the *input* features, dim 1 of W): rank r takes the matching slice of its input
  and computes a (B, T, out) *partial sum*; the true output is the sum over ranks — an all-reduce.
  The bias is added once (here: by rank 0 before the sum; Megatron adds it after — the same total).

FFN(x) = GELU(x W₁ᵀ + b₁) W₂ᵀ + b₂: W₁ column-parallel, so each rank holds a slice of the 4H hidden
features and applies GELU to it locally (GELU acts element by element); W₂ row-parallel, one all-reduce.
Splitting W₁ by rows instead would need the sum *before* the GELU, and GELU(a) + GELU(b) ≠ GELU(a + b).
Attention splits the same way along heads: W_Q, W_K, W_V column-parallel (rank r owns heads
r·h/N … (r+1)·h/N − 1, whose scores never mix with other heads), W_O row-parallel, one all-reduce. So a
BERT layer costs two all-reduces of a (B, T, H) activation in the forward pass, two in the backward.

``torch.distributed.tensor.parallel.parallelize_module`` with ``ColwiseParallel``/``RowwiseParallel``
does the same with DTensors, and also inserts the backward-pass communication (:func:`megatron_plan`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..model import BertLayer, BertSelfAttention, FeedForward, key_mask
from ..pretraining import pretraining_loss
from .workload import build_model


def shard_linear(weight: torch.Tensor, bias: torch.Tensor | None, rank: int, world: int,
                 style: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Rank ``rank``'s piece of a linear layer with ``weight`` (out, in) and ``bias`` (out,).

    ``style="column"``: rows ``rank·out/world …`` of the weight (out/world, in) and the same slice of the bias.
    ``style="row"``: columns ``rank·in/world …`` of the weight (out, in/world); the bias stays whole on rank 0
    and is ``None`` elsewhere, so that summing the ranks' partial outputs adds it exactly once.
    Contiguous blocks, in rank order (as ``torch.chunk`` and DTensor's ``Shard`` cut them).
    """
    if style not in ("column", "row"):
        raise ValueError(f"style must be 'column' or 'row'; got {style!r}")
    dim = 0 if style == "column" else 1
    if weight.shape[dim] % world:
        raise ValueError(f"{style}-parallel: dim {dim} of a {tuple(weight.shape)} weight does not split into {world}")
    w = weight.chunk(world, dim=dim)[rank]
    if bias is None:
        return w, None
    if style == "column":
        return w, bias.chunk(world)[rank]
    return w, (bias if rank == 0 else None)


def ffn_partial(x: torch.Tensor, ffn: FeedForward, rank: int, world: int) -> torch.Tensor:
    """Rank ``rank``'s partial FFN output (B, T, H): GELU of its column slice of W₁, times its row slice of W₂.

    Summing the partials over ranks (the all-reduce) gives ``ffn(x)`` exactly.
    """
    w1, b1 = shard_linear(ffn.w1.weight, ffn.w1.bias, rank, world, "column")  # (I/N, H), (I/N,)
    w2, b2 = shard_linear(ffn.w2.weight, ffn.w2.bias, rank, world, "row")  # (H, I/N), bias on rank 0
    hidden = F.gelu(F.linear(x, w1, b1))  # (B, T, I/N): this rank's slice of the hidden features
    return F.linear(hidden, w2, b2)  # (B, T, H): a partial sum


def attention_partial(x: torch.Tensor, attention: BertSelfAttention, mask: torch.Tensor | None, rank: int,
                      world: int) -> torch.Tensor:
    """Rank ``rank``'s partial self-attention output (B, T, H) from its own heads.

    ``mask``: bool (B, 1, 1, T), True = may attend. Rank r owns heads r·h/N … (r+1)·h/N − 1: column slices of
    W_Q, W_K, W_V, then the matching row slice of W_O. Summing over ranks gives ``attention(x, mask)[0]``.
    """
    if attention.num_heads % world:
        raise ValueError(f"{attention.num_heads} heads do not split over {world} ranks")
    heads, d_k = attention.num_heads // world, attention.head_size
    b, t, _ = x.shape

    def project(linear: nn.Linear) -> torch.Tensor:  # (B, T, H) → (B, heads/N, T, d_k)
        w, bias = shard_linear(linear.weight, linear.bias, rank, world, "column")
        return F.linear(x, w, bias).view(b, t, heads, d_k).transpose(1, 2)

    q, k, v = project(attention.query), project(attention.key), project(attention.value)
    context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, heads/N, T, d_k)
    context = context.transpose(1, 2).reshape(b, t, heads * d_k)  # this rank's heads, merged
    w_o, b_o = shard_linear(attention.output.weight, attention.output.bias, rank, world, "row")
    return F.linear(context, w_o, b_o)  # (B, T, H): a partial sum


def sum_over_ranks(partials: Sequence[torch.Tensor]) -> torch.Tensor:
    """An all-reduce simulated in one process: the element-wise sum of every rank's tensor."""
    return torch.stack(list(partials)).sum(dim=0)


def tensor_parallel_ffn(x: torch.Tensor, ffn: FeedForward, world: int,
                        all_reduce: Callable[[Sequence[torch.Tensor]], torch.Tensor] = sum_over_ranks) -> torch.Tensor:
    """The FFN computed as ``world`` tensor-parallel ranks would, simulated in one process.

    ``x`` (B, T, H) → (B, T, H). Each rank computes its partial output (:func:`ffn_partial`); one
    ``all_reduce(list of partials)`` sums them. Equal to ``ffn(x)``.
    """
    return all_reduce([ffn_partial(x, ffn, rank, world) for rank in range(world)])


def tensor_parallel_layer(layer: BertLayer, x: torch.Tensor, attention_mask: torch.Tensor | None, rank: int,
                          world: int, all_reduce: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """One rank's forward pass of a :class:`~bertlab.model.BertLayer`, Megatron-style, in a real process group.

    ``x`` (B, T, H) is the same on every rank; so is the result. ``all_reduce(t)`` returns the sum of ``t``
    over the ranks — called exactly twice: once for the attention block, once for the FFN block.
    Residuals and LayerNorms run on the full (B, T, H) activation on every rank (cheap, and no
    communication). Forward only: training also needs the gradient's all-reduce that DTensor inserts.
    """
    mask = key_mask(attention_mask)
    a = all_reduce(attention_partial(x, layer.attention, mask, rank, world))  # all-reduce no. 1
    x = layer.attention_norm(x + layer.dropout(a))
    f = all_reduce(ffn_partial(x, layer.ffn, rank, world))  # all-reduce no. 2
    return layer.ffn_norm(x + layer.dropout(f))


def megatron_plan() -> dict[str, Any]:
    """The same split for ``parallelize_module``: Q, K, V and W₁ column-wise, W_O and W₂ row-wise."""
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel

    return {"attention.query": ColwiseParallel(), "attention.key": ColwiseParallel(),
            "attention.value": ColwiseParallel(), "attention.output": RowwiseParallel(),
            "ffn.w1": ColwiseParallel(), "ffn.w2": RowwiseParallel()}


def parallelize_encoder(model: nn.Module, mesh=None) -> nn.Module:
    """Tensor-parallelise every encoder layer of a BERT model with :func:`megatron_plan`; embeddings and heads
    stay replicated. Each attention module then sees only its own heads, so its ``num_heads`` becomes
    ``num_heads / world`` (the local count its reshapes use). Modifies and returns ``model``."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor.parallel import parallelize_module

    world = dist.get_world_size()
    mesh = mesh or init_device_mesh("cpu", (world,))
    bert = getattr(model, "bert", model)
    for layer in bert.encoder.layer:
        if layer.attention.num_heads % world:
            raise ValueError(f"{layer.attention.num_heads} heads do not split over {world} ranks")
        parallelize_module(layer, mesh, megatron_plan())
        layer.attention.num_heads //= world
    return model


class _CountingAllReduce:
    """``all_reduce(t)`` for :func:`tensor_parallel_layer` over the real process group, counting calls and bytes."""

    def __init__(self) -> None:
        self.calls, self.bytes = 0, 0

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        t = t.contiguous().clone()
        dist.all_reduce(t)
        self.calls += 1
        self.bytes += t.numel() * t.element_size()
        return t


def tensor_worker(args: dict[str, Any], rank: int, world: int) -> dict[str, Any]:
    """One rank of the tensor-parallel demo, on the workload's first batch (every rank sees the whole batch):

    1. by hand: the first encoder layer, Megatron-style (:func:`tensor_parallel_layer`), forward;
    2. with DTensor: the whole model tensor-parallelised (:func:`parallelize_encoder`), MLM + NSP loss and
       its gradients, gathered to full tensors.
    Rank 0 returns the layer output, the loss and the gradients; every rank its stored parameter bytes.
    """
    workload = args["workload"]
    batch = workload["batches"][0]
    model = build_model(workload)
    layer = model.bert.encoder.layer[0]
    with torch.no_grad():
        x = model.bert.embeddings(batch["input_ids"], batch["token_type_ids"])  # (B, T, H), same on every rank
        reduce = _CountingAllReduce()
        y = tensor_parallel_layer(layer, x, batch["attention_mask"], rank, world, reduce)
    out: dict[str, Any] = {"manual_allreduce_calls": reduce.calls, "manual_allreduce_bytes": reduce.bytes,
                           "activation_shape": list(x.shape)}
    model = parallelize_encoder(build_model(workload))
    loss = pretraining_loss(model, batch)[0]
    loss.backward()
    grads = {n: (p.grad.full_tensor() if hasattr(p.grad, "full_tensor") else p.grad).detach().clone()
             for n, p in model.named_parameters()}  # full_tensor() is a collective: every rank calls it
    local = [p.to_local() if hasattr(p, "to_local") else p for p in model.parameters()]
    out["param_bytes"] = sum(t.numel() * t.element_size() for t in local)
    if rank == 0:
        out.update(layer_output=y, loss=loss.item(), grads=grads)
    return out
