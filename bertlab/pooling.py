"""Mean pooling over the real tokens — the sentence vector of MiniLM, of the course's mean-pooling
classifier and of the fusion models' text side.

A leaf module (torch only) beside the model, so the model, the sentence embeddings, the training loops and
the fusion models share it without the model importing the training toolkit.
"""

from __future__ import annotations

import torch


def masked_mean(tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the real (mask = 1) token vectors: tokens (B, T, H), attention_mask (B, T) → (B, H).

    Padding never counts; a row without any real token gives the zero vector (the count is clamped at 1).
    """
    if tokens.dim() != 3 or attention_mask.shape != tokens.shape[:2]:
        raise ValueError(f"masked_mean: tokens (B, T, H) and attention_mask (B, T) expected; got "
                         f"{tuple(tokens.shape)} and {tuple(attention_mask.shape)}")
    m = attention_mask.to(tokens.dtype)[..., None]  # (B, T, 1)
    return (tokens * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
