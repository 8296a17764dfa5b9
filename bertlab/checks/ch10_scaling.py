"""Checks for chapter 10 — scaling out: the gradient all-reduce, splitting a linear layer, a tensor-parallel
FFN, the pipeline bubble."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..model import BertConfig, FeedForward
from ..parallel.data_parallel import average_gradients as ref_average_gradients
from ..parallel.pipeline import bubble_fraction as ref_bubble_fraction
from ..parallel.tensor_parallel import shard_linear as ref_shard_linear
from ..parallel.tensor_parallel import tensor_parallel_ffn as ref_tensor_parallel_ffn
from ._core import Check, exercise

__all__ = ["average_gradients", "shard_linear", "tensor_parallel_ffn", "bubble_fraction"]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------ average_gradients
def _expect_grad_dict(c: Check, got, names: list[str], what: str) -> dict:
    if got is None:
        c.fail(f"{what} returned None.", "did you forget the `return` statement?")
    if not isinstance(got, dict):
        c.fail(f"{what} returned a {type(got).__name__}; expected a dict {{parameter name: averaged gradient}}.",
               "build {name: … for name in per_rank[0]}.")
    if sorted(got) != sorted(names):
        c.fail(f"{what} has the keys {sorted(got)}; expected one per parameter: {sorted(names)}.",
               "keep the parameter names of the ranks' dicts.")
    return got


@exercise("average_gradients")
def average_gradients(c: Check, fn) -> None:
    g = _gen(1)
    per_rank = [{"w": torch.randn(3, 4, generator=g), "b": torch.randn(4, generator=g)} for _ in range(2)]
    got = _expect_grad_dict(c, c.call(fn, per_rank, what="average_gradients(2 ranks' gradients)"), ["w", "b"],
                            "average_gradients")
    expected = ref_average_gradients(per_rank)
    for name in ("w", "b"):
        c.expect_array(got[name], expected[name], what=f"the averaged gradient of {name!r} (2 ranks)", kind="torch",
                       mistakes={
                           "you summed the ranks' gradients; an all-reduce sums, and data parallelism then divides by "
                           "the number of ranks: each rank's loss is the mean over its own share of the batch, so the "
                           "global batch's gradient is the MEAN of the ranks' gradients.":
                               per_rank[0][name] + per_rank[1][name],
                           "that is rank 0's own gradient: the all-reduce must combine every rank's.": per_rank[0][name],
                           "that is the last rank's gradient only: combine every rank's.": per_rank[1][name],
                       }, hint="mean over ranks, element by element: torch.stack([...]).mean(0).")
    c.note("2 ranks: the element-wise mean of their gradients")
    per_rank4 = [{"w": torch.randn(2, 3, generator=g), "b": torch.randn(3, generator=g)} for _ in range(4)]
    got = _expect_grad_dict(c, c.call(fn, per_rank4, what="average_gradients(4 ranks' gradients)"), ["w", "b"],
                            "average_gradients")
    expected = ref_average_gradients(per_rank4)
    c.expect_array(got["w"], expected["w"], what="the averaged gradient of 'w' (4 ranks)", kind="torch", mistakes={
        "you divided by 2 whatever the number of ranks: divide by len(per_rank).": sum(r["w"] for r in per_rank4) / 2,
        "you summed the ranks' gradients: divide the sum by the number of ranks.": sum(r["w"] for r in per_rank4),
        "only the first two ranks were averaged: use all of them.": (per_rank4[0]["w"] + per_rank4[1]["w"]) / 2,
    }, hint="divide by the number of ranks, len(per_rank).")
    c.note("4 ranks: divided by the number of ranks")
    # the meaning: the average of the replicas' gradients is the gradient of the whole batch
    lin = torch.nn.Linear(4, 1)
    x, y = torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g)
    shares = []
    for rank in range(2):
        lin.zero_grad()
        F.mse_loss(lin(x[rank * 4:(rank + 1) * 4]), y[rank * 4:(rank + 1) * 4]).backward()
        shares.append({n: p.grad.clone() for n, p in lin.named_parameters()})
    lin.zero_grad()
    F.mse_loss(lin(x), y).backward()
    got = _expect_grad_dict(c, c.call(fn, shares, what="average_gradients(a linear model's shares)"),
                            ["weight", "bias"], "average_gradients")
    c.expect_array(got["weight"], lin.weight.grad, what="the averaged gradient vs the whole batch's gradient",
                   kind="torch", atol=1e-6, hint="mean over ranks.")
    c.note("equals the gradient of the whole batch (a linear model, mean-squared error, 2 halves)")


# ------------------------------------------------------------------------------------------ shard_linear
def _expect_pair(c: Check, got, what: str):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        c.fail(f"{what} returned {type(got).__name__ if got is not None else 'None'}; expected a pair "
               "(weight shard, bias shard or None).", "end with `return w, b`.")
    return got


def _is_absent(bias) -> bool:
    return bias is None or (isinstance(bias, torch.Tensor) and bool(torch.all(bias == 0)))


@exercise("shard_linear")
def shard_linear(c: Check, fn) -> None:
    g = _gen(2)
    weight, bias = torch.randn(6, 4, generator=g), torch.randn(6, generator=g)  # (out=6, in=4)
    # column-parallel: split the output features, dim 0 of PyTorch's (out, in) weight
    for world, rank in ((2, 1), (2, 0)):
        what = f"shard_linear(weight (6, 4), bias (6,), rank={rank}, world={world}, 'column')"
        w, b = _expect_pair(c, c.call(fn, weight, bias, rank, world, "column", what=what), what)
        exp_w, exp_b = ref_shard_linear(weight, bias, rank, world, "column")
        w = c.expect_torch(w, what + "'s weight")
        if tuple(w.shape) == (6, 2):
            c.fail(f"{what}: the weight shard has shape (6, 2): you split dim 1, the INPUT features.",
                   "column-parallel splits the OUTPUT features; PyTorch stores a weight as (out, in), so that is "
                   "dim 0: weight.chunk(world, dim=0)[rank].")
        c.expect_array(w, exp_w, what=what + "'s weight", kind="torch", mistakes={
            "you took every world-th row (weight[rank::world]); ranks own contiguous blocks of features, "
            "in rank order (torch.chunk / DTensor's Shard(0)), so rank r's outputs sit next to rank r+1's.":
                weight[rank::world],
            "that is the other rank's block: rank r owns block r.": weight.chunk(world, 0)[1 - rank],
        }, hint="weight.chunk(world, dim=0)[rank].")
        if b is None:
            c.fail(f"{what}: the bias shard is None.", "a column-parallel rank adds its own slice of the bias: "
                   "bias.chunk(world)[rank].")
        b = c.expect_torch(b, what + "'s bias")
        if tuple(b.shape) == (6,):
            c.fail(f"{what}: the bias has shape (6,), the whole bias; this rank produces only 3 of the 6 output "
                   "features.", "give it the matching slice: bias.chunk(world)[rank].")
        c.expect_array(b, exp_b, what=what + "'s bias", kind="torch", hint="bias.chunk(world)[rank].")
    c.note("column: rows rank·out/N … of the (out, in) weight and the matching slice of the bias")
    # row-parallel: split the input features, dim 1; the bias must be added exactly once
    for world, rank in ((2, 0), (2, 1), (4, 3)):
        what = f"shard_linear(weight (6, 4), bias (6,), rank={rank}, world={world}, 'row')"
        w, b = _expect_pair(c, c.call(fn, weight, bias, rank, world, "row", what=what), what)
        exp_w, exp_b = ref_shard_linear(weight, bias, rank, world, "row")
        w = c.expect_torch(w, what + "'s weight")
        if tuple(w.shape) == (6 // world, 4):
            c.fail(f"{what}: the weight shard has shape {tuple(w.shape)}: you split dim 0, the OUTPUT features.",
                   "row-parallel splits the INPUT features: dim 1 of PyTorch's (out, in) weight, "
                   "weight.chunk(world, dim=1)[rank].")
        c.expect_array(w, exp_w, what=what + "'s weight", kind="torch", mistakes={
            "you took every world-th column (weight[:, rank::world]); ranks own contiguous blocks.": weight[:, rank::world],
        }, hint="weight.chunk(world, dim=1)[rank].")
        if rank == 0:
            if b is None:
                c.fail(f"{what}: rank 0 has no bias, so no rank adds it: the layer lost its bias.",
                       "keep the whole bias on rank 0 (the partial outputs are summed, so it is added once).")
            b = c.expect_torch(b, what + "'s bias")
            if tuple(b.shape) == (6 // world,):
                c.fail(f"{what}: the bias was split into shape {tuple(b.shape)}; a row-parallel rank's partial output "
                       "has ALL 6 output features.", "the bias is not split: rank 0 keeps all of it, the others None.")
            c.expect_array(b, exp_b, what=what + "'s bias", kind="torch", hint="rank 0 keeps the whole bias.")
        elif not _is_absent(b):
            same = isinstance(b, torch.Tensor) and b.shape == bias.shape and torch.allclose(b, bias)
            c.fail(f"{what}: rank {rank} also holds a bias "
                   + ("(the whole bias)." if same else f"(shape {tuple(getattr(b, 'shape', ()))})."),
                   "the ranks' partial outputs are summed by the all-reduce, so a bias on every rank is added "
                   f"{world} times: only rank 0 keeps it, the others return None.")
    c.note("row: columns rank·in/N … of the weight; the bias once, on rank 0")
    # together the shards are the layer
    x = torch.randn(5, 4, generator=g)
    shards = [c.call(fn, weight, bias, r, 2, "row") for r in range(2)]
    total = sum(F.linear(xr, w, b) for xr, (w, b) in zip(x.chunk(2, dim=-1), shards))
    c.expect_array(total, F.linear(x, weight, bias), what="the sum of the 2 row-parallel partial outputs",
                   kind="torch", atol=1e-5)
    c.note("the row shards' partial outputs sum to the layer's output")


# ------------------------------------------------------------------------------------ tensor_parallel_ffn
class _CountingAllReduce:
    """A simulated all-reduce for the check: sums the list of partials and records each call."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[int, ...]]] = []

    def __deepcopy__(self, memo):  # the recorder is meant to change: the input-mutation check compares it to itself
        return self

    def __call__(self, partials):
        self.calls.append([tuple(p.shape) for p in partials])
        return torch.stack(list(partials)).sum(dim=0)


def _ffn(hidden: int, intermediate: int, seed: int) -> FeedForward:
    config = BertConfig(vocab_size=10, hidden_size=hidden, num_hidden_layers=1, num_attention_heads=1,
                        intermediate_size=intermediate)
    ffn = FeedForward(config)
    g = _gen(seed)
    with torch.no_grad():
        for p in ffn.parameters():  # random biases too: a bias added twice must show
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return ffn


def _gelu_on_partial_sums(x, ffn, world):
    """The wrong split: W₁ by input features (rows of x·W₁ᵀ summed later), GELU applied to each partial."""
    out = 0
    for r, xr in enumerate(x.chunk(world, dim=-1)):
        pre = F.linear(xr, ffn.w1.weight.chunk(world, dim=1)[r], ffn.w1.bias if r == 0 else None)
        out = out + F.linear(F.gelu(pre), ffn.w2.weight, ffn.w2.bias if r == 0 else None)
    return out


@exercise("tensor_parallel_ffn")
def tensor_parallel_ffn(c: Check, fn) -> None:
    for world, seed in ((2, 3), (4, 4)):
        ffn = _ffn(8, 32, seed)
        x = torch.randn(2, 3, 8, generator=_gen(seed + 10))
        reduce = _CountingAllReduce()
        what = f"tensor_parallel_ffn(x (2, 3, 8), ffn (8 → 32 → 8), world={world}, all_reduce)"
        with torch.no_grad():
            got = c.call(fn, x, ffn, world, reduce, what=what)
            full = ffn(x)
            expected = ref_tensor_parallel_ffn(x, ffn, world)
        got = c.expect_torch(got, what)
        if not reduce.calls:
            if got.shape == full.shape and torch.allclose(got, full, atol=1e-5):
                c.fail(f"{what} gives the right numbers but never called all_reduce: it computed the unsplit FFN.",
                       "compute each rank's partial output from its shards (for rank in range(world)), then "
                       "all_reduce(list of partials) — that call is the communication being counted.")
            c.fail(f"{what} never called all_reduce: a row-parallel rank holds only a PARTIAL sum of the output.",
                   "after the row-parallel W₂ the partial outputs must be summed across ranks: "
                   "return all_reduce([partial of rank 0, partial of rank 1, …]).")
        if len(reduce.calls) > 1:
            c.fail(f"{what} called all_reduce {len(reduce.calls)} times; Megatron's FFN needs exactly one.",
                   "W₁ is column-parallel: each rank's slice of the hidden features needs no communication "
                   "(GELU is element-wise); only W₂'s partial sums are all-reduced, once.")
        shapes = reduce.calls[0]
        if len(shapes) != world:
            c.fail(f"{what}: all_reduce received {len(shapes)} tensors; expected one partial output per rank "
                   f"({world}).", "collect one partial per rank in a list.")
        if any(s != (2, 3, 8) for s in shapes):
            c.fail(f"{what}: the partials passed to all_reduce have shapes {shapes}; each rank's partial output "
                   "must be the full (2, 3, 8) — row-parallel splits W₂'s inputs, not its outputs.",
                   "W₂'s shard is weight.chunk(world, dim=1)[rank]: (8, 32/world).")
        b2 = ffn.w2.bias.detach()
        c.expect_array(got, expected, what=what, kind="torch", atol=1e-5, mistakes={
            "every rank added the bias b₂, so the all-reduce added it world times: only one rank (rank 0) adds it.":
                full + (world - 1) * b2,
            "the bias b₂ is missing: one rank (rank 0) must add it.": full - b2,
            "you averaged the partial outputs (÷ world); they are pieces of one sum — add them.": expected / world,
            "GELU was applied to partial sums: W₁ split by its INPUT features (dim 1) gives partial pre-activations, "
            "and GELU(a) + GELU(b) ≠ GELU(a + b). Split W₁ by its OUTPUT features (dim 0, column-parallel).":
                _gelu_on_partial_sums(x, ffn, world).detach(),
        }, hint="rank r: GELU(x W₁[r-th block of rows]ᵀ + b₁[block]) @ W₂[:, r-th block]ᵀ (+ b₂ on rank 0); "
                "then one all_reduce of the partials.")
        c.note(f"{world} ranks: one all-reduce of {world} partial (2, 3, 8) outputs, equal to the unsplit FFN")


# ---------------------------------------------------------------------------------------- bubble_fraction
_CASES = [(2, 1), (2, 4), (4, 8), (1, 8), (8, 32), (4, 4)]


@exercise("bubble_fraction")
def bubble_fraction(c: Check, fn) -> None:
    got = []
    for p, m in _CASES:
        value = c.call(fn, p, m, what=f"bubble_fraction(stages={p}, microbatches={m})")
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
            c.fail(f"bubble_fraction({p}, {m}) returned {value!r}; expected a number between 0 and 1.",
                   "return (p − 1) / (m + p − 1) as a float.")
        got.append(float(value))
    ps, ms = np.array(_CASES, dtype=float).T
    expected = np.array([ref_bubble_fraction(int(p), int(m)) for p, m in _CASES])
    table = ", ".join(f"(p={int(p)}, m={int(m)})" for p, m in _CASES)
    c.expect_array(np.array(got), expected, what=f"bubble_fraction for {table}", mistakes={
        "you divided by m alone: (p − 1)/m is the idle time relative to the *useful* time, not its share of the "
        "whole step; the step lasts m + p − 1 slots.": (ps - 1) / ms,
        "the denominator is m + p; the step lasts m + p − 1 slots (the last stage starts p − 1 slots late).":
            (ps - 1) / (ms + ps),
        "the numerator is p; a stage idles for p − 1 slots (one pipeline with 1 stage has no bubble).": ps / (ms + ps - 1),
        "the arguments are swapped: the first is the number of stages p, the second the micro-batches m.":
            (ms - 1) / (ms + ps - 1),
        "(p − 1)/p ignores the micro-batches: more micro-batches shrink the bubble.": (ps - 1) / ps,
    }, hint="a step takes m + p − 1 slots; each stage is busy for m of them.")
    c.note("(p − 1)/(m + p − 1) for 6 (stages, micro-batches) pairs, 0 for a single stage")
