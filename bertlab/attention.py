"""Attention in NumPy (chapter 01): Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V, then many heads.

Shapes follow the paper: ``seq`` tokens, model width ``d_model``, ``h`` heads of width
``d_k = d_model / h``. Masks are boolean and ``True`` where attending is allowed (BERT's padding mask
is ``True`` for real tokens); masked keys get exactly zero weight.
"""

from __future__ import annotations

import numpy as np

# A large negative score for masked keys. A finite number (not -inf) keeps rows whose keys
# are all masked finite: they become uniform instead of NaN.
_NEG = -1e30


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis``: exp(x - max) / Σ exp(x - max).

    Subtracting the maximum changes nothing mathematically (it cancels) but keeps exp() from
    overflowing: the naive exp(1000) is inf and inf/inf is NaN.

    Raises ValueError for an empty array, for NaN or +inf anywhere, and for a slice along ``axis`` that is
    −inf everywhere: each would give NaN (inf − inf), so the message names the first bad entry instead.
    Single −inf entries are fine (they get weight 0).
    """
    x = np.asarray(x)
    if x.size == 0:
        raise ValueError("softmax of an empty array")
    if x.dtype.kind in "fc" and not np.all(np.isfinite(x)):
        bad = np.isnan(x) | (x == np.inf)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"softmax: x holds {x[where]} at index {where}; exp(inf − inf) is NaN. Clip the "
                             "scores, or mask with a large finite negative number (e.g. -1e9) instead of ±inf.")
        if np.any(np.all(x == -np.inf, axis=axis)):
            raise ValueError(f"softmax: a slice along axis {axis} is -inf everywhere, so no entry can get weight "
                             "(0/0 is NaN). Mask with a large finite negative number (e.g. -1e9) instead.")
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def scaled_dot_product_attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """softmax(Q Kᵀ / √d_k) V.

    Args:
        q: queries ``(..., seq_q, d_k)``; k: keys ``(..., seq_k, d_k)``; v: values ``(..., seq_k, d_v)``.
        mask: boolean, broadcastable to ``(..., seq_q, seq_k)``, True where attending is allowed.

    Returns:
        ``(output (..., seq_q, d_v), weights (..., seq_q, seq_k))``; each row of weights sums to 1 and
        masked keys get weight exactly 0.
    """
    q, k, v = np.asarray(q), np.asarray(k), np.asarray(v)
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"q, k, v must be at least 2-D (..., seq, d); got {q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys need the same width d_k: q {q.shape} vs k {k.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"keys and values need the same length seq_k: k {k.shape} vs v {v.shape}")
    d_k = q.shape[-1]
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(d_k)  # (..., seq_q, seq_k)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != bool:
            raise ValueError(f"mask must be boolean (True = may attend); got dtype {mask.dtype}")
        try:
            np.broadcast_shapes(mask.shape, scores.shape)
        except ValueError:
            raise ValueError(f"mask of shape {mask.shape} does not broadcast to the scores {scores.shape}") from None
        scores = np.where(mask, scores, _NEG)  # before the softmax, never after
    weights = softmax(scores, axis=-1)  # (..., seq_q, seq_k)
    if mask is not None:
        weights = np.where(mask, weights, 0.0)  # exactly zero (exp(-1e30) already underflows to 0)
    return weights @ v, weights


def padding_mask(attention_mask: np.ndarray) -> np.ndarray:
    """BERT's padding mask ``(batch, seq)`` of 1/0 → boolean ``(batch, 1, 1, seq)`` for the scores.

    Every query may attend to every real (non-padding) key; the mask broadcasts over heads and queries.
    """
    attention_mask = np.asarray(attention_mask)
    if attention_mask.ndim != 2:
        raise ValueError(f"attention_mask must be (batch, seq); got shape {attention_mask.shape}")
    return (attention_mask != 0)[:, None, None, :]


def causal_mask(seq: int) -> np.ndarray:
    """GPT's causal mask ``(seq, seq)``: query i may attend to keys 0..i (BERT does not use it)."""
    return np.tril(np.ones((seq, seq), dtype=bool))


def split_heads(x: np.ndarray, num_heads: int) -> np.ndarray:
    """``(batch, seq, d_model) -> (batch, heads, seq, d_model / heads)``: head h gets features h·d_k…(h+1)·d_k."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"split_heads expects (batch, seq, d_model); got shape {x.shape}")
    batch, seq, d_model = x.shape
    if num_heads <= 0 or d_model % num_heads:
        raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
    return x.reshape(batch, seq, num_heads, d_model // num_heads).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """``(batch, heads, seq, d_k) -> (batch, seq, heads * d_k)``, the inverse of :func:`split_heads`."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"merge_heads expects (batch, heads, seq, d_k); got shape {x.shape}")
    batch, heads, seq, d_k = x.shape
    return x.transpose(0, 2, 1, 3).reshape(batch, seq, heads * d_k)


def multi_head_attention(
    x: np.ndarray,
    w_q: np.ndarray,
    w_k: np.ndarray,
    w_v: np.ndarray,
    w_o: np.ndarray,
    num_heads: int,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-head self-attention: Concat(head_1, …, head_h) W_O, head_i = Attention(X W_Q^i, X W_K^i, X W_V^i).

    Args:
        x: ``(batch, seq, d_model)``.
        w_q, w_k, w_v, w_o: ``(d_model, d_model)`` matrices applied as ``x @ w`` (no biases here).
        num_heads: h; ``d_model`` must be divisible by it.
        mask: boolean, broadcastable to ``(batch, heads, seq, seq)``, e.g. :func:`padding_mask`.

    Returns:
        ``(output (batch, seq, d_model), weights (batch, heads, seq, seq))``.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must be (batch, seq, d_model); got shape {x.shape}")
    d_model = x.shape[-1]
    for name, w in (("w_q", w_q), ("w_k", w_k), ("w_v", w_v), ("w_o", w_o)):
        if np.shape(w) != (d_model, d_model):
            raise ValueError(f"{name} must be ({d_model}, {d_model}) for d_model={d_model}; got {np.shape(w)}")
    q = split_heads(x @ w_q, num_heads)  # (batch, heads, seq, d_k)
    k = split_heads(x @ w_k, num_heads)
    v = split_heads(x @ w_v, num_heads)
    heads, weights = scaled_dot_product_attention(q, k, v, mask)  # (batch, heads, seq, d_k), (b, h, s, s)
    return merge_heads(heads) @ w_o, weights
