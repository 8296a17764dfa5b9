"""Chapter 06 checks: the references pass; realistic wrong answers fail and the feedback names the mistake."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bertlab import checks
from bertlab._solutions import solution_source
from bertlab.finetuning import align_labels as package_align
from bertlab.finetuning import f1_from_confusion as package_f1
from bertlab.finetuning import no_decay_groups as package_groups
from bertlab.model import BertConfig, BertForSequenceClassification
from tests.conftest import assert_check_passes, assert_check_rejects

NS: dict = {"torch": torch, "nn": nn, "np": np}
for _n in ("classification_head", "align_labels", "no_decay_groups", "f1_from_confusion"):
    exec(solution_source(_n), NS)
HEAD, ALIGN, GROUPS, F1 = NS["classification_head"], NS["align_labels"], NS["no_decay_groups"], NS["f1_from_confusion"]


def test_references_and_package_pass():
    assert_check_passes(checks.classification_head, HEAD)
    for fn in (ALIGN, package_align):
        assert_check_passes(checks.align_labels, fn)
    for fn in (GROUPS, package_groups):
        assert_check_passes(checks.no_decay_groups, fn)
    for fn in (F1, package_f1):
        assert_check_passes(checks.f1_from_confusion, fn)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_head_solution_equals_the_model_head(pooling):
    """The exercise's head computes exactly BertForSequenceClassification's logits (eval mode)."""
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                        max_position_embeddings=16)
    model = BertForSequenceClassification(config, num_labels=3, pooling=pooling).eval()
    ids = torch.randint(5, 50, (2, 7))
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
    out = model.bert(ids, attention_mask=mask)
    got = HEAD(out.last_hidden_state, out.pooler_output, mask, model.classifier.weight, model.classifier.bias, pooling)
    torch.testing.assert_close(got, model(ids, attention_mask=mask).logits)


def _head(mistake):
    def fn(h, pooler, mask, w, b, pooling="cls"):
        m = mask.float()[..., None]
        if pooling == "cls":
            pooled = h[:, 0] if mistake == "raw_cls" else h[:, -1] if mistake == "last" else pooler
        else:
            pooled = h.mean(1) if mistake == "pad_mean" else (h * m).sum(1) / h.shape[1] if mistake == "div_T" \
                else (h * m).sum(1) / m.sum(1)
        logits = pooled @ w.T + (0 if mistake == "no_bias" else b)
        return logits.softmax(-1) if mistake == "softmax" else logits
    return fn


@pytest.mark.parametrize("mistake, hint", [("raw_cls", "pooler output"), ("last", "position 0"),
                                           ("pad_mean", "includes the padding"), ("div_T", "padded length"),
                                           ("no_bias", "bias is missing"), ("softmax", "returns logits")])
def test_head_mistakes_named(mistake, hint):
    assert_check_rejects(checks.classification_head, _head(mistake), hint)


def test_head_transposed_weight_is_rejected():
    assert_check_rejects(checks.classification_head, lambda h, p, m, w, b, pooling="cls": p @ w + b, "")


def _align(mistake):
    def fn(word_ids, word_labels):
        out, prev = [], None
        for i, w in enumerate(word_ids):
            nxt = word_ids[i + 1] if i + 1 < len(word_ids) else None
            if w is None:
                out.append(0 if mistake == "special0" else -100)
            elif mistake == "all":
                out.append(word_labels[w])
            elif mistake == "last":
                out.append(word_labels[w] if nxt != w else -100)
            elif mistake == "by_label":
                out.append(word_labels[w] if prev is None or word_labels[w] != word_labels[prev] else -100)
            elif w != prev:
                out.append(word_labels[w])
            else:
                out.append(0 if mistake == "cont0" else -100)
            prev = w
        return out
    return fn


@pytest.mark.parametrize("mistake, hint", [("all", "first piece"), ("last", "last piece"), ("special0", "label 0"),
                                           ("cont0", "instead of -100"), ("by_label", "comparing word ids")])
def test_align_mistakes_named(mistake, hint):
    assert_check_rejects(checks.align_labels, _align(mistake), hint)


def _groups(mistake):
    def fn(model, wd=0.01):
        if mistake == "one_group":
            return [{"params": list(model.parameters()), "weight_decay": wd}]
        decay, rest = [], []
        items = [(n, p) for m_name, m in model.named_modules() for n, p in
                 ((f"{m_name}.{k}", v) for k, v in m.named_parameters(recurse=False))] if mistake == "dup" \
            else list(model.named_parameters())
        for n, p in items:
            if mistake != "frozen" and not p.requires_grad:
                continue
            is_no = "bias" in n or "LayerNorm" in n if mistake == "by_name" else \
                n.endswith("bias") or isinstance(dict(model.named_modules()).get(n.rsplit(".", 1)[0]), nn.LayerNorm)
            (rest if is_no else decay).append(p)
        return [{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}]
    return fn


@pytest.mark.parametrize("mistake, hint", [("one_group", "everything is decayed"), ("by_name", "layernorm's weight"),
                                           ("dup", "appears twice"), ("frozen", "frozen parameters")])
def test_group_mistakes_named(mistake, hint):
    assert_check_rejects(checks.no_decay_groups, _groups(mistake), hint)


def _f1(mistake):
    def fn(cm):
        cm = np.asarray(cm, dtype=float)
        tp = np.diag(cm)
        col, row = cm.sum(0), cm.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = tp / col if mistake == "nan" else np.where(col > 0, tp / np.maximum(col, 1), 0.0)
            r = np.where(row > 0, tp / np.maximum(row, 1), 0.0)
        if mistake == "swap":
            p, r = r, p
        f1 = (p + r) / 2 if mistake == "arith" else np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)
        macro = 2 * p.mean() * r.mean() / (p.mean() + r.mean()) if mistake == "f1_of_means" else f1.mean()
        acc = tp.sum() / len(cm) if mistake == "acc_k" else tp.sum() / cm.sum()
        return {"accuracy": acc, "precision": p, "recall": r, "f1": f1, "macro_f1": macro}
    return fn


@pytest.mark.parametrize("mistake, hint", [("swap", "swapped"), ("nan", "not nan"), ("arith", "harmonic mean"),
                                           ("f1_of_means", "averages the per-class f1"),
                                           ("acc_k", "number of classes")])
def test_f1_mistakes_named(mistake, hint):
    assert_check_rejects(checks.f1_from_confusion, _f1(mistake), hint)
