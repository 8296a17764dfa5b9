# Reference solutions for chapter 10 (scaling out). Each section replaces the exercise cell tagged
# `exercise:<name>` in the solved-course test; `bertlab.solution("<name>")` shows one.
# %% solution: average_gradients
def average_gradients(per_rank):
    """{name: mean over ranks of per_rank[r][name]} — what the all-reduce leaves on every rank."""
    return {name: torch.stack([grads[name] for grads in per_rank]).mean(dim=0) for name in per_rank[0]}

# %% solution: shard_linear
def shard_linear(weight, bias, rank, world, style):
    """Rank `rank`'s (weight, bias) of a linear layer; weight is (out, in)."""
    if style == "column":  # split the output features: dim 0
        return weight.chunk(world, dim=0)[rank], bias.chunk(world)[rank]
    # row: split the input features (dim 1); the bias is added once, by rank 0
    return weight.chunk(world, dim=1)[rank], (bias if rank == 0 else None)

# %% solution: tensor_parallel_ffn
def tensor_parallel_ffn(x, ffn, world, all_reduce):
    """FFN(x) as `world` Megatron ranks compute it: column-parallel W₁, GELU, row-parallel W₂, one all-reduce."""
    partials = []
    for rank in range(world):
        w1, b1 = shard_linear(ffn.w1.weight, ffn.w1.bias, rank, world, "column")
        w2, b2 = shard_linear(ffn.w2.weight, ffn.w2.bias, rank, world, "row")
        hidden = F.gelu(F.linear(x, w1, b1))  # (B, T, I/world): this rank's hidden features
        partials.append(F.linear(hidden, w2, b2))  # (B, T, H): a partial sum
    return all_reduce(partials)

# %% solution: bubble_fraction
def bubble_fraction(stages, microbatches):
    """GPipe's idle share: (p − 1) / (m + p − 1)."""
    return (stages - 1) / (microbatches + stages - 1)
