# Reference solutions for chapter 01 (attention in NumPy). Each section replaces the exercise cell
# tagged `exercise:<name>` in the solved-course test; `bertlab.solution("<name>")` shows one.
# %% solution: softmax
def softmax(x, axis=-1):
    """Numerically stable softmax along `axis`."""
    shifted = x - np.max(x, axis=axis, keepdims=True)  # softmax(x) = softmax(x - max): no overflow
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)

# %% solution: scaled_dot_product_attention
def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q kᵀ / √d_k) v; mask is boolean, True = may attend."""
    d_k = q.shape[-1]
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(d_k)  # (..., seq_q, seq_k)
    if mask is not None:
        scores = np.where(mask, scores, -1e9)  # before the softmax
    weights = softmax(scores, axis=-1)
    return weights @ v, weights

# %% solution: make_padding_mask
def make_padding_mask(attention_mask):
    """(batch, seq) of 1/0 → boolean (batch, 1, 1, seq), True at real tokens."""
    return (np.asarray(attention_mask) == 1)[:, None, None, :]

# %% solution: split_heads
def split_heads(x, num_heads):
    """(batch, seq, d_model) → (batch, heads, seq, d_model // heads)."""
    batch, seq, d_model = x.shape
    return x.reshape(batch, seq, num_heads, d_model // num_heads).transpose(0, 2, 1, 3)

# %% solution: multi_head_attention
def multi_head_attention(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    """Concat(head_1, …, head_h) W_O with head_i = Attention(x W_Q^i, x W_K^i, x W_V^i)."""
    q = split_heads(x @ w_q, num_heads)  # (batch, heads, seq, d_k)
    k = split_heads(x @ w_k, num_heads)
    v = split_heads(x @ w_v, num_heads)
    heads, weights = scaled_dot_product_attention(q, k, v, mask)
    batch, h, seq, d_k = heads.shape
    merged = heads.transpose(0, 2, 1, 3).reshape(batch, seq, h * d_k)  # merge heads
    return merged @ w_o, weights
