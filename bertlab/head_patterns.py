"""Measuring what attention heads do (chapter 04): how much each head attends to fixed patterns."""

from __future__ import annotations

import torch

PATTERNS = ("previous token", "next token", "[CLS]", "[SEP]", "itself")


def head_patterns(attentions: tuple[torch.Tensor, ...], input_ids: torch.Tensor, attention_mask: torch.Tensor,
                  cls_id: int, sep_id: int) -> dict[str, torch.Tensor]:
    """For each pattern, the average attention weight a head puts on it: dict of (layers, heads) tensors.

    Averaged over all real (non-padding) query tokens of the batch. "previous token" is the weight from
    position i to i−1 (queries with i ≥ 1), "next token" to i+1; "[CLS]"/"[SEP]" sum the weight on those
    tokens; "itself" is the diagonal.
    """
    att = torch.stack(attentions)  # (layers, B, heads, T, T)
    real = attention_mask.bool()  # (B, T)
    q = real[None, :, None, :]  # which query rows count, (1, B, 1, T)

    def avg(per_query: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:  # per_query (L, B, h, T)
        mask = rows.to(per_query.dtype)
        return (per_query * mask).sum(dim=(1, 3)) / mask.sum(dim=(1, 3)).clamp(min=1)

    prev = torch.diagonal(att, offset=-1, dim1=-2, dim2=-1)  # (L, B, h, T-1): query i → key i-1, i ≥ 1
    nxt = torch.diagonal(att, offset=1, dim1=-2, dim2=-1)  # query i → key i+1
    real_next = real[:, 1:] & real[:, :-1]
    out = {
        "previous token": avg(prev, real_next[None, :, None, :]),
        "next token": avg(nxt, real_next[None, :, None, :]),
        "[CLS]": avg((att * (input_ids == cls_id)[None, :, None, None, :]).sum(-1), q),
        "[SEP]": avg((att * (input_ids == sep_id)[None, :, None, None, :]).sum(-1), q),
        "itself": avg(torch.diagonal(att, dim1=-2, dim2=-1), q),
    }
    return out
