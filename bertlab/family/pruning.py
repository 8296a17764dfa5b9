"""Pruning attention heads by importance (Michel et al., 2019, "Are Sixteen Heads Really Better than One?"):
mask a head to measure what it is worth, then remove the least important ones for real."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn

from ..model import BertModel


def _heads_by_layer(heads: Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for layer, head in heads:
        out.setdefault(int(layer), []).append(int(head))
    return out


@contextlib.contextmanager
def masked_heads(model: BertModel, heads: Iterable[tuple[int, int]]):
    """Within the block, the given (layer, head) pairs contribute nothing: their context vectors are zeroed
    just before the output projection W_O (a forward pre-hook; the model itself is not changed)."""
    hooks = []
    for layer, hs in _heads_by_layer(heads).items():
        attn = model.encoder.layer[layer].attention
        keep = torch.ones(attn.num_heads * attn.head_size)
        for h in hs:
            if not 0 <= h < attn.num_heads:
                raise ValueError(f"layer {layer} has {attn.num_heads} heads; there is no head {h}")
            keep[h * attn.head_size:(h + 1) * attn.head_size] = 0

        def hook(module, args, keep=keep):
            return (args[0] * keep,)  # (B, T, heads·d_k) with the masked heads' slices zeroed

        hooks.append(attn.output.register_forward_pre_hook(hook))
    try:
        yield model
    finally:
        for h in hooks:
            h.remove()


def head_importance(model: BertModel, score: Callable[[], float]) -> np.ndarray:
    """Importance of each head, (layers, heads): ``score()`` with all heads minus ``score()`` with that head
    masked (ablation, one head at a time: 72 evaluations for MiniLM). Michel et al. (2019) score heads by
    gradient instead — :func:`head_importance_gradient`, one backward pass for all heads."""
    base = score()
    n_layers = len(model.encoder.layer)
    n_heads = model.encoder.layer[0].attention.num_heads
    imp = np.zeros((n_layers, n_heads))
    for layer in range(n_layers):
        for head in range(n_heads):
            with masked_heads(model, [(layer, head)]):
                imp[layer, head] = base - score()
    return imp


def head_importance_gradient(classifier: nn.Module, data: dict[str, torch.Tensor], batch_size: int = 32,
                             normalize_layers: bool = True) -> np.ndarray:
    """Importance of each head by gradient (Michel et al., 2019, section 4.1): I_h = Σ_batches |∂L/∂ξ_h| · B / N,
    where ξ_h = 1 is a gate multiplying head h's context vector and L the cross-entropy of ``classifier`` (a
    :class:`bertlab.model.BertForSequenceClassification`, in eval mode) on ``data`` (input_ids, token_type_ids,
    attention_mask, labels; (N, T) and (N,)). One backward pass per batch scores all heads at once, so it can use
    far more sentences than masking the heads one by one. With ``normalize_layers`` each layer's scores are
    divided by their L2 norm, as in the paper's code. Returns (layers, heads).
    """
    bert = classifier.bert
    layers = bert.encoder.layer
    gates = [torch.ones(layer.attention.num_heads, requires_grad=True) for layer in layers]
    hooks = []
    for layer, gate in zip(layers, gates):
        attn = layer.attention

        def hook(module, args, gate=gate, size=attn.head_size):
            return (args[0] * gate.repeat_interleave(size),)  # (B, T, heads·d_k), head h's slice times ξ_h

        hooks.append(attn.output.register_forward_pre_hook(hook))
    was_training = classifier.training
    classifier.eval()
    total = torch.zeros(len(layers), len(gates[0]))
    n = len(data["labels"])
    order = torch.argsort(data["attention_mask"].sum(1), stable=True)  # similar lengths together: less padding
    try:
        for idx in order.split(batch_size):
            length = int(data["attention_mask"][idx].sum(1).max())
            inputs = {k: data[k][idx, :length] for k in ("input_ids", "token_type_ids", "attention_mask") if k in data}
            loss = nn.functional.cross_entropy(classifier(**inputs).logits, data["labels"][idx])
            grads = torch.autograd.grad(loss, gates)
            total += torch.stack([g.abs() for g in grads]) * len(idx) / n
    finally:
        for h in hooks:
            h.remove()
        classifier.train(was_training)
    if normalize_layers:
        total = total / total.norm(dim=1, keepdim=True).clamp(min=1e-20)
    return total.numpy()


def prune_heads(model: BertModel, heads: Iterable[tuple[int, int]]) -> BertModel:
    """Remove heads for real, in place: slice their rows out of W_Q, W_K, W_V and their columns out of W_O.

    The result computes exactly what :func:`masked_heads` computes, with smaller matrices (faster).
    A layer keeps at least one head.
    """
    for layer, hs in _heads_by_layer(heads).items():
        attn = model.encoder.layer[layer].attention
        d = attn.head_size
        keep_heads = [h for h in range(attn.num_heads) if h not in set(hs)]
        if not keep_heads:
            raise ValueError(f"cannot prune all {attn.num_heads} heads of layer {layer}; keep at least one")
        idx = torch.cat([torch.arange(h * d, (h + 1) * d) for h in keep_heads])
        for name in ("query", "key", "value"):
            old = getattr(attn, name)
            new = nn.Linear(old.in_features, len(idx))
            new.weight.data, new.bias.data = old.weight.data[idx].clone(), old.bias.data[idx].clone()
            setattr(attn, name, new)
        old = attn.output
        new = nn.Linear(len(idx), old.out_features)
        new.weight.data, new.bias.data = old.weight.data[:, idx].clone(), old.bias.data.clone()
        attn.output = new
        attn.num_heads = len(keep_heads)
    return model
