"""Chapter 10 checks: each reference solution passes; realistic wrong answers fail with the right hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bertlab import checks
from bertlab.parallel import data_parallel, pipeline, tensor_parallel
from tests.conftest import assert_check_passes, assert_check_rejects

# ---- average_gradients -----------------------------------------------------------------------------


def test_average_gradients_reference_passes():
    assert_check_passes(checks.average_gradients, data_parallel.average_gradients)


def grads_summed(per_rank):
    return {n: sum(r[n] for r in per_rank) for n in per_rank[0]}


def grads_rank0(per_rank):
    return dict(per_rank[0])


def grads_halved(per_rank):  # "world = 2" hard-coded
    return {n: sum(r[n] for r in per_rank) / 2 for n in per_rank[0]}


def grads_in_place(per_rank):  # accumulates into rank 0's tensors
    out = per_rank[0]
    for r in per_rank[1:]:
        for n in out:
            out[n] += r[n]
    for n in out:
        out[n] /= len(per_rank)
    return out


def grads_as_list(per_rank):
    return [torch.stack([r[n] for r in per_rank]).mean(0) for n in per_rank[0]]


def grads_scalar_mean(per_rank):  # mean over every element: one number per parameter
    return {n: torch.stack([r[n] for r in per_rank]).mean() for n in per_rank[0]}


@pytest.mark.parametrize("wrong, hint", [
    (grads_summed, "mean of the ranks' gradients"),
    (grads_rank0, "rank 0's own gradient"),
    (grads_halved, "divided by 2 whatever the number of ranks"),
    (grads_in_place, "in place"),
    (grads_as_list, "expected a dict"),
    (grads_scalar_mean, "shape"),
])
def test_average_gradients_rejects_realistic_mistakes(wrong, hint):
    assert_check_rejects(checks.average_gradients, wrong, hint)


def test_average_gradients_stub_is_not_attempted():
    def stub(per_rank):
        raise NotImplementedError
    assert checks.average_gradients(stub).status == "not attempted"


# ---- shard_linear ---------------------------------------------------------------------------------


def test_shard_linear_reference_passes():
    assert_check_passes(checks.shard_linear, tensor_parallel.shard_linear)


def shard_wrong_dims(weight, bias, rank, world, style):  # column splits dim 1, row splits dim 0
    dim = 1 if style == "column" else 0
    return weight.chunk(world, dim=dim)[rank], bias.chunk(world)[rank]


def shard_row_wrong_dim(weight, bias, rank, world, style):
    if style == "column":
        return tensor_parallel.shard_linear(weight, bias, rank, world, style)
    return weight.chunk(world, dim=0)[rank], (bias if rank == 0 else None)


def shard_row_bias_everywhere(weight, bias, rank, world, style):
    if style == "column":
        return tensor_parallel.shard_linear(weight, bias, rank, world, style)
    return weight.chunk(world, dim=1)[rank], bias


def shard_row_bias_split(weight, bias, rank, world, style):
    if style == "column":
        return tensor_parallel.shard_linear(weight, bias, rank, world, style)
    return weight.chunk(world, dim=1)[rank], bias.chunk(world)[rank]


def shard_row_no_bias(weight, bias, rank, world, style):
    if style == "column":
        return tensor_parallel.shard_linear(weight, bias, rank, world, style)
    return weight.chunk(world, dim=1)[rank], None


def shard_interleaved(weight, bias, rank, world, style):
    if style == "column":
        return weight[rank::world], bias[rank::world]
    return weight[:, rank::world], (bias if rank == 0 else None)


def shard_column_whole_bias(weight, bias, rank, world, style):
    if style == "column":
        return weight.chunk(world, dim=0)[rank], bias
    return tensor_parallel.shard_linear(weight, bias, rank, world, style)


@pytest.mark.parametrize("wrong, hint", [
    (shard_wrong_dims, "you split dim 1, the input features"),
    (shard_row_wrong_dim, "you split dim 0, the output features"),
    (shard_row_bias_everywhere, "added 2 times"),
    (shard_row_bias_split, "the bias is not split"),
    (shard_row_no_bias, "lost its bias"),
    (shard_interleaved, "contiguous blocks"),
    (shard_column_whole_bias, "the whole bias"),
])
def test_shard_linear_rejects_realistic_mistakes(wrong, hint):
    assert_check_rejects(checks.shard_linear, wrong, hint)


# ---- tensor_parallel_ffn ----------------------------------------------------------------------------


def test_tensor_parallel_ffn_reference_passes():
    assert_check_passes(checks.tensor_parallel_ffn, tensor_parallel.tensor_parallel_ffn)


def _partials(x, ffn, world, bias_everywhere=False):
    out = []
    for r in range(world):
        w1, b1 = ffn.w1.weight.chunk(world, 0)[r], ffn.w1.bias.chunk(world)[r]
        w2 = ffn.w2.weight.chunk(world, 1)[r]
        out.append(F.linear(F.gelu(F.linear(x, w1, b1)), w2, ffn.w2.bias if (r == 0 or bias_everywhere) else None))
    return out


def ffn_no_reduce(x, ffn, world, all_reduce):  # row-split without the reduce: rank 0's partial
    return _partials(x, ffn, world)[0]


def ffn_unsplit(x, ffn, world, all_reduce):
    return ffn(x)


def ffn_python_sum(x, ffn, world, all_reduce):  # sums itself instead of using the collective
    return sum(_partials(x, ffn, world))


def ffn_mean_reduce(x, ffn, world, all_reduce):
    return all_reduce(_partials(x, ffn, world)) / world


def ffn_bias_every_rank(x, ffn, world, all_reduce):
    return all_reduce(_partials(x, ffn, world, bias_everywhere=True))


def ffn_reduce_twice(x, ffn, world, all_reduce):  # an all-reduce after W₁ as well
    hidden = []
    for r in range(world):
        w1, b1 = ffn.w1.weight.chunk(world, 0)[r], ffn.w1.bias.chunk(world)[r]
        hidden.append(F.pad(F.gelu(F.linear(x, w1, b1)), (0, 0)))
    all_reduce([h.sum(-1, keepdim=True).expand(*h.shape[:-1], x.shape[-1]) for h in hidden])
    return all_reduce(_partials(x, ffn, world))


def ffn_gelu_on_partials(x, ffn, world, all_reduce):  # W₁ split by its input features
    parts = []
    for r, xr in enumerate(x.chunk(world, dim=-1)):
        pre = F.linear(xr, ffn.w1.weight.chunk(world, dim=1)[r], ffn.w1.bias if r == 0 else None)
        parts.append(F.linear(F.gelu(pre), ffn.w2.weight, ffn.w2.bias if r == 0 else None))
    return all_reduce(parts)


def ffn_concatenated(x, ffn, world, all_reduce):  # column-split W₂ too: pieces of the output features
    parts = [F.linear(F.gelu(F.linear(x, ffn.w1.weight, ffn.w1.bias)), w2, b2)
             for w2, b2 in zip(ffn.w2.weight.chunk(world, 0), ffn.w2.bias.chunk(world))]
    all_reduce(parts)
    return torch.cat(parts, -1)


@pytest.mark.parametrize("wrong, hint", [
    (ffn_no_reduce, "partial sum"),
    (ffn_unsplit, "computed the unsplit ffn"),
    (ffn_python_sum, "never called all_reduce"),
    (ffn_mean_reduce, "averaged the partial outputs"),
    (ffn_bias_every_rank, "added it world times"),
    (ffn_reduce_twice, "exactly one"),
    (ffn_gelu_on_partials, "gelu(a) + gelu(b) ≠ gelu(a + b)"),
    (ffn_concatenated, "not its outputs"),
])
def test_tensor_parallel_ffn_rejects_realistic_mistakes(wrong, hint):
    assert_check_rejects(checks.tensor_parallel_ffn, wrong, hint)


# ---- bubble_fraction --------------------------------------------------------------------------------


def test_bubble_fraction_reference_passes():
    assert_check_passes(checks.bubble_fraction, pipeline.bubble_fraction)


@pytest.mark.parametrize("wrong, hint", [
    (lambda p, m: (p - 1) / m, "divided by m alone"),
    (lambda p, m: (p - 1) / (m + p), "denominator is m + p"),
    (lambda p, m: p / (m + p - 1), "numerator is p"),
    (lambda p, m: (m - 1) / (m + p - 1), "swapped"),
    (lambda p, m: (p - 1) / p, "ignores the micro-batches"),
    (lambda p, m: None, "expected a number"),
    (lambda p, m: f"{(p - 1) / (m + p - 1):.0%}", "expected a number"),
])
def test_bubble_fraction_rejects_realistic_mistakes(wrong, hint):
    assert_check_rejects(checks.bubble_fraction, wrong, hint)


def test_bubble_fraction_accepts_a_zero_d_tensor_or_numpy_number():
    import numpy as np

    assert checks.bubble_fraction(lambda p, m: torch.tensor((p - 1) / (m + p - 1))).passed
    assert checks.bubble_fraction(lambda p, m: np.float64((p - 1) / (m + p - 1))).passed
