"""Measuring speed on a shared machine: median latency, interleaved comparisons, and the cost of attention
as the sequence grows (explicit softmax(QKᵀ/√d_k)V vs PyTorch's fused kernel)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ..model import explicit_attention


def median_ms(fn: Callable[[], object], repeats: int = 7, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in milliseconds (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def latency_table(fns: dict[str, Callable[[], object]], rounds: int = 5, warmup: int = 1) -> dict[str, float]:
    """Median milliseconds of each ``fns[name]()``, measured in interleaved rounds (A, B, C, A, B, C, …) so
    that a slow moment of a shared machine hits every entry alike, not only the one that happened to run then."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


@torch.no_grad()
def attention_latency(seq_lens: Sequence[int], batch: int = 8, heads: int = 12, head_dim: int = 32,
                      repeats: int = 5, seed: int = 0) -> list[dict]:
    """Milliseconds of explicit attention vs ``F.scaled_dot_product_attention`` at each sequence length."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for t in seq_lens:
        qkv = [torch.randn(batch, heads, t, head_dim, generator=g) for _ in range(3)]
        rows.append({"seq_len": t,
                     "explicit_ms": median_ms(lambda qkv=qkv: explicit_attention(*qkv)[0], repeats),
                     "sdpa_ms": median_ms(lambda qkv=qkv: F.scaled_dot_product_attention(*qkv), repeats)})
    return rows
