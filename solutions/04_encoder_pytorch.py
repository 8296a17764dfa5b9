# Reference solutions for chapter 04 (the encoder in PyTorch).
# %% solution: feed_forward
def feed_forward(x, w1, b1, w2, b2):
    """FFN(x) = GELU(x W1 + b1) W2 + b2 with the exact (erf) GELU."""
    return torch.nn.functional.gelu(x @ w1 + b1) @ w2 + b2

# %% solution: attention_layer
class SelfAttention(nn.Module):
    """Multi-head self-attention with BERT's padding mask."""

    def __init__(self, hidden_size, num_heads):
        super().__init__()
        self.num_heads, self.d_k = num_heads, hidden_size // num_heads
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.output = nn.Linear(hidden_size, hidden_size)

    def forward(self, x, attention_mask):
        B, T, H = x.shape
        q, k, v = (lin(x).view(B, T, self.num_heads, self.d_k).transpose(1, 2)      # (B, heads, T, d_k)
                   for lin in (self.query, self.key, self.value))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_k)                      # (B, heads, T, T)
        mask = attention_mask.bool()[:, None, None, :]                              # (B, 1, 1, T)
        weights = scores.masked_fill(~mask, -1e9).softmax(dim=-1)
        context = (weights @ v).transpose(1, 2).reshape(B, T, H)                    # merge heads
        return self.output(context)

# %% solution: embedding_sum
def embedding_sum(input_ids, token_type_ids, word, position, segment, layer_norm):
    """LayerNorm(E_token + E_position + E_segment)."""
    positions = torch.arange(input_ids.shape[1])
    return layer_norm(word(input_ids) + position(positions)[None] + segment(token_type_ids))

# %% solution: bert_layer
def bert_layer(x, attention_mask, self_attention, attention_norm, feed_forward, ffn_norm):
    """One post-LN encoder layer: each sub-block's output is added to its input, then normalised."""
    a = attention_norm(x + self_attention(x, attention_mask))  # (B, T, H)
    return ffn_norm(a + feed_forward(a))                      # (B, T, H)

# %% solution: load_tensor
def load_tensor(hf_tensors, model, layer):
    """Copy one layer's query weight and bias from a Hugging Face state dict into our model."""
    target = model.encoder.layer[layer].attention.query
    with torch.no_grad():
        target.weight.copy_(hf_tensors[f"encoder.layer.{layer}.attention.self.query.weight"])
        target.bias.copy_(hf_tensors[f"encoder.layer.{layer}.attention.self.query.bias"])
