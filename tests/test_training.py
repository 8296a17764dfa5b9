"""The training toolkit (bertlab.training) and the helpers every loop shares: each test names the property."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bertlab.fusion.models import DualEncoder
from bertlab.model import BertConfig, BertForSequenceClassification, count_parameters, explicit_attention, key_mask
from bertlab.pooling import masked_mean
from bertlab.pretraining import IGNORE_INDEX, tiny_config
from bertlab.training.metrics import accuracy
from bertlab.training.param_groups import no_decay_groups


def test_masked_mean_ignores_padding_and_gives_zero_for_an_empty_row():
    tokens = torch.tensor([[[1.0], [3.0], [100.0]], [[5.0], [7.0], [9.0]]])
    out = masked_mean(tokens, torch.tensor([[1, 1, 0], [0, 0, 0]]))
    assert out.tolist() == [[2.0], [0.0]]
    with pytest.raises(ValueError, match="attention_mask"):
        masked_mean(tokens, torch.ones(2, 4))


def test_accuracy_skips_ignored_labels_and_takes_logits_or_predictions():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [5.0, 0.0]]])  # (1, 3, 2): predicts 0, 1, 0
    labels = torch.tensor([[0, 0, IGNORE_INDEX]])
    assert accuracy(logits, labels) == 0.5
    assert accuracy(torch.tensor([1, 1, 0]), torch.tensor([1, 0, 0])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="do not match"):
        accuracy(torch.zeros(3, 2), torch.zeros(4, dtype=torch.long))


def test_no_decay_groups_never_decay_a_learned_temperature():
    cfg = tiny_config(30, hidden_size=16, num_hidden_layers=1, max_position_embeddings=16)
    model = DualEncoder(cfg, 8, 4, embed_dim=8)
    decay, rest = no_decay_groups(model)
    assert any(p is model.logit_scale for p in rest["params"])
    assert all(p.ndim >= 2 for p in decay["params"])
    assert len(decay["params"]) + len(rest["params"]) == len(list(model.parameters()))


def test_count_parameters_counts_shared_tensors_once_and_can_skip_frozen_ones():
    layer = nn.Linear(4, 4)
    shared = nn.Sequential(layer, layer)
    assert count_parameters(shared) == 20
    clf = BertForSequenceClassification(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1,
                                                   num_attention_heads=2, intermediate_size=16), 3)
    clf.bert.requires_grad_(False)
    assert count_parameters(clf, trainable_only=True) == 8 * 3 + 3 < count_parameters(clf)


def test_tiny_config_keeps_the_ffn_at_four_times_hidden_and_sets_both_dropouts():
    cfg = tiny_config(100)
    assert (cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers) == (128, 512, 2)
    small = tiny_config(100, hidden_size=32, dropout=0.0)
    assert small.intermediate_size == 128 and small.hidden_dropout_prob == small.attention_probs_dropout_prob == 0.0
    assert tiny_config(100, hidden_size=32, intermediate_size=64).intermediate_size == 64


def test_explicit_attention_equals_the_fused_kernel_with_a_padding_mask():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 4, generator=g) for _ in range(3))
    mask = key_mask(torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]))
    context, weights = explicit_attention(q, k, v, mask)
    torch.testing.assert_close(context, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert weights[0, :, :, 3:].abs().max() == 0 and torch.allclose(weights.sum(-1), torch.ones(2, 3, 5))
