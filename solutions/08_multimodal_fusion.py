# Reference solutions for chapter 08 (multimodal fusion).
# %% solution: patch_embedding
def patch_embedding(images, patch_size, weight, bias, position_embeddings):
    """(B, H, W) or (B, C, H, W) → (B, N, D): row-major patches, each flattened as (C, p, p), x W + b + E_pos."""
    if images.dim() == 3:
        images = images[:, None]  # (B, 1, H, W)
    B, C, H, W = images.shape
    p = patch_size
    x = images.reshape(B, C, H // p, p, W // p, p)  # (B, C, rows, p, cols, p)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, rows, cols, C, p, p): row-major over the grid
    patches = x.reshape(B, (H // p) * (W // p), C * p * p)  # (B, N, C·p·p)
    return patches @ weight + bias + position_embeddings  # (B, N, D)

# %% solution: gated_fusion
def gated_fusion(v_t, v_i, gate_logits):
    """V_f = w_t·V_t + w_i·V_i with [w_t, w_i] = softmax(gate_logits) over the two modalities."""
    weights = torch.softmax(gate_logits, dim=-1)  # (B, 2), rows sum to 1
    fused = weights[:, 0:1] * v_t + weights[:, 1:2] * v_i  # column 0 → text, column 1 → image
    return fused, weights

# %% solution: itm_negatives
def itm_negatives(labels, rng):
    """For each i, a random j with labels[j] != labels[i] (so j != i too)."""
    labels = np.asarray(labels)
    out = np.empty(len(labels), dtype=np.int64)
    for i in range(len(labels)):
        candidates = np.flatnonzero(labels != labels[i])
        out[i] = rng.choice(candidates)
    return out

# %% solution: info_nce
def info_nce(image_emb, text_emb, temperature):
    """Symmetric InfoNCE (CLIP): mean of image→text and text→image cross-entropies."""
    F = torch.nn.functional
    i = F.normalize(image_emb, dim=-1)
    t = F.normalize(text_emb, dim=-1)
    logits = i @ t.T / temperature  # (B, B): row = image, column = text
    targets = torch.arange(len(logits))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
