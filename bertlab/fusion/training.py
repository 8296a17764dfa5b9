"""Fusion data to tensors, and contrastive (CLIP) training.

The fusion *classifiers* need no loop of their own: they train with :func:`bertlab.finetuning.fine_tune` on
:func:`to_tensors` data and are scored with :func:`bertlab.finetuning.predict_logits`.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..training.param_groups import no_decay_groups
from ..training.schedule import warmup_linear_schedule
from .models import DualEncoder
from .objectives import distinct_class_batches


def to_tensors(data, tokenizer, max_length: int = 32) -> dict[str, torch.Tensor]:
    """An :class:`bertlab.multimodal_data.ImageTextSet` → input_ids/attention_mask (N, T) padded to the
    longest, images (N, [C,] H, W) float32, labels (N,)."""
    enc = tokenizer.encode_batch(list(data.texts), max_length=max_length)
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
            "images": torch.as_tensor(np.asarray(data.images, dtype=np.float32)),
            "labels": torch.as_tensor(np.asarray(data.labels), dtype=torch.long)}


def train_contrastive(model: DualEncoder, data: dict[str, torch.Tensor], classes: np.ndarray, epochs: int = 5,
                      lr: float = 2e-3, weight_decay: float = 0.01, warmup: float = 0.1, clip: float = 1.0,
                      seed: int = 0, progress: bool = True) -> dict:
    """Train a :class:`~bertlab.fusion.models.DualEncoder` with InfoNCE; returns per-step ``losses``, learned
    ``temperatures`` and ``seconds``.

    The recipe is the course's (:mod:`bertlab.training`): AdamW without decay on biases, LayerNorm and the
    learned temperature (a scalar, so never pulled toward 0), warm-up over ``warmup`` of the steps then linear
    decay, gradient clipping. A loop of its own, not :func:`bertlab.finetuning.fine_tune`, because the
    difference is the lesson: there are no labels — the batch is the set of candidates — so each batch must
    hold distinct classes (:func:`~bertlab.fusion.objectives.distinct_class_batches`), else a second image of
    the same class would be a false negative.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    epoch_batches = [distinct_class_batches(classes, rng) for _ in range(epochs)]
    total = sum(map(len, epoch_batches))
    optimizer = torch.optim.AdamW(no_decay_groups(model, weight_decay), lr=lr)
    schedule = warmup_linear_schedule(optimizer, int(warmup * total), total)
    losses, temperatures = [], []
    start = time.perf_counter()
    model.train()
    bar = tqdm(total=total, desc="CLIP", disable=not progress, leave=False)
    for batches in epoch_batches:
        for idx in batches:
            idx = torch.as_tensor(idx)
            loss = model(data["input_ids"][idx], data["attention_mask"][idx], data["images"][idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            temperatures.append(model.temperature.item())
            bar.update()
    bar.refresh()  # the bar's last drawn state is its final one (tqdm throttles redraws)
    bar.close()
    model.eval()
    return {"losses": losses, "temperatures": temperatures, "seconds": time.perf_counter() - start}
