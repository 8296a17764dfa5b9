"""The learning-rate schedule of BERT: linear warm-up from 0, then linear decay to 0 at the last step."""

from __future__ import annotations

from collections.abc import Callable

import torch


def warmup_linear_lambda(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """LR multiplier for step s (0-based): (s + 1) / warmup_steps during warm-up, then
    (total_steps − s) / (total_steps − warmup_steps), never below 0. ``warmup_steps`` = 0: no warm-up."""
    if total_steps <= 0 or not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"need 0 <= warmup_steps ({warmup_steps}) <= total_steps ({total_steps}) and total_steps > 0")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
    return factor


def warmup_linear_schedule(optimizer: torch.optim.Optimizer, warmup_steps: int,
                           total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """torch LambdaLR implementing warm-up + linear decay (call ``.step()`` after each ``optimizer.step()``)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_linear_lambda(warmup_steps, total_steps))
