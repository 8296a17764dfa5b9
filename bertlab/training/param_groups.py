"""AdamW parameter groups as in BERT: weight decay on matrices only."""

from __future__ import annotations

from torch import nn


def no_decay_groups(model: nn.Module, weight_decay: float = 0.01) -> list[dict]:
    """Two AdamW groups: decay the weight matrices (and embedding tables); never decay biases, LayerNorm γ/β,
    or any scalar / 1-D parameter (such as CLIP's learned temperature, a 0-d ``logit_scale``).

    Returns [{"params": decayed, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}];
    every trainable parameter appears exactly once (tied weights once; frozen ones, requires_grad=False,
    are left out).
    """
    norm_params = {id(p) for m in model.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters(recurse=False)}
    decay, no_decay = [], []
    for name, p in model.named_parameters():  # named_parameters() already de-duplicates tied weights
        if not p.requires_grad:
            continue
        if name.endswith("bias") or id(p) in norm_params or p.ndim < 2:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
