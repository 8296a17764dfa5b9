# Reference solutions for chapter 02 (positional encoding).
# %% solution: sinusoidal_encoding
def sinusoidal_encoding(max_len, d_model):
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d))."""
    pos = np.arange(max_len)[:, None]                     # (max_len, 1)
    two_i = np.arange(0, d_model, 2)[None, :]             # (1, d/2): 0, 2, 4, …
    angles = pos / 10000 ** (two_i / d_model)             # (max_len, d/2)
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe

# %% solution: rotation_for_offset
def rotation_for_offset(k, d_model):
    """Block-diagonal R with PE[pos + k] = R @ PE[pos]."""
    R = np.zeros((d_model, d_model))
    for i in range(d_model // 2):
        w = 1 / 10000 ** (2 * i / d_model)
        c, s = np.cos(k * w), np.sin(k * w)
        R[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[c, s], [-s, c]]
    return R

# %% solution: bert_embedding_sum
def bert_embedding_sum(input_ids, token_type_ids, word_emb, pos_emb, type_emb, gamma, beta, eps=1e-12):
    """LayerNorm(E_token[ids] + E_position[0..seq-1] + E_segment[types])."""
    seq = input_ids.shape[1]
    x = word_emb[input_ids] + pos_emb[np.arange(seq)][None, :, :] + type_emb[token_type_ids]
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta
