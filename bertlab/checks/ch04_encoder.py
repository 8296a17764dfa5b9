"""Checks for chapter 04 — the encoder in PyTorch."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import model as ref
from ._core import Check, exercise

__all__ = ["feed_forward", "attention_layer", "embedding_sum", "bert_layer", "load_tensor"]


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


@exercise("feed_forward")
def feed_forward(c: Check, fn) -> None:
    g = torch.Generator().manual_seed(0)
    H, I = 6, 12
    x = torch.randn(2, 3, H, generator=g) * 2
    w1, b1 = torch.randn(H, I, generator=g), torch.randn(I, generator=g)
    w2, b2 = torch.randn(I, H, generator=g) / 3, torch.randn(H, generator=g)
    got = c.call(fn, x, w1, b1, w2, b2, what="feed_forward(x, w1, b1, w2, b2)")
    pre = x @ w1 + b1
    c.expect_array(
        got, F.gelu(pre) @ w2 + b2, what="FFN(x) for x (2, 3, 6), w1 (6, 12), w2 (12, 6)", kind="torch", atol=1e-5,
        mistakes={
            "this uses ReLU; BERT's FFN uses GELU: GELU(x W₁ + b₁) W₂ + b₂ (torch.nn.functional.gelu).":
                torch.relu(pre) @ w2 + b2,
            "this is the tanh approximation of GELU (original TF BERT code, 'gelu_new' in transformers); this "
            "course's checkpoints say \"hidden_act\": \"gelu\", the exact erf form: F.gelu(x).":
                _gelu_tanh(pre) @ w2 + b2,
            "this is the 'max(0, W₂σ(W₁x + b₁)) + b₂' form seen in tutorials: the activation goes *between* the "
            "two linear maps, not after the second.": torch.relu(torch.sigmoid(pre) @ w2) + b2,
            "the first bias b₁ is missing: GELU(x W₁ + b₁).": F.gelu(x @ w1) @ w2 + b2,
            "the activation was applied after the second linear map too.": F.gelu(F.gelu(pre) @ w2 + b2),
        },
        hint="go step by step and print each shape: (2, 3, 6) → after the first linear map (w1, b1) (2, 3, 12) → "
             "activation → after the second (w2, b2) (2, 3, 6). The weights are (in, out): no transpose needed.",
    )
    c.note("FFN(x) = GELU(x W₁ + b₁) W₂ + b₂ with exact (erf) GELU")


def _learner_module(c: Check, cls, hidden: int, heads: int):
    module = c.call(cls, hidden, heads, what=f"{getattr(cls, '__name__', 'your class')}(hidden_size={hidden}, "
                    f"num_heads={heads})")
    c.expect(isinstance(module, torch.nn.Module), f"calling your class gave {type(module).__name__}, not an nn.Module.",
             "pass the class itself (SelfAttention), which subclasses nn.Module.")
    for name in ("query", "key", "value", "output"):
        layer = getattr(module, name, None)
        c.expect(isinstance(layer, torch.nn.Linear) and tuple(layer.weight.shape) == (hidden, hidden),
                 f"the module needs an attribute `{name}` = nn.Linear({hidden}, {hidden}); got {layer!r}.",
                 "create self.query, self.key, self.value and self.output in __init__.")
    return module


@exercise("attention_layer")
def attention_layer(c: Check, cls) -> None:
    H, heads = 8, 2
    cfg = ref.BertConfig(vocab_size=10, hidden_size=H, num_hidden_layers=1, num_attention_heads=heads,
                         intermediate_size=16, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    reference = ref.BertSelfAttention(cfg).eval()
    module = _learner_module(c, cls, H, heads)
    module.load_state_dict({k: v for k, v in reference.state_dict().items()}, strict=False)
    module.eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, H, generator=g)
    am = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    with torch.no_grad():
        got = c.call(module, x, am, what="your_layer(x, attention_mask)")
        if isinstance(got, tuple):
            got = got[0]
        expected, _ = reference(x, am.bool()[:, None, None, :])

        def variant(scale: float, mask_mode: str, n_heads: int):
            q, k, v = (lin(x).view(2, 5, n_heads, H // n_heads).transpose(1, 2)
                       for lin in (reference.query, reference.key, reference.value))
            s = q @ k.transpose(-1, -2) / scale
            m = am.bool()[:, None, None, :]
            if mask_mode == "before":
                w = s.masked_fill(~m, -1e9).softmax(-1)
            elif mask_mode == "after":
                w = s.softmax(-1) * m
            elif mask_mode == "inverted":
                w = s.masked_fill(m, -1e9).softmax(-1)
            else:
                w = s.softmax(-1)
            ctx = (w @ v).transpose(1, 2).reshape(2, 5, H)
            return reference.output(ctx)

        d_k = H // heads
        mistakes = {
            "the scores were not divided by √d_k.": variant(1.0, "before", heads),
            "the padding mask was applied after the softmax; mask the scores before it.": variant(math.sqrt(d_k),
                                                                                                 "after", heads),
            "the mask is inverted: attention_mask is 1 for real tokens, which may be attended to.":
                variant(math.sqrt(d_k), "inverted", heads),
            "the padding mask was not used: padded keys must get zero weight.": variant(math.sqrt(d_k), "none", heads),
            "the heads were not split: with num_heads heads each attends within d_k = hidden/heads features.":
                variant(math.sqrt(H), "before", 1),
            "the scores were scaled by √hidden_size instead of √d_k (d_k = hidden_size / num_heads).":
                variant(math.sqrt(H), "before", heads),
        }
    c.expect_array(got, expected, what="the layer's output (batch 2, seq 5, hidden 8) on a padded batch",
                   kind="torch", atol=1e-5, mistakes=mistakes,
                   hint="try your class with num_heads=1 first: it must then equal chapter 01's scaled dot-product "
                        "attention on query(x), key(x), value(x), followed by self.output. If that works, look at "
                        "how you split and merge the heads.")
    c.note("matches BertSelfAttention with the same weights, padded batch included")


@exercise("embedding_sum")
def embedding_sum(c: Check, fn) -> None:
    torch.manual_seed(0)
    cfg = ref.BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=16, max_position_embeddings=12, hidden_dropout_prob=0.0)
    emb = ref.BertEmbeddings(cfg).eval()
    with torch.no_grad():
        emb.layer_norm.weight.uniform_(0.5, 1.5)
        emb.layer_norm.bias.uniform_(-0.2, 0.2)
    ids = torch.tensor([[2, 7, 9, 3, 11, 3], [2, 5, 3, 8, 3, 0]])
    types = torch.tensor([[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0]])
    args = (ids, types, emb.word_embeddings, emb.position_embeddings, emb.token_type_embeddings, emb.layer_norm)
    with torch.no_grad():
        got = c.call(fn, *args, what="embedding_sum(input_ids, token_type_ids, word, position, segment, layer_norm)")
        expected = emb(ids, types)
        pos = torch.arange(6)
        tok, p, seg = emb.word_embeddings(ids), emb.position_embeddings(pos)[None], emb.token_type_embeddings(types)
        mistakes = {
            "the segment (token type) embedding is missing.": emb.layer_norm(tok + p),
            "the LayerNorm is missing: BERT normalises the sum.": tok + p + seg,
            "positions start at 0, not 1.": emb.layer_norm(tok + emb.position_embeddings(pos + 1)[None] + seg),
            "the position embedding was indexed by the token ids (a positional table sized by the vocabulary?); "
            "index it by position 0 … T-1.": emb.layer_norm(tok + emb.position_embeddings(ids.clamp(max=11)) + seg),
        }
    c.expect_array(got, expected, what="the embeddings (2, 6, 8)", kind="torch", atol=1e-5, mistakes=mistakes,
                   hint="three lookups summed, then the LayerNorm. Print the shape of each lookup: they must all "
                        "broadcast to (B, T, H), and each table is indexed by something different.")
    c.note("LayerNorm(token + position + segment), positions 0 … T-1")


def _recorded(fn, calls: list):
    """``fn`` that appends the (args, kwargs) of every call to ``calls`` (a function, so the input-mutation
    check sees the same object before and after)."""

    def part(*args, **kwargs):
        calls.append((args, kwargs))
        return fn(*args, **kwargs)

    return part


@exercise("bert_layer")
def bert_layer(c: Check, fn) -> None:
    """fn(x, attention_mask, self_attention, attention_norm, feed_forward, ffn_norm) -> (B, T, H), post-LN."""
    torch.manual_seed(0)
    cfg = ref.BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    layer = ref.BertLayer(cfg).eval()
    with torch.no_grad():  # distinct γ, β per norm, so swapping the two norms shows
        for norm in (layer.attention_norm, layer.ffn_norm):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 5, 8, generator=g) * 2 + 0.5
    am = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])

    def attend(h, attention_mask=None):  # the contract: (B, T, H) and a (B, T) 1/0 mask → (B, T, H)
        return layer.attention(h, ref.key_mask(attention_mask) if attention_mask is not None else None)[0]

    n1, n2, ffn = layer.attention_norm, layer.ffn_norm, layer.ffn
    attention_calls: list = []
    ffn_calls: list = []
    parts = [_recorded(attend, attention_calls), n1, _recorded(ffn, ffn_calls), n2]
    with torch.no_grad():
        got = c.call(fn, x, am, *parts, what="bert_layer(x, attention_mask, self_attention, attention_norm, "
                     "feed_forward, ffn_norm)")
        c.expect(attention_calls, "self_attention was never called.",
                 "the first sub-block is self-attention: call self_attention(…, attention_mask).")
        c.expect(ffn_calls, "feed_forward was never called.", "the second sub-block is the feed-forward network.")
        masks = [args[1] if len(args) > 1 else kwargs.get("attention_mask") for args, kwargs in attention_calls]
        if any(m is None for m in masks):
            c.fail("self_attention was called without the attention mask, so real tokens attend to padding.",
                   "pass attention_mask on to self_attention: padded keys must get zero weight.")
        expected = layer(x, am)
        a = attend(x, am)
        h = n1(x + a)
        unmasked = n1(x + attend(x))
        pre_h = x + attend(n1(x), am)
        mistakes = {
            "this is pre-LN (normalise *before* each sub-block, add the residual after, as GPT-2 does); BERT is "
            "post-LN: each LayerNorm comes after its residual sum.": pre_h + ffn(n2(pre_h)),
            "the residual around self-attention is missing: the attention's output must be added to its input "
            "before attention_norm.": n2(n1(a) + ffn(n1(a))),
            "the residual around the feed-forward block is missing: add the FFN's input to its output before "
            "ffn_norm.": n2(ffn(h)),
            "both residual connections are missing: each sub-block's input is added to its output.": n2(ffn(n1(a))),
            "the feed-forward block was fed the layer's input x; it reads the output of the attention sub-block "
            "(after attention_norm).": n2(h + ffn(x)),
            "the feed-forward block was fed the attention sum *before* attention_norm; feed it the normalised "
            "result.": n2(h + ffn(x + a)),
            "the feed-forward block was fed the raw attention output; feed it the attention sub-block's result "
            "(after its residual sum and attention_norm).": n2(h + ffn(a)),
            "the LayerNorm after the feed-forward sum (ffn_norm) is missing.": h + ffn(h),
            "the LayerNorm after the attention sum (attention_norm) is missing.": n2((x + a) + ffn(x + a)),
            "the second residual adds the layer's input x; it adds the FFN's own input (the normalised "
            "attention result).": n2(x + ffn(h)),
            "the two norms are swapped: attention_norm follows self-attention, ffn_norm follows the FFN.":
                n1(n2(x + a) + ffn(n2(x + a))),
            "the residual was added after the norm (x + LayerNorm(sublayer(x))); BERT normalises the sum: "
            "LayerNorm(x + sublayer(x)).": (x + n1(a)) + n2(ffn(x + n1(a))),
            "attention_norm was used twice; the FFN's sum is normalised by ffn_norm.": n1(h + ffn(h)),
            "the feed-forward sub-block is missing: this is the output after attention_norm only.": h,
            "the padding mask did not reach self-attention (real tokens attend to padding); pass attention_mask "
            "as given.": n2(unmasked + ffn(unmasked)),
        }
    c.expect_array(got, expected, what="the layer's output (batch 2, seq 5, hidden 8) on a padded batch",
                   kind="torch", atol=1e-5, mistakes=mistakes,
                   hint="write the two sub-blocks as two lines, each ‘sum of the sub-block's input and output, then "
                        "its norm’, and check which tensor each line reads.")
    c.note("post-LN: a = attention_norm(x + self_attention(x, mask)); y = ffn_norm(a + feed_forward(a))")
    c.note("the mask reaches self-attention; padded batch matches bertlab.model.BertLayer")


@exercise("load_tensor")
def load_tensor(c: Check, fn) -> None:
    torch.manual_seed(0)
    cfg = ref.BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=3, num_attention_heads=2,
                         intermediate_size=16, max_position_embeddings=8)
    model = ref.BertModel(cfg)
    g = torch.Generator().manual_seed(3)
    hf = {f"encoder.layer.{i}.attention.self.query.{p}": torch.randn(*((8, 8) if p == "weight" else (8,)), generator=g)
          for i in range(3) for p in ("weight", "bias")}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    c.call(fn, hf, model, 1, what="load_tensor(hf_tensors, model, layer=1)", may_modify=True)
    q = model.encoder.layer[1].attention.query
    w, b = hf["encoder.layer.1.attention.self.query.weight"], hf["encoder.layer.1.attention.self.query.bias"]
    if torch.equal(q.weight, w.T):
        c.fail("the query weight was copied transposed.",
               "nn.Linear stores weight as (out_features, in_features), as Hugging Face does: copy it as is.")
    for other in (0, 2):
        if torch.equal(model.encoder.layer[other].attention.query.weight,
                       hf[f"encoder.layer.{other}.attention.self.query.weight"]):
            c.fail(f"layer {other}'s query weight was loaded (the wrong layer index?).",
                   "use the `layer` argument in both names: encoder.layer.{layer}.attention.self.query.weight.")
    c.expect(torch.equal(q.weight, w), "model.encoder.layer[1].attention.query.weight does not equal the checkpoint's "
             "encoder.layer.1.attention.self.query.weight.", "copy with `with torch.no_grad(): param.copy_(tensor)`.")
    c.expect(torch.equal(q.bias, b), "the query bias was not copied (it still has its initial value).",
             "copy encoder.layer.{layer}.attention.self.query.bias into .bias too.")
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])
               and k not in ("encoder.layer.1.attention.query.weight", "encoder.layer.1.attention.query.bias")]
    c.expect(not changed, f"other parameters changed too: {changed[:3]}.", "copy only the two query tensors.")
    c.note("encoder.layer.1.attention.self.query.{weight,bias} → encoder.layer[1].attention.query, not transposed")
