# %% [markdown]
# # 01 · Attention in NumPy
#
# **What you will build:** the heart of BERT, from the formula
#
# $$\text{Attention}(Q, K, V) = \text{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V$$
#
# to multi-head self-attention with BERT's padding mask — in plain NumPy, so every step is visible.
# Five exercises (softmax, scaled dot-product attention, the padding mask, splitting heads,
# multi-head attention), each followed by a check that tells you exactly what is wrong.
#
# **You need:** NumPy and chapter 00 (how the checks work). Chapter 04 will rebuild all of this in
# PyTorch and show that the two agree to 1e-6.

# %%
import numpy as np
import matplotlib.pyplot as plt

import bertlab
from bertlab import attention
from bertlab import checks as check

plt.rcParams["figure.dpi"] = 80
np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Softmax, and why the naive one breaks
#
# Softmax turns scores into a probability distribution: $\text{softmax}(x)_i = e^{x_i} / \sum_j e^{x_j}$.
# Written literally it overflows: `exp(1000)` is `inf` in float64, and `inf / inf` is `NaN`.

# %%
def naive_softmax(x):
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)

print("small scores:", naive_softmax(np.array([1.0, 2.0, 3.0])))
with np.errstate(over="ignore", invalid="ignore"):
    print("large scores:", naive_softmax(np.array([1000.0, 1001.0, 1002.0])))

# %% [markdown]
# The fix costs nothing: softmax is unchanged when you subtract the same number from every score,
# because $e^{x_i - m} / \sum_j e^{x_j - m} = e^{x_i} / \sum_j e^{x_j}$. Subtract the maximum, and the
# largest exponent is $e^0 = 1$: no overflow. Computed:

# %%
x = np.array([1.0, 2.0, 3.0])
m = x.max()
lhs = np.exp(x - m) / np.exp(x - m).sum()
rhs = np.exp(x) / np.exp(x).sum()
print(lhs, rhs, "equal:", np.allclose(lhs, rhs))

# %% [markdown]
# ### Exercise 1 — a numerically stable softmax
# Softmax along `axis` (default the last one) for arrays of any shape. Subtract the maximum along
# that axis (`keepdims=True` keeps it broadcastable) and do not modify the input in place.

# %% tags=["exercise:softmax"]
def softmax(x, axis=-1):
    """Numerically stable softmax along `axis`."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.softmax(softmax)

# %% [markdown]
# Stuck? The ❌ message names the mistake; `bertlab.solution("softmax")` shows the reference.
# From here on the notebook uses the package's version, `bertlab.attention.softmax`, so later cells
# work whether or not you solved the exercise:

# %%
from bertlab.attention import softmax
bertlab.show(softmax)

# %% [markdown]
# The package's version also refuses input it cannot normalise, with a message instead of a silent NaN
# (a score of +inf makes exp(inf − inf) = NaN; a row where every score is −inf has nothing to normalise).
# A single −inf is fine — it gets weight 0:

# %%
print(softmax(np.array([0.0, -np.inf, 1.0])))
for bad in (np.array([1.0, np.inf, 2.0]), np.array([-np.inf, -np.inf])):
    try:
        softmax(bad)
    except ValueError as e:
        print("ValueError:", e)

# %% [markdown]
# ## 2. Scaled dot-product attention
#
# Each query vector $q_i$ is compared with every key $k_j$ by a dot product; softmax turns the
# scores of one query into weights; the output is the weighted average of the values:
# $\text{out}_i = \sum_j \text{softmax}_j(q_i \cdot k_j / \sqrt{d_k})\, v_j$. A tiny example, 3 tokens,
# $d_k = 4$, computed by hand:

# %%
q = rng.normal(size=(3, 4))
k = rng.normal(size=(3, 4))
v = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
scores = q @ k.T / np.sqrt(4)  # (3 queries, 3 keys)
weights = softmax(scores)
print("weights (rows sum to 1):\n", weights, "\nrow sums:", weights.sum(-1))
print("output = weights @ v:\n", weights @ v)

# %% [markdown]
# ### Exercise 2 — `scaled_dot_product_attention(q, k, v, mask=None)`
# `q` is `(..., seq_q, d_k)`, `k` is `(..., seq_k, d_k)`, `v` is `(..., seq_k, d_v)`; return
# `(output, weights)`. `mask` is boolean, broadcastable to `(..., seq_q, seq_k)`, **True where attending
# is allowed**: set the other scores to a large negative number (e.g. `-1e9`) *before* the softmax.
# Use `np.swapaxes(k, -1, -2)` for $K^\top$ so batches and heads work too.

# %% tags=["exercise:scaled_dot_product_attention"]
def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q kᵀ / √d_k) v, with an optional boolean mask (True = may attend)."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.scaled_dot_product_attention(scaled_dot_product_attention)

# %%
from bertlab.attention import scaled_dot_product_attention
out, w = scaled_dot_product_attention(q, k, v)
assert np.allclose(w, weights) and np.allclose(out, weights @ v)  # the package equals the hand computation

# %% [markdown]
# ## 3. Why divide by √d_k? An experiment
#
# If the entries of $q$ and $k$ are independent with mean 0 and variance 1, then
# $q \cdot k = \sum_{i=1}^{d_k} q_i k_i$ has variance $d_k$. Large scores push softmax into
# saturation: one weight near 1, the rest near 0. Saturated, it also passes almost no gradient back to
# the scores: the Jacobian of $p = \text{softmax}(s)$ is
#
# $$\frac{\partial p_i}{\partial s_j} = p_i(\delta_{ij} - p_j),\qquad J = \text{diag}(p) - p\,p^\top,$$
#
# which is the zero matrix when $p$ is one-hot. Dividing by $\sqrt{d_k}$ brings the variance back to 1.
# Measured on 20,000 random pairs for each $d_k$, and on 500 queries against 16 keys for the largest
# weight and the Jacobian's (Frobenius) norm:

# %%
def jacobian_norm(p):
    """Mean Frobenius norm of the softmax Jacobian diag(p) − p pᵀ over the rows of p (n, keys)."""
    J = np.einsum("ni,ij->nij", p, np.eye(p.shape[-1])) - p[:, :, None] * p[:, None, :]   # (n, keys, keys)
    return np.linalg.norm(J, axis=(1, 2)).mean()


d_ks = [4, 16, 64, 256, 1024]
rows = []
for d in d_ks:
    qs, ks = rng.normal(size=(20000, d)), rng.normal(size=(20000, d))
    raw = (qs * ks).sum(-1)
    # saturation: the largest softmax weight over 16 keys and the Jacobian's norm, over 500 queries
    s = rng.normal(size=(500, d)) @ rng.normal(size=(16, d)).T
    p_raw, p_scaled = softmax(s), softmax(s / np.sqrt(d))
    rows.append((d, raw.var(), (raw / np.sqrt(d)).var(), p_raw.max(-1).mean(), p_scaled.max(-1).mean(),
                 jacobian_norm(p_raw), jacobian_norm(p_scaled)))
print(f"{'d_k':>5} {'var(q·k)':>9} {'var(q·k/√d_k)':>14} {'max weight raw':>15} {'scaled':>7} {'‖J‖ raw':>8} {'scaled':>7}")
for d, v_raw, v_sc, m_raw, m_sc, j_raw, j_sc in rows:
    print(f"{d:>5} {v_raw:9.1f} {v_sc:14.2f} {m_raw:15.3f} {m_sc:7.3f} {j_raw:8.3f} {j_sc:7.3f}")
res = np.array(rows)
assert np.allclose(res[:, 1] / res[:, 0], 1, atol=0.1) and np.allclose(res[:, 2], 1, atol=0.1)
assert res[-1, 5] < res[0, 5] / 3 and res[:, 6].min() > 0.2   # unscaled: the gradient vanishes; scaled: it stays

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
axes[0].loglog(res[:, 0], res[:, 1], "o-", label="q·k")
axes[0].loglog(res[:, 0], res[:, 2], "s-", label="q·k / √d_k")
axes[0].set(xlabel="d_k", ylabel="variance of the score", title="score variance grows like d_k")
axes[0].legend()
axes[1].semilogx(res[:, 0], res[:, 3], "o-", label="unscaled")
axes[1].semilogx(res[:, 0], res[:, 4], "s-", label="scaled by √d_k")
axes[1].axhline(1 / 16, color="gray", ls=":", label="uniform (1/16)")
axes[1].set(xlabel="d_k", ylabel="largest weight (16 keys)", title="unscaled softmax saturates")
axes[1].legend()
axes[2].semilogx(res[:, 0], res[:, 5], "o-", label="unscaled")
axes[2].semilogx(res[:, 0], res[:, 6], "s-", label="scaled by √d_k")
axes[2].set(xlabel="d_k", ylabel="‖diag(p) − ppᵀ‖", title="…and its gradient vanishes", ylim=(0, None))
axes[2].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# Without the scale the Jacobian's norm falls as d_k grows (about six times smaller at d_k = 1024 than at
# d_k = 4 in the table): the scores of a wide head would barely learn. With it, the norm stays near 0.3 for
# every width.
#
# A common slip: in multi-head attention the scale is $\sqrt{d_k}$ **per head** ($d_k = d_{model}/h$,
# 64 in BERT-base), not $\sqrt{d_{model}}$.
#
# ### Temperature: play with the sharpness
# Dividing scores by a temperature $T$ sharpens ($T < 1$) or flattens ($T > 1$) the distribution —
# $\sqrt{d_k}$ is a temperature chosen so the scores have unit variance. Move the slider (live kernel);
# the static figure below it shows the same for four temperatures.

# %%
# NBVAL_IGNORE_OUTPUT
import ipywidgets as widgets

demo_scores = np.array([2.0, 1.0, 0.5, 0.2, -1.0])

def show_temperature(T=1.0):
    p = softmax(demo_scores / T)
    plt.figure(figsize=(4, 2.2))
    plt.bar(range(len(p)), p, color="tab:blue")
    plt.ylim(0, 1)
    plt.title(f"softmax(scores / {T:.2f})   max = {p.max():.2f}")
    plt.show()

widgets.interactive(show_temperature, T=widgets.FloatLogSlider(value=1.0, base=10, min=-1.3, max=1.3, step=0.05, description="T"))

# %%
fig, axes = plt.subplots(1, 4, figsize=(10, 2.2), sharey=True)
for ax, T in zip(axes, [0.1, 0.5, 1.0, 5.0]):
    p = softmax(demo_scores / T)
    ax.bar(range(len(p)), p)
    ax.set_title(f"T = {T}: max {p.max():.2f}")
axes[0].set_ylim(0, 1)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Masks: padding (BERT) and causal (GPT, for contrast)
#
# Sentences in a batch have different lengths, so short ones are padded with `[PAD]` tokens. BERT's
# `attention_mask` is 1 for real tokens and 0 for padding; **no token may attend to padding**. The mask
# acts on the *keys* (the last axis of the scores) and broadcasts over heads and queries, so it has shape
# `(batch, 1, 1, seq)`.
#
# ### Exercise 3 — `make_padding_mask(attention_mask)`
# `(batch, seq)` of 1/0 → boolean `(batch, 1, 1, seq)`, True at real tokens.

# %% tags=["exercise:make_padding_mask"]
def make_padding_mask(attention_mask):
    """(batch, seq) of 1/0 → boolean (batch, 1, 1, seq), True where a key may be attended to."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.make_padding_mask(make_padding_mask)

# %% [markdown]
# The misconception to avoid: **masking after the softmax** (multiplying the weights by the mask).
# The padded keys then get 0, but the remaining weights no longer sum to 1. Masking *before* the
# softmax renormalises over the real tokens. Both, computed on a batch whose second sentence has two
# padding tokens:

# %%
from bertlab.attention import padding_mask
attention_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
mask = padding_mask(attention_mask)                       # (2, 1, 1, 5)
xq = rng.normal(size=(2, 1, 5, 4))                        # (batch, heads=1, seq, d)
_, w_right = scaled_dot_product_attention(xq, xq, xq, mask)
w_wrong = softmax(xq @ np.swapaxes(xq, -1, -2) / 2.0) * mask
print("row sums, mask before softmax:", w_right[1, 0].sum(-1).round(3))
print("row sums, mask after softmax: ", w_wrong[1, 0].sum(-1).round(3))
print("weight on padded keys (before):", w_right[1, 0, :, 3:].max())
assert np.allclose(w_right.sum(-1), 1) and (w_right[1, :, :, 3:] == 0).all()

# %%
from bertlab.attention import causal_mask
both = causal_mask(5) & mask[1, 0]                         # (5, 5): earlier keys only, and no padding
_, w_causal = scaled_dot_product_attention(xq[1, 0], xq[1, 0], xq[1, 0], both)
fig, axes = plt.subplots(1, 3, figsize=(10, 3))
for ax, (title, mat) in zip(axes, [("padding mask, sentence 2", w_right[1, 0]),
                                   ("mask after softmax (wrong)", w_wrong[1, 0]),
                                   ("causal + padding (GPT, not BERT)", w_causal)]):
    ax.imshow(mat, cmap="Blues", vmin=0, vmax=1)
    ax.set(title=title, xlabel="key", ylabel="query")
    for (i, j), val in np.ndenumerate(mat):
        ax.text(j, i, f"{val:.2f}", ha="center", va="center", fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# All three panels show the same sentence (the second, with two padding tokens). BERT is bidirectional:
# with only the padding mask every token sees every real token, left and right. GPT's causal mask lets
# token $i$ see tokens $0 \ldots i$ only (combined here with the padding mask) — that is the difference
# that makes BERT an encoder.
#
# ## 5. Multi-head attention
#
# One attention is one way of comparing tokens. BERT runs $h$ of them in parallel on
# $d_k = d_{model}/h$-dimensional slices, then mixes them:
#
# $$\text{MultiHead}(X) = \text{Concat}(\text{head}_1, \ldots, \text{head}_h)\,W_O,\qquad
# \text{head}_i = \text{Attention}(XW_Q^{(i)}, XW_K^{(i)}, XW_V^{(i)})$$
#
# In code all heads are computed at once: project with one $(d_{model} \times d_{model})$ matrix, then
# **split** the last axis into `heads × d_k` and move the head axis forward.
#
# ### Exercise 4 — `split_heads(x, num_heads)`
# `(batch, seq, d_model)` → `(batch, heads, seq, d_k)`; head $h$ gets features $h\,d_k \ldots (h+1)\,d_k - 1$.

# %% tags=["exercise:split_heads"]
def split_heads(x, num_heads):
    """(batch, seq, d_model) → (batch, heads, seq, d_model // heads)."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.split_heads(split_heads)

# %%
from bertlab.attention import split_heads, merge_heads
x_demo = np.arange(2 * 3 * 8).reshape(2, 3, 8)
print("token 0 of batch 0:", x_demo[0, 0])
print("head 0 gets:", split_heads(x_demo, 2)[0, 0, 0], "  head 1 gets:", split_heads(x_demo, 2)[0, 1, 0])
assert np.array_equal(merge_heads(split_heads(x_demo, 2)), x_demo)  # merge is the inverse

# %% [markdown]
# ### Exercise 5 — `multi_head_attention(x, w_q, w_k, w_v, w_o, num_heads, mask=None)`
# Project ($x\,W$), split into heads, attend (use your `scaled_dot_product_attention`, which works on
# the extra head axis), merge the heads back, project with $W_O$. Return `(output, weights)` with
# weights `(batch, heads, seq, seq)`.

# %% tags=["exercise:multi_head_attention"]
def multi_head_attention(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    """Multi-head self-attention; weights are (d_model, d_model) matrices applied as x @ w."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.multi_head_attention(multi_head_attention)

# %% [markdown]
# ### Heads on a padded batch, drawn
# Eight random "token embeddings" (`d_model = 16`, 4 heads, random projections — chapter 04 draws the
# heads of a real pretrained BERT). The second sentence has 3 padding tokens: in every head their
# columns are empty.

# %%
from bertlab.attention import multi_head_attention
d_model, heads, seq = 16, 4, 8
x_batch = rng.normal(size=(2, seq, d_model))
w_q, w_k, w_v, w_o = (rng.normal(size=(d_model, d_model)) / np.sqrt(d_model) for _ in range(4))
am = np.array([[1] * 8, [1] * 5 + [0] * 3])
out, w = multi_head_attention(x_batch, w_q, w_k, w_v, w_o, heads, padding_mask(am))
print("output", out.shape, " weights", w.shape)
assert (w[1, :, :, 5:] == 0).all() and np.allclose(w.sum(-1), 1)

tokens = ["[CLS]", "the", "cat", "sat", "[SEP]", "[PAD]", "[PAD]", "[PAD]"]
fig, axes = plt.subplots(1, heads, figsize=(12, 3.2))
for h, ax in enumerate(axes):
    ax.imshow(w[1, h], cmap="viridis", vmin=0, vmax=1)
    ax.set_title(f"head {h}")
    ax.set_xticks(range(seq), tokens, rotation=90, fontsize=7)
    ax.set_yticks(range(seq), tokens, fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# Padding *queries* (the last three rows) still produce outputs — they are ignored later (the loss and
# the pooler never read them) — but no real token's output depends on padding. Check it: change the
# padded embeddings and the real tokens' outputs stay the same.

# %%
x_changed = x_batch.copy()
x_changed[1, 5:] = 100.0
out2, _ = multi_head_attention(x_changed, w_q, w_k, w_v, w_o, heads, padding_mask(am))
print("max change at real tokens:", np.abs(out2[1, :5] - out[1, :5]).max())
assert np.allclose(out2[1, :5], out[1, :5])

# %% [markdown]
# ## Summary
# - softmax: subtract the max (no overflow), normalise along one axis.
# - Attention(Q, K, V) = softmax(QKᵀ/√d_k) V; √d_k keeps score variance at 1 so softmax does not saturate.
# - BERT's padding mask hides padded *keys*, applied *before* the softmax; the causal mask is GPT's, not BERT's.
# - Multi-head: project, split into h heads of width d_k = d_model/h, attend, merge, project with W_O.
#
# **Going further:** chapter 02 shows why attention alone ignores word order (it is
# permutation-equivariant — `tests/test_attention.py` proves it) and how positions are added; chapter
# 04 rebuilds this in PyTorch and loads real weights.

# %%
import bertlab

bertlab.progress("01")  # this chapter's exercises: ✅ passed, ❌ failed, ✏️ not yet (recorded in your workspace only)
