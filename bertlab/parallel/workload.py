"""The workload every parallel scheme of chapter 10 runs: chapter 05's objective on a tiny BERT.

A 4-layer BERT (hidden 128, 4 heads, FFN 512, the course's 8,000-token vocabulary, no dropout so that
every process computes the same numbers) and a few global batches of masked KJV sentence pairs
(MLM + NSP, padded to the longest pair of each batch). The workload is plain data — a config dict, the
initial weights and the batches — so it can be written to a file and handed to worker processes, which
all start from exactly the same weights as the one-process reference.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import torch

from ..model import BertConfig, BertForPreTraining
from ..pretraining import make_nsp_pairs, masked_batch, tiny_config, tokenize_documents


def make_workload(steps: int = 3, batch_size: int = 16, max_len: int = 64, layers: int = 4, heads: int = 4,
                  documents: int = 8, lr: float = 3e-4, weight_decay: float = 0.01, seed: int = 0) -> dict[str, Any]:
    """Config, initial weights and ``steps`` masked global batches of ``batch_size`` KJV sentence pairs.

    Returns ``{"config": dict, "state": state_dict, "batches": [dict of (B, T) tensors], "lr", "weight_decay",
    "seed"}``; each batch has ``input_ids, token_type_ids, attention_mask, labels`` (B, T) and
    ``next_sentence_label`` (B,).
    """
    from .. import data
    from ..course_vocab import course_tokenizer

    tok = course_tokenizer()
    docs = tokenize_documents(data.load_pretraining_corpus("train")[:documents], tok)
    pairs = make_nsp_pairs(docs, tok, max_len, random.Random(seed))
    if len(pairs) < steps * batch_size:
        raise ValueError(f"{len(pairs)} sentence pairs from {documents} documents; need {steps * batch_size}: "
                         "raise `documents`")
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    gen = torch.Generator().manual_seed(seed)
    batches = [masked_batch([pairs[i] for i in order[s * batch_size:(s + 1) * batch_size]], tok, gen)
               for s in range(steps)]
    config = tiny_config(len(tok), dropout=0.0, num_hidden_layers=layers, num_attention_heads=heads)
    torch.manual_seed(seed)
    model = BertForPreTraining(config)
    return {"config": asdict(config), "state": model.state_dict(), "batches": batches, "lr": lr,
            "weight_decay": weight_decay, "seed": seed}


def build_model(workload: dict[str, Any]) -> BertForPreTraining:
    """A fresh :class:`~bertlab.model.BertForPreTraining` holding the workload's initial weights."""
    model = BertForPreTraining(BertConfig(**workload["config"]))
    model.load_state_dict(workload["state"])
    return model


@contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` PyTorch threads (like one worker process), then restore the previous count.

    On a busy machine a tiny model runs several times *slower* with 2 threads than with 1.
    """
    previous = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def max_abs_diff(a: Any, b: Any) -> float:
    """The largest |a − b| over matching tensors / numbers (dicts by key, lists by position)."""
    if isinstance(a, dict):
        if set(a) != set(b):
            raise KeyError(f"different keys: {sorted(set(a) ^ set(b))[:5]}")
        return max((max_abs_diff(a[k], b[k]) for k in a), default=0.0)
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            raise ValueError(f"lengths differ: {len(a)} vs {len(b)}")
        return max((max_abs_diff(x, y) for x, y in zip(a, b)), default=0.0)
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    return float((a - b).abs().max()) if a.numel() else 0.0


def concat_batches(batches: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One larger batch from several: padded to the longest (ids and masks with 0, labels with -100), stacked."""
    from ..pretraining import IGNORE_INDEX

    longest = max(b["input_ids"].shape[1] for b in batches)
    out: dict[str, list[torch.Tensor]] = {}
    for b in batches:
        for key, value in b.items():
            if value.dim() == 2:
                value = torch.nn.functional.pad(value, (0, longest - value.shape[1]),
                                                value=IGNORE_INDEX if key == "labels" else 0)
            out.setdefault(key, []).append(value)
    return {key: torch.cat(values) for key, values in out.items()}
