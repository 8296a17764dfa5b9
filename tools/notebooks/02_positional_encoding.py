# %% [markdown]
# # 02 · Positional encoding
#
# **What you will build:** the sinusoidal positional encoding of *Attention Is All You Need*, its
# properties (each one computed), and BERT's own input layer: learned position embeddings plus segment
# embeddings, summed with the token embeddings and normalised.
#
# **You need:** chapter 01 (`bertlab.attention`). Three exercises: the sinusoidal encoding, the rotation
# matrix for an offset k, and BERT's embedding sum.

# %%
import matplotlib.pyplot as plt
import numpy as np

import bertlab
from bertlab import checks as check
from bertlab.attention import multi_head_attention

plt.rcParams["figure.dpi"] = 80
np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Attention alone does not know word order
#
# Self-attention compares every token with every other token; nothing in
# softmax(QKᵀ/√d_k)V says which token came first. Permute the input tokens and the outputs come out
# permuted the same way — *permutation equivariance*: Attn(PX) = P·Attn(X). So "dog bites man" and
# "man bites dog" would get the same set of vectors. Computed with chapter 01's multi-head attention:

# %%
d_model, heads = 16, 4
x = rng.normal(size=(1, 5, d_model))                      # 5 token embeddings, no positions
w = [rng.normal(size=(d_model, d_model)) / 4 for _ in range(4)]
perm = np.array([2, 0, 4, 1, 3])
out, _ = multi_head_attention(x, *w, heads)
out_perm, _ = multi_head_attention(x[:, perm], *w, heads)
print("max |Attn(PX) − P·Attn(X)| < 1e-12:", np.abs(out_perm - out[:, perm]).max() < 1e-12)
assert np.allclose(out_perm, out[:, perm])

# %% [markdown]
# ## 2. The sinusoidal encoding
#
# $$PE_{(pos,\,2i)} = \sin\!\left(\frac{pos}{10000^{2i/d}}\right),\qquad
#   PE_{(pos,\,2i+1)} = \cos\!\left(\frac{pos}{10000^{2i/d}}\right)$$
#
# Each pair of columns $(2i, 2i+1)$ is a point on a circle turning at its own frequency
# $\omega_i = 1/10000^{2i/d}$: the first pair turns one radian per position, the last pair almost not
# at all. Together they work like the hands of a clock with many hands.
#
# ### Exercise 1 — `sinusoidal_encoding(max_len, d_model)`
# Return a `(max_len, d_model)` array: `sin` in the even columns, `cos` in the odd columns
# (interleaved), positions 0 … max_len−1.

# %% tags=["exercise:sinusoidal_encoding"]
def sinusoidal_encoding(max_len, d_model):
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d))."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.sinusoidal_encoding(sinusoidal_encoding)

# %%
from bertlab.positional import frequencies, rotation_for_offset, sinusoidal_encoding, wavelengths

bertlab.show(sinusoidal_encoding)

# %% [markdown]
# ### A formula that circulates, and is wrong
# Some tutorials write the encoding as one product, $PE = \sin(\cdot)\cos(\cdot)$. It is not the paper's
# formula, and it breaks the encoding: $\sin a \cos a = \tfrac12 \sin 2a$, so the even and odd columns are
# identical (half the dimensions are wasted), position 0 is the zero vector, and the rotation property
# below no longer holds (section 3 measures that). Computed:

# %%
pe = sinusoidal_encoding(128, 64)
angles = np.arange(128)[:, None] * frequencies(64)[None, :]
wrong = np.repeat(np.sin(angles) * np.cos(angles), 2, axis=1)   # sin·cos in both columns of each pair
print("paper:   PE[0] =", pe[0, :6], "…")
print("product: PE[0] =", wrong[0, :6], "…  (position 0 carries no signal)")
print("product: max |value| =", np.abs(wrong).max().round(3), " (the paper's reaches 1)")
print("product: even column == odd column:", np.allclose(wrong[:, 0::2], wrong[:, 1::2]),
      "(by construction: the formula gives both columns of a pair the same value, so each pair carries one number)")

# %% [markdown]
# ## 3. Its properties, each computed
# **Bounded, unit circles:** every entry is in [−1, 1] and each (sin, cos) pair has norm 1, so every row
# has norm √(d/2). **Distinct rows:** no two positions (up to 512 here) share an encoding.

# %%
pe = sinusoidal_encoding(512, 64)
pair_norms = pe[:, 0::2] ** 2 + pe[:, 1::2] ** 2
dist = np.linalg.norm(pe[:, None] - pe[None], axis=-1) + np.eye(512) * 1e9
print("range:", pe.min().round(4), "…", pe.max().round(4), "| pair norms all 1:", np.allclose(pair_norms, 1))
print("smallest distance between two different positions:", dist.min().round(4))
assert np.abs(pe).max() <= 1 and dist.min() > 1e-3

# %% [markdown]
# **Relative positions are a fixed linear map.** For any offset $k$ there is one matrix $R_k$ — the same
# for every position — with $PE_{pos+k} = R_k\,PE_{pos}$. From the angle-addition formulas, on each pair:
#
# $$\begin{pmatrix}\sin((pos+k)\omega)\\ \cos((pos+k)\omega)\end{pmatrix} =
#   \begin{pmatrix}\cos k\omega & \sin k\omega\\ -\sin k\omega & \cos k\omega\end{pmatrix}
#   \begin{pmatrix}\sin(pos\,\omega)\\ \cos(pos\,\omega)\end{pmatrix}$$
#
# so $R_k$ is block-diagonal, a rotation by $k\omega_i$ in each pair.
#
# ### Exercise 2 — `rotation_for_offset(k, d_model)`
# Return the `(d_model, d_model)` matrix $R_k$ with `R @ PE[pos] == PE[pos + k]`.

# %% tags=["exercise:rotation_for_offset"]
def rotation_for_offset(k, d_model):
    """Block-diagonal R with PE[pos + k] = R @ PE[pos] for every pos."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.rotation_for_offset(rotation_for_offset)

# %%
from bertlab.positional import rotation_for_offset

for k in [1, 10, 100]:
    R = rotation_for_offset(k, 64)
    err = np.abs(pe[:-k] @ R.T - pe[k:]).max()   # all positions at once (rows: PE[pos+k] = PE[pos] Rᵀ)
    print(f"k = {k:3d}: max |R_k PE[pos] − PE[pos+k]| over all pos < 1e-9: {err < 1e-9};  R_k orthogonal: "
          f"{np.allclose(R @ R.T, np.eye(64))}")
    assert err < 1e-9

# %% [markdown]
# Does the sin·cos product have such a map? $\sin a \cos a = \tfrac12 \sin 2a$, and shifting $\sin 2a$ needs
# $\cos 2a$, which the product form no longer contains. Rather than argue, fit the **best** linear map $M$
# (least squares over all 512 positions, $PE_{pos+k} \approx PE_{pos} M$) for both forms and print how much is
# left unexplained:

# %%
angles512 = np.arange(512)[:, None] * frequencies(64)[None, :]
product = np.repeat(np.sin(angles512) * np.cos(angles512), 2, axis=1)     # the tutorial's form, 512 × 64
residual = {}
for k in [1, 10, 100]:
    for name, table in [("paper", pe), ("sin·cos product", product)]:
        X, Y = table[:-k], table[k:]
        M_best, *_ = np.linalg.lstsq(X, Y, rcond=None)                   # the best M for this offset
        residual[name, k] = np.linalg.norm(X @ M_best - Y) / np.linalg.norm(Y)
    print(f"k = {k:3d}: relative residual of the best linear map — paper {residual['paper', k]:.2f}, "
          f"sin·cos product {residual['sin·cos product', k]:.2f}")
assert all(residual["paper", k] < 1e-9 and residual["sin·cos product", k] > 0.2 for k in [1, 10, 100])

# %% [markdown]
# **The dot product depends only on the offset:** $PE_{pos}\cdot PE_{pos+k} = \sum_i \cos(k\,\omega_i)$,
# whatever $pos$ is — attention scores between positions can "see" distance. Computed for every pos:

# %%
offsets = np.arange(0, 200)
dots = np.array([np.einsum("pd,pd->p", pe[: 512 - k], pe[k:]).std() for k in offsets])
print("largest spread of PE[pos]·PE[pos+k] over pos, any k < 200:", dots.max().round(12))
formula = np.array([np.cos(k * frequencies(64)).sum() for k in offsets])
measured = np.array([pe[0] @ pe[k] for k in offsets])
assert np.allclose(formula, measured) and dots.max() < 1e-9

# %% [markdown]
# Two limits of this property. It is **symmetric**: cos is even, so $PE_{pos}\cdot PE_{pos+k} =
# PE_{pos}\cdot PE_{pos-k}$ — the dot product tells how far, not which side. And attention never sees
# $PE\cdot PE$: it compares $x W_Q$ with $x W_K$, and after two different projections the score between
# positions depends on $pos$ again (random $W_Q$, $W_K$ here):

# %%
for k in [1, 5, 20]:
    print(f"k = {k:2d}: PE[100]·PE[100+k] = {pe[100] @ pe[100 + k]:.6f}   PE[100]·PE[100−k] = {pe[100] @ pe[100 - k]:.6f}")
W_Q, W_K = rng.normal(size=(64, 64)) / 8, rng.normal(size=(64, 64)) / 8
q_pe, k_pe = pe @ W_Q, pe @ W_K
plus5 = np.einsum("pd,pd->p", q_pe[50:400], k_pe[55:405])                 # q_pos · k_pos+5 for pos 50 … 399
minus5 = np.einsum("pd,pd->p", q_pe[50:400], k_pe[45:395])                # q_pos · k_pos−5
print(f"after W_Q, W_K: spread (sd) of q_pos·k_pos+5 over pos = {plus5.std():.2f} (it was {dots[5]:.1f} before); "
      f"mean at +5 {plus5.mean():.2f} vs at −5 {minus5.mean():.2f}")
assert np.allclose([pe[100] @ pe[100 + k] for k in [1, 5, 20]], [pe[100] @ pe[100 - k] for k in [1, 5, 20]])
assert plus5.std() > 0.1

# %% [markdown]
# **Wavelengths form a geometric progression**, from $2\pi$ (≈ 6.3 positions) to $2\pi\cdot10000^{(d-2)/d}$,
# each $10000^{2/d}$ times the previous:

# %%
lam = wavelengths(64)
print("first wavelengths:", lam[:4].round(2), "… last:", lam[-1].round(0))
print("ratio between neighbours:", np.unique((lam[1:] / lam[:-1]).round(10)), "= 10000^(2/64) =", round(10000 ** (2 / 64), 10))

# %% [markdown]
# ### Pictures: the encoding, a few dimensions, and the dot product vs offset

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.3))
im = axes[0].imshow(pe[:100].T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
axes[0].set(title="PE (100 positions × 64 dims)", xlabel="position", ylabel="dimension")
fig.colorbar(im, ax=axes[0])
for dim in [0, 1, 10, 30]:
    axes[1].plot(pe[:100, dim], label=f"dim {dim}")
axes[1].set(title="a few dimensions over positions", xlabel="position")
axes[1].legend(fontsize=7)
axes[2].plot(offsets, measured)
axes[2].set(title="PE[pos]·PE[pos+k] (same for every pos)", xlabel="offset k")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Explore (live kernel): pick a position and a dimension
# The slider shows one position's whole encoding and one dimension across positions. The static figure
# above shows the same thing for fixed choices.

# %%
# NBVAL_IGNORE_OUTPUT
import ipywidgets as widgets


def explore(pos=10, dim=4):
    fig, axes = plt.subplots(1, 2, figsize=(9, 2.6))
    axes[0].bar(range(64), pe[pos], color=["tab:blue" if d % 2 == 0 else "tab:orange" for d in range(64)])
    axes[0].set(title=f"PE[{pos}] (blue: sin, orange: cos)", ylim=(-1.1, 1.1))
    axes[1].plot(pe[:200, dim])
    axes[1].axvline(pos, color="red", ls=":")
    axes[1].set(title=f"dimension {dim}: wavelength {wavelengths(64)[dim // 2]:.1f} positions", xlabel="position")
    plt.tight_layout()
    plt.show()


widgets.interactive(explore, pos=widgets.IntSlider(10, 0, 199), dim=widgets.IntSlider(4, 0, 63))

# %% [markdown]
# ## 4. What BERT actually does: learned positions + segments
#
# BERT does **not** use the sinusoidal encoding. It learns a table of 512 position vectors (one per
# position, like word embeddings), and adds a **segment** (token type) vector — A for the first
# sentence, B for the second — then applies LayerNorm (and dropout in training):
#
# $$E = \text{LayerNorm}\big(E_{token}[w_t] + E_{position}[t] + E_{segment}[s_t]\big)$$
#
# A consequence: BERT cannot read more than 512 tokens — there is no row 513 in the table.
# (A common slip is to size the position table by the *vocabulary*: it has one row per position.)
#
# ### Exercise 3 — `bert_embedding_sum(input_ids, token_type_ids, word_emb, pos_emb, type_emb, gamma, beta)`
# `input_ids`, `token_type_ids`: `(batch, seq)`; the three tables `(rows, H)`; `gamma`, `beta`: `(H,)`.
# Return `(batch, seq, H)`: the sum, normalised over the last axis (mean 0, variance 1, ε = 1e-12), scaled
# by γ and shifted by β. Positions are 0 … seq−1.

# %% tags=["exercise:bert_embedding_sum"]
def bert_embedding_sum(input_ids, token_type_ids, word_emb, pos_emb, type_emb, gamma, beta, eps=1e-12):
    """LayerNorm(E_token[ids] + E_position[0..seq-1] + E_segment[types]) · γ + β."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.bert_embedding_sum(bert_embedding_sum)

# %% [markdown]
# The package's version, on a sentence pair `[CLS] the cat sat [SEP] it slept [SEP]` with toy tables
# (chapter 04 loads the real 30,522 × 384 tables of a pretrained model):

# %%
from bertlab.positional import bert_embeddings

H = 8
word_emb, pos_emb, type_emb = rng.normal(size=(30, H)), rng.normal(size=(16, H)) * 0.5, rng.normal(size=(2, H)) * 0.5
tokens = ["[CLS]", "the", "cat", "sat", "[SEP]", "it", "slept", "[SEP]"]
ids = np.array([[2, 10, 11, 12, 3, 13, 14, 3]])
types = np.array([[0, 0, 0, 0, 0, 1, 1, 1]])        # segment A up to and including the first [SEP]
emb = bert_embeddings(ids, types, word_emb, pos_emb, type_emb, np.ones(H), np.zeros(H))
print("shape:", emb.shape, "| per-token mean ≈ 0:", np.allclose(emb.mean(-1), 0), "| variance ≈ 1:",
      np.allclose(emb.var(-1), 1))

fig, axes = plt.subplots(1, 4, figsize=(13, 2.6), sharey=True)
parts = [("token", word_emb[ids[0]]), ("position", pos_emb[:8]), ("segment", type_emb[types[0]]),
         ("LayerNorm(sum)", emb[0])]
for ax, (title, mat) in zip(axes, parts):
    ax.imshow(mat, cmap="RdBu", vmin=-2.5, vmax=2.5, aspect="auto")
    ax.set_title(title)
    ax.set_xlabel("hidden dim")
axes[0].set_yticks(range(8), tokens, fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Because positions are now part of the input, attention is no longer permutation-equivariant: swap two
# words and the outputs change in more than their order.

# %%
x_pos = emb                                             # tokens + positions + segments
swap = np.array([0, 2, 1, 3, 4, 5, 6, 7])               # swap "the" and "cat"
w8 = [rng.normal(size=(H, H)) / 3 for _ in range(4)]
o1, _ = multi_head_attention(x_pos, *w8, 2)
x_swapped = bert_embeddings(ids[:, swap], types, word_emb, pos_emb, type_emb, np.ones(H), np.zeros(H))
o2, _ = multi_head_attention(x_swapped, *w8, 2)
print("with positions, max |Attn(swapped) − swap(Attn(x))| =", np.abs(o2 - o1[:, swap]).max().round(3))
assert not np.allclose(o2, o1[:, swap])

# %% [markdown]
# ## Summary
# - Attention is permutation-equivariant; positions must be added to the input.
# - Sinusoidal: PE(pos, 2i) = sin(pos/10000^(2i/d)), PE(pos, 2i+1) = cos(…) — interleaved, never a sin·cos product.
# - Properties (computed above): bounded; distinct rows; PE(pos+k) = R_k PE(pos) with one rotation per
#   offset (no linear map exists for the sin·cos product: residual 0.4–0.5); PE(pos)·PE(pos+k) depends
#   only on k — but equally on −k, and not any more after W_Q, W_K; wavelengths grow geometrically from 2π.
# - BERT learns 512 position vectors instead, adds segment vectors, then LayerNorm.
#
# **Going further:** relative position schemes (Shaw et al. 2018, T5's buckets) and rotary embeddings
# (RoPE, 2021) build the rotation property into attention itself. Chapter 03 turns text into the ids
# these tables are indexed by.

# %%
import bertlab

bertlab.progress("02")  # this chapter's exercises: ✅ passed, ❌ failed, ✏️ not yet (recorded in your workspace only)
