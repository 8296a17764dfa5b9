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
for _name in ("feed_forward", "attention_layer", "embedding_sum", "load_tensor"):
    exec(solution_source(_name), NS)


def test_references_pass():
    assert_check_passes(checks.feed_forward, NS["feed_forward"])
    assert_check_passes(checks.attention_layer, NS["SelfAttention"])
    assert_check_passes(checks.embedding_sum, NS["embedding_sum"])
    assert_check_passes(checks.load_tensor, NS["load_tensor"])


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
