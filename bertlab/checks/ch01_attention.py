"""Checks for chapter 01 — attention in NumPy."""

from __future__ import annotations

import numpy as np

from .. import attention as ref
from ._core import Check, exercise

__all__ = ["softmax", "scaled_dot_product_attention", "make_padding_mask", "split_heads", "multi_head_attention"]


def _rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@exercise("softmax")
def softmax(c: Check, fn) -> None:
    x = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5], [-1.0, 0.0, 4.0]])  # square on purpose
    got = c.expect_numpy(c.call(fn, x, what="softmax(x)"), "softmax(x)")
    e = np.exp(x)
    c.expect_array(
        got, ref.softmax(x), what="softmax(x) for x = [[1, 2, 3], [0.5, 0.5, 0.5], [-1, 0, 4]]",
        mistakes={
            "you normalised over axis 0 (down the columns); use the `axis` argument, default -1.": ref.softmax(x, 0),
            "you normalised by the sum of the whole array; sum along `axis` only (np.sum(..., axis=axis, "
            "keepdims=True)).": e / e.sum(),
            "the maximum was subtracted without keepdims=True, so it broadcast along the wrong axis; "
            "use np.max(x, axis=axis, keepdims=True).": np.exp(x - x.max(axis=-1)) / np.exp(
                x - x.max(axis=-1)).sum(axis=-1, keepdims=True),
        },
        hint="softmax(x)_i = exp(x_i) / Σ_j exp(x_j), along the last axis.",
    )
    c.note("rows of softmax([[1,2,3],…]) match and sum to 1")
    big = np.array([[1000.0, 1001.0, 1002.0]])
    got = c.expect_numpy(c.call(fn, big, what="softmax([[1000, 1001, 1002]])"), "softmax of large scores")
    c.expect_array(
        got, ref.softmax(big), what="softmax([[1000, 1001, 1002]])",
        mistakes={"__nan__": "exp(1000) overflows to inf and inf/inf is NaN: subtract the row maximum "
                  "first (softmax(x) = softmax(x - max x))."},
        hint="subtract the row maximum before exp.",
    )
    c.note("stable for scores around 1000 (max subtracted)")
    x3 = _rng().normal(size=(2, 3, 4))
    got = c.expect_numpy(c.call(fn, x3, axis=1, what="softmax(x, axis=1)"), "softmax(x, axis=1)")
    c.expect_array(got, ref.softmax(x3, axis=1), what="softmax(x, axis=1) on a (2, 3, 4) array",
                   hint="honour the `axis` argument: reduce with axis=axis, not a fixed -1.")
    c.note("the axis argument is honoured on a 3-D array")


@exercise("scaled_dot_product_attention")
def scaled_dot_product_attention(c: Check, fn) -> None:
    rng = _rng()
    q, k, v = rng.normal(size=(2, 4, 8)), rng.normal(size=(2, 5, 8)), rng.normal(size=(2, 5, 6))
    got = c.call(fn, q, k, v, what="scaled_dot_product_attention(q, k, v)")
    c.expect(isinstance(got, tuple) and len(got) == 2,
             f"it should return a pair (output, weights); got {type(got).__name__}"
             + (f" of length {len(got)}" if isinstance(got, (tuple, list)) else "") + ".",
             "end with `return weights @ v, weights`.")
    out, w = got
    exp_out, exp_w = ref.scaled_dot_product_attention(q, k, v)
    scores = q @ np.swapaxes(k, -1, -2)
    c.expect_array(
        w, exp_w, what="the weights (2nd value) for q (2, 4, 8), k (2, 5, 8)",
        mistakes={
            "the scores were not divided by √d_k; with d_k = 8 they are √8 ≈ 2.8× too large, so the "
            "softmax is too peaked.": ref.softmax(scores),
            "the scores were divided by d_k instead of √d_k.": ref.softmax(scores / 8),
            "the softmax ran over the queries (axis -2); each query's weights over the keys must sum "
            "to 1: softmax over the last axis.": ref.softmax(scores / np.sqrt(8), axis=-2),
        },
        hint="weights = softmax(q @ kᵀ / √d_k) over the last axis (the keys).",
    )
    c.note("weights = softmax(QKᵀ/√d_k), each row sums to 1")
    c.expect_array(out, exp_out, what="the output (1st value)",
                   mistakes={"the output must be weights @ v, not v @ weights or weights alone.": exp_w},
                   hint="output = weights @ v.")
    c.note("output = weights · V")
    # with a padding mask: batch 1 has its last two keys padded
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=bool)[:, None, :]  # (2, 1, 5)
    got = c.call(fn, q, k, v, mask, what="scaled_dot_product_attention(q, k, v, mask)")
    out, w = got
    exp_out, exp_w = ref.scaled_dot_product_attention(q, k, v, mask)
    w = c.expect_numpy(w, "the weights with a mask")
    if w.shape == exp_w.shape and np.all(np.isfinite(w)):
        leaked = w[1, :, 3:]
        if np.max(np.abs(leaked)) > 1e-9:
            inverted = np.max(np.abs(w[1, :, :3])) < 1e-6
            c.fail(
                f"the weights are wrong on a padded batch: batch 1, query 0: key 3 is padding but got "
                f"weight {w[1, 0, 3]:.3g} (expected exactly 0).",
                "the mask looks inverted: True means the key may be attended to, so fill the scores where "
                "the mask is False." if inverted else
                "the mask was not applied: fill masked scores with a large negative number before the "
                "softmax (np.where(mask, scores, -1e9)).",
            )
        unmasked = np.where(mask, exp_w, 0)
        wrong_after = ref.softmax(q @ np.swapaxes(k, -1, -2) / np.sqrt(8)) * mask
        if np.allclose(w, wrong_after, atol=1e-6) and not np.allclose(w, unmasked, atol=1e-6):
            c.fail("masked weights are 0 but the rows no longer sum to 1 (batch 1 sums to "
                   f"{w[1].sum(-1).round(3).tolist()}).",
                   "fill masked scores with a large negative number *before* the softmax; zeroing them "
                   "after the softmax leaves rows that no longer sum to 1.")
    c.expect_array(w, exp_w, what="the weights with a padding mask",
                   hint="np.where(mask, scores, -1e9) before the softmax.")
    c.expect_array(out, exp_out, what="the output with a padding mask")
    c.note("padded keys get exactly zero weight and rows still sum to 1")


@exercise("make_padding_mask")
def make_padding_mask(c: Check, fn) -> None:
    am = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]])
    got = c.call(fn, am, what="make_padding_mask(attention_mask)")
    got = c.expect_numpy(got, "make_padding_mask(attention_mask)")
    exp = ref.padding_mask(am)
    if got.shape == (3, 4):
        c.fail("the mask has shape (batch, seq) = (3, 4); the scores are (batch, heads, seq_q, seq_k), so "
               "it needs shape (batch, 1, 1, seq) to broadcast over heads and queries.",
               "am[:, None, None, :].")
    if got.shape == (3, 1, 4, 1):
        c.fail("the mask has shape (3, 1, 4, 1): it masks queries, not keys.",
               "padding tokens must not be *attended to*: put seq on the last (key) axis: (batch, 1, 1, seq).")
    c.expect(got.dtype == bool, f"the mask has dtype {got.dtype}; expected bool (True = may attend).",
             "compare: attention_mask != 0 (or == 1) gives booleans.")
    c.expect_array(got, exp, what="the padding mask for attention_mask = [[1,1,1,1],[1,1,0,0],[1,0,0,0]]",
                   mistakes={"the mask is inverted: True must mean a real token (may attend), False padding.":
                             ~exp},
                   hint="True where attention_mask is 1.")
    c.note("boolean (batch, 1, 1, seq), True at real tokens")


@exercise("split_heads")
def split_heads(c: Check, fn) -> None:
    x = np.arange(2 * 3 * 8, dtype=float).reshape(2, 3, 8)
    got = c.expect_numpy(c.call(fn, x, 2, what="split_heads(x, num_heads=2)"), "split_heads(x, 2)")
    exp = ref.split_heads(x, 2)
    c.expect_array(
        got, exp, what="split_heads(x (2, 3, 8), num_heads=2)",
        mistakes={
            "a plain reshape to (batch, heads, seq, d_k) scrambles tokens and features: the heads split the "
            "*feature* axis, so split that axis first and only then move the head axis forward.":
                x.reshape(2, 2, 3, 4),
            "head h must get the contiguous features h·d_k … (h+1)·d_k-1, not every h-th feature: when you split "
            "the feature axis, the head index must be the slower-changing one.":
                x.reshape(2, 3, 4, 2).transpose(0, 3, 1, 2),
        },
        hint="try x = np.arange(48).reshape(2, 3, 8) with 2 heads: out[0, 1, 0] (batch 0, head 1, token 0) should "
             "be features 4 … 7 of token 0, i.e. [4, 5, 6, 7]. Print what yours gives.",
    )
    c.note("(batch, seq, d_model) → (batch, heads, seq, d_k) with contiguous features per head")
    got4 = c.expect_numpy(c.call(fn, x, 4, what="split_heads(x, num_heads=4)"), "split_heads(x, 4)")
    c.expect_array(got4, ref.split_heads(x, 4), what="split_heads(x, num_heads=4)",
                   hint="use num_heads, don't hard-code 2.")
    c.note("works for another number of heads")


@exercise("multi_head_attention")
def multi_head_attention(c: Check, fn) -> None:
    rng = _rng()
    x = rng.normal(size=(2, 5, 8))
    w_q, w_k, w_v, w_o = (rng.normal(size=(8, 8)) / np.sqrt(8) for _ in range(4))
    mask = ref.padding_mask(np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]))
    got = c.call(fn, x, w_q, w_k, w_v, w_o, 2, mask, what="multi_head_attention(x, …, num_heads=2, mask)")
    c.expect(isinstance(got, tuple) and len(got) == 2, "it should return a pair (output, weights).",
             "return merge_heads(heads) @ w_o, weights.")
    out, w = got
    exp_out, exp_w = ref.multi_head_attention(x, w_q, w_k, w_v, w_o, 2, mask)
    one_head_out, one_head_w = ref.multi_head_attention(x, w_q, w_k, w_v, w_o, 1, mask)
    q, k, v = (ref.split_heads(x @ w, 2) for w in (w_q, w_k, w_v))
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(8)  # scaled by √d_model instead of √d_k
    wrong_scale_w = np.where(mask, ref.softmax(np.where(mask, s, -1e30)), 0)
    c.expect_array(
        w, exp_w, what="the attention weights (batch, heads, seq, seq)",
        mistakes={"the scores were scaled by √d_model; each head has width d_k = d_model / heads, scale by "
                  "√d_k.": wrong_scale_w},
        hint="split q, k, v into heads before the attention; the weights are (batch, heads, seq, seq)."
        if np.shape(w) != exp_w.shape else "scores = q @ kᵀ / √d_k per head, masked, softmax.",
    )
    c.note("per-head weights (batch, heads, seq, seq), scaled by √d_k")
    c.expect_array(
        out, exp_out, what="the output (batch, seq, d_model)",
        mistakes={
            "the output projection W_O is missing: multiply the merged heads by w_o.":
                ref.merge_heads(exp_w @ ref.split_heads(x @ w_v, 2)),
            "the heads were merged with a plain reshape; transpose back to (batch, seq, heads, d_k) first.":
                (exp_w @ ref.split_heads(x @ w_v, 2)).reshape(2, 5, 8) @ w_o,
            "this is single-head attention: split into num_heads heads.": one_head_out,
        },
        hint="output = merge_heads(weights @ v) @ w_o.",
    )
    c.note("output = Concat(head_1..head_h) W_O")
