"""Chapter 04 checks: references pass; the classic encoder mistakes are named."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bertlab import checks
from bertlab._solutions import solution_source
from tests.conftest import assert_check_passes, assert_check_rejects

NS: dict = {"torch": torch, "nn": nn, "math": math}
for _name in ("feed_forward", "attention_layer", "embedding_sum", "bert_layer", "load_tensor"):
    exec(solution_source(_name), NS)


def test_references_pass():
    assert_check_passes(checks.feed_forward, NS["feed_forward"])
    assert_check_passes(checks.attention_layer, NS["SelfAttention"])
    assert_check_passes(checks.embedding_sum, NS["embedding_sum"])
    assert_check_passes(checks.load_tensor, NS["load_tensor"])
    assert_check_passes(checks.bert_layer, NS["bert_layer"])


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda x, w1, b1, w2, b2: torch.relu(x @ w1 + b1) @ w2 + b2, "relu"),
        (lambda x, w1, b1, w2, b2: F.gelu(x @ w1 + b1, approximate="tanh") @ w2 + b2, "tanh approximation"),
        (lambda x, w1, b1, w2, b2: torch.relu(torch.sigmoid(x @ w1 + b1) @ w2) + b2, "tutorials"),
        (lambda x, w1, b1, w2, b2: F.gelu(x @ w1) @ w2 + b2, "first bias"),
        (lambda x, w1, b1, w2, b2: (F.gelu(x @ w1 + b1) @ w2 + b2).numpy(), "works in pytorch"),
    ],
)
def test_feed_forward_rejects(wrong, hint):
    assert_check_rejects(checks.feed_forward, wrong, hint)


def _attention_variant(scale_by_hidden=False, no_scale=False, mask="before", split=True):
    class Wrong(NS["SelfAttention"]):
        def forward(self, x, attention_mask):
            B, T, H = x.shape
            heads = self.num_heads if split else 1
            q, k, v = (lin(x).view(B, T, heads, H // heads).transpose(1, 2) for lin in (self.query, self.key, self.value))
            s = q @ k.transpose(-1, -2)
            if not no_scale:
                s = s / math.sqrt(H if scale_by_hidden or not split else self.d_k)
            m = attention_mask.bool()[:, None, None, :]
            if mask == "before":
                w = s.masked_fill(~m, -1e9).softmax(-1)
            elif mask == "after":
                w = s.softmax(-1) * m
            elif mask == "inverted":
                w = s.masked_fill(m, -1e9).softmax(-1)
            else:
                w = s.softmax(-1)
            return self.output((w @ v).transpose(1, 2).reshape(B, T, H))

    return Wrong


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_attention_variant(no_scale=True), "√d_k"),
        (_attention_variant(mask="after"), "after the softmax"),
        (_attention_variant(mask="inverted"), "inverted"),
        (_attention_variant(mask="none"), "not used"),
        (_attention_variant(split=False), "not split"),
        (_attention_variant(scale_by_hidden=True), "√hidden_size"),
    ],
)
def test_attention_layer_rejects(wrong, hint):
    assert_check_rejects(checks.attention_layer, wrong, hint)


def test_attention_layer_without_the_expected_attributes_is_explained():
    class NoAttrs(nn.Module):
        def __init__(self, hidden, heads):
            super().__init__()
            self.qkv = nn.Linear(hidden, 3 * hidden)

    assert_check_rejects(checks.attention_layer, NoAttrs, "self.query")


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda ids, types, w, p, s, ln: ln(w(ids) + p(torch.arange(ids.shape[1]))[None]), "segment"),
        (lambda ids, types, w, p, s, ln: w(ids) + p(torch.arange(ids.shape[1]))[None] + s(types), "layernorm is missing"),
        (lambda ids, types, w, p, s, ln: ln(w(ids) + p(torch.arange(1, ids.shape[1] + 1))[None] + s(types)), "start at 0"),
        (lambda ids, types, w, p, s, ln: ln(w(ids) + p(ids.clamp(max=11)) + s(types)), "indexed by the token ids"),
    ],
)
def test_embedding_sum_rejects(wrong, hint):
    assert_check_rejects(checks.embedding_sum, wrong, hint)


def _loader(transpose=False, layer_offset=0, bias=True):
    def load(hf, model, layer):
        src = layer + layer_offset
        target = model.encoder.layer[src].attention.query
        with torch.no_grad():
            w = hf[f"encoder.layer.{src}.attention.self.query.weight"]
            target.weight.copy_(w.T if transpose else w)
            if bias:
                target.bias.copy_(hf[f"encoder.layer.{src}.attention.self.query.bias"])

    return load


@pytest.mark.parametrize(
    "wrong, hint",
    [(_loader(transpose=True), "transposed"), (_loader(layer_offset=1), "wrong layer"), (_loader(bias=False), "bias"),
     (lambda hf, model, layer: None, "does not equal")],
)
def test_load_tensor_rejects(wrong, hint):
    assert_check_rejects(checks.load_tensor, wrong, hint)


# -- bert_layer: the wiring of one encoder layer ----------------------------------------------------------
def layer_rewritten(x, attention_mask, self_attention, attention_norm, feed_forward, ffn_norm):
    """A correct rewrite: keyword mask, bool mask, explicit residual names, F.layer_norm by hand."""
    residual = x
    x = self_attention(x, attention_mask=attention_mask.bool()) + residual
    x = attention_norm(x)
    residual = x
    x = feed_forward(x) + residual
    return F.layer_norm(x, x.shape[-1:], ffn_norm.weight, ffn_norm.bias, ffn_norm.eps)


def test_bert_layer_accepts_a_correct_rewrite():
    assert_check_passes(checks.bert_layer, layer_rewritten)


def _wiring(body):
    """A wrong wiring written the way a learner would write it."""

    def bert_layer(x, attention_mask, self_attention, attention_norm, feed_forward, ffn_norm):
        return body(x, attention_mask, self_attention, attention_norm, feed_forward, ffn_norm)

    return bert_layer


def pre_ln(x, m, attn, n1, ffn, n2):
    h = x + attn(n1(x), m)
    return h + ffn(n2(h))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_wiring(pre_ln), "pre-ln"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n2(n1(attn(x, m)) + ffn(n1(attn(x, m))))),
         "residual around self-attention is missing"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n2(ffn(n1(x + attn(x, m))))), "residual around the feed-forward"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n2(ffn(n1(attn(x, m))))), "both residual connections"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n2(n1(x + attn(x, m)) + ffn(x))), "fed the layer's input x"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n2(n1(x + attn(x, m)) + ffn(x + attn(x, m)))),
         "*before* attention_norm"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n2(n1(x + attn(x, m)) + ffn(attn(x, m)))), "raw attention output"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n2(x + ffn(n1(x + attn(x, m))))), "second residual adds the layer"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n1(n2(x + attn(x, m)) + ffn(n2(x + attn(x, m))))), "swapped"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: (x + n1(attn(x, m))) + n2(ffn(x + n1(attn(x, m))))),
         "residual was added after the norm"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n1(n1(x + attn(x, m)) + ffn(n1(x + attn(x, m))))), "used twice"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n1(x + attn(x, m)) + ffn(n1(x + attn(x, m)))), "ffn_norm) is missing"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n2((x + attn(x, m)) + ffn(x + attn(x, m)))),
         "attention_norm) is missing"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n1(x + attn(x, m))), "feed_forward was never called"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n2(x + ffn(x))), "self_attention was never called"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n2(n1(x + attn(x)) + ffn(n1(x + attn(x))))), "without the attention mask"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n2(n1(x + attn(x, None)) + ffn(n1(x + attn(x, None))))),
         "without the attention mask"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n2(n1(x + attn(x, 1 + 0 * m)) + ffn(n1(x + attn(x, 1 + 0 * m))))),
         "padding mask did not reach"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: (n2(n1(x + attn(x, m)) + ffn(n1(x + attn(x, m)))), None)), "tuple"),
        (_wiring(lambda x, m, attn, n1, ffn, n2: n2(n1(x + attn(x, m)) + ffn(n1(x + attn(x, m)))).numpy()), "pytorch"),
    ],
)
def test_bert_layer_rejects_wrong_wirings(wrong, hint):
    assert_check_rejects(checks.bert_layer, wrong, hint)


@pytest.mark.parametrize(
    "check, wrong, solution_text",
    [
        (checks.feed_forward, lambda x, w1, b1, w2, b2: F.gelu(x @ w1 + b1) @ w2 - b2, "@ w2 + b2"),
        (checks.embedding_sum, lambda ids, types, w, p, s, ln: ln(w(ids) + s(types)) + p(torch.arange(ids.shape[1])),
         "position(arange"),
        (checks.bert_layer, lambda x, m, attn, n1, ffn, n2: n2(x), "ffn_norm(a + feed_forward(a))"),
    ],
)
def test_fallback_hints_point_at_the_mistake_without_giving_the_solution(check, wrong, solution_text):
    result = check(wrong)
    assert not result.passed and result.hint
    assert solution_text not in result.hint, result.hint
