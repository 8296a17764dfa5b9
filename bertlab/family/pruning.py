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
    masked (Michel et al., 2019, "Are Sixteen Heads Really Better than One?", by ablation)."""
    base = score()
    n_layers = len(model.encoder.layer)
    n_heads = model.encoder.layer[0].attention.num_heads
    imp = np.zeros((n_layers, n_heads))
    for layer in range(n_layers):
        for head in range(n_heads):
            with masked_heads(model, [(layer, head)]):
                imp[layer, head] = base - score()
    return imp


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
