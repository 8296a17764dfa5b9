"""bertlab.model: the encoder's formulas, its agreement with chapter 01's NumPy attention, and its heads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bertlab import attention as np_attention
from bertlab.model import (
    BertConfig,
    BertForPreTraining,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertLayer,
    BertModel,
    BertSelfAttention,
    FeedForward,
)

TINY = dict(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=4, intermediate_size=32,
            max_position_embeddings=20)


def tiny(**kw) -> BertConfig:
    return BertConfig(**{**TINY, **kw})


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(hidden_size=18), "not divisible"),
        (dict(num_hidden_layers=0), "num_hidden_layers"),
        (dict(vocab_size=-5), "vocab_size"),
        (dict(hidden_dropout_prob=1.5), "hidden_dropout_prob"),
        (dict(layer_norm_eps=0), "layer_norm_eps"),
        (dict(intermediate_size=2.5), "intermediate_size"),
        (dict(pad_token_id=99), "pad_token_id"),
        (dict(num_attention_heads=True), "num_attention_heads"),
    ],
)
def test_bad_config_gives_a_clear_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        tiny(**bad)


def test_config_from_dict_rejects_what_this_encoder_does_not_implement():
    with pytest.raises(ValueError, match="GELU"):
        BertConfig.from_dict({**TINY, "hidden_act": "relu"})
    with pytest.raises(ValueError, match="absolute"):
        BertConfig.from_dict({**TINY, "position_embedding_type": "relative_key"})
    assert BertConfig.from_dict({**TINY, "architectures": ["X"], "use_cache": True}).hidden_size == 16


def test_pytorch_attention_equals_chapter_01_numpy_attention_in_float64():
    torch.manual_seed(0)
    attn = BertSelfAttention(tiny()).double().eval()
    for lin in (attn.query, attn.key, attn.value, attn.output):
        torch.nn.init.zeros_(lin.bias)  # chapter 01's version has no biases
    x = torch.randn(2, 6, 16, dtype=torch.float64)
    am = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    out, w = attn(x, am.bool()[:, None, None, :], output_attentions=True)
    ws = [lin.weight.detach().numpy().T for lin in (attn.query, attn.key, attn.value, attn.output)]
    ref_out, ref_w = np_attention.multi_head_attention(x.numpy(), *ws, 4, np_attention.padding_mask(am.numpy()))
    assert np.abs(out.detach().numpy() - ref_out).max() < 1e-6
    assert np.abs(w.detach().numpy() - ref_w).max() < 1e-6


def test_fused_sdpa_path_equals_the_explicit_formula():
    torch.manual_seed(0)
    model = BertModel(tiny()).eval()
    ids = torch.randint(5, 50, (3, 9))
    am = torch.ones_like(ids)
    am[1, 6:] = 0
    fused = model(ids, attention_mask=am)
    explicit = model(ids, attention_mask=am, output_attentions=True)
    assert torch.allclose(fused.last_hidden_state, explicit.last_hidden_state, atol=1e-6)
    assert len(explicit.attentions) == 2 and explicit.attentions[0].shape == (3, 4, 9, 9)


def test_padding_does_not_change_the_real_tokens_outputs():
    torch.manual_seed(0)
    model = BertModel(tiny()).eval()
    ids = torch.randint(5, 50, (1, 7))
    short = model(ids[:, :5]).last_hidden_state
    padded_ids = ids.clone()
    padded_ids[:, 5:] = 0
    padded = model(padded_ids, attention_mask=torch.tensor([[1] * 5 + [0] * 2])).last_hidden_state
    assert torch.allclose(short, padded[:, :5], atol=1e-5)


def test_ffn_is_gelu_of_first_linear_then_second_linear():
    torch.manual_seed(0)
    ffn = FeedForward(tiny())
    x = torch.randn(2, 3, 16)
    expected = ffn.w2(torch.nn.functional.gelu(ffn.w1(x)))
    relu = ffn.w2(torch.relu(ffn.w1(x)))
    assert torch.allclose(ffn(x), expected) and not torch.allclose(ffn(x), relu)


def test_layer_is_post_layer_norm():
    torch.manual_seed(0)
    layer = BertLayer(tiny()).eval()
    x = torch.randn(2, 5, 16)
    out = layer(x)
    assert torch.allclose(out.mean(-1), torch.zeros(2, 5), atol=1e-5)  # the last op is a LayerNorm
    a = layer.attention_norm(x + layer.attention(x)[0])
    assert torch.allclose(out, layer.ffn_norm(a + layer.ffn(a)), atol=1e-6)


def test_output_is_a_dataclass_so_tuple_unpacking_fails_loudly():
    out = BertModel(tiny())(torch.randint(0, 50, (1, 4)))
    with pytest.raises(TypeError):
        _, pooled = out  # noqa: F841 - the classic mistake raises instead of yielding key strings
    assert out.pooler_output.shape == (1, 16)


def test_mlm_head_is_tied_to_the_token_embeddings_and_gather_first_equals_full_logits():
    torch.manual_seed(0)
    model = BertForPreTraining(tiny()).eval()
    assert model.mlm.word_embeddings.weight is model.bert.embeddings.word_embeddings.weight
    ids = torch.randint(5, 50, (2, 8))
    positions = torch.zeros_like(ids, dtype=torch.bool)
    positions[0, 2] = positions[1, 5] = positions[1, 6] = True
    full = model(ids).prediction_logits  # (B, T, V)
    gathered = model(ids, masked_positions=positions).prediction_logits  # (3, V)
    assert gathered.shape == (3, 50) and torch.allclose(gathered, full[positions], atol=1e-5)
    index = torch.tensor([[2, 2], [5, 6]])
    assert torch.allclose(model(ids, masked_positions=index).prediction_logits[[0, 2, 3]], full[positions], atol=1e-5)
    assert model(ids).seq_relationship_logits.shape == (2, 2)


def test_classification_heads_shapes_and_mean_pooling_ignores_padding():
    torch.manual_seed(0)
    ids = torch.randint(5, 50, (2, 6))
    am = torch.tensor([[1] * 6, [1] * 3 + [0] * 3])
    seq = BertForSequenceClassification(tiny(), num_labels=3, pooling="mean").eval()
    assert seq(ids, attention_mask=am).logits.shape == (2, 3)
    ids2 = ids.clone()
    ids2[1, 3:] = 7
    assert torch.allclose(seq(ids, attention_mask=am).logits[1], seq(ids2, attention_mask=am).logits[1], atol=1e-5)
    tok = BertForTokenClassification(tiny(), num_labels=5).eval()
    assert tok(ids, attention_mask=am).logits.shape == (2, 6, 5)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m: m(torch.randint(0, 50, (4,))), ValueError, "batch, seq"),
        (lambda m: m(torch.randint(0, 50, (1, 30))), ValueError, "max_position_embeddings"),
        (lambda m: m(torch.zeros(1, 0, dtype=torch.long)), ValueError, "hold no tokens"),
        (lambda m: m(torch.tensor([[1, 2, 60]])), ValueError, "input ids must lie"),
        (lambda m: m(torch.rand(1, 3)), TypeError, "integer"),
        (lambda m: m([[1, 2]]), TypeError, "LongTensor"),
        (lambda m: m(torch.tensor([[1, 2]]), attention_mask=torch.ones(1, 3)), ValueError, "attention_mask"),
        (lambda m: m(torch.tensor([[1, 2]]), token_type_ids=torch.tensor([[0, 2]])), ValueError, "token_type_ids"),
    ],
)
def test_bad_inputs_give_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(BertModel(tiny()))
