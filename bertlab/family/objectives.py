"""Pre-training objectives compared at equal compute (chapter 09): BERT's MLM + NSP, RoBERTa's dynamic masking
and no NSP, the original static masking, and ELECTRA — then a classifier from the pre-trained encoder."""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from ..model import BertConfig, BertForPreTraining, BertForSequenceClassification, BertModel
from ..pretraining import IGNORE_INDEX, collate, mask_tokens, pretraining_loss
from ..training.param_groups import no_decay_groups
from ..training.schedule import warmup_linear_lambda
from .electra import Electra


@dataclass
class PretrainRun:
    """What :func:`pretrain` did: the encoder to fine-tune and the losses per step."""

    encoder: BertModel
    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)


def pretrain(objective: str, config: BertConfig, pairs: Sequence[dict], tokenizer, seconds: float,
             batch_size: int = 32, lr: float = 1e-3, seed: int = 0, generator_config: BertConfig | None = None,
             max_steps: int = 1_000_000) -> PretrainRun:
    """Pre-train a fresh encoder for ``seconds`` of wall time (equal compute) with one objective.

    ``objective``: "mlm+nsp" (BERT), "mlm" (RoBERTa: no NSP), "static+nsp" / "static" (each pair masked
    once, before training, as in the original BERT's data files) or "electra" (``generator_config`` is the
    small generator). Masking is dynamic (a new mask every time a pair is seen) unless "static".
    ``pairs`` come from :func:`bertlab.pretraining.make_nsp_pairs`. AdamW, clipping 1.0; the learning rate
    warms up over the first 5 % of the budget and decays linearly to 0 at its end, where the budget's progress
    is the larger of elapsed/``seconds`` and step/``max_steps`` — so every objective gets the same schedule
    in time, however many steps it manages. No-decay groups and the warm-up/decay shape come from
    :mod:`bertlab.training`.

    A loop of its own, not :func:`bertlab.pretraining.train`, because the difference is the lesson: the
    schedule runs on wall time rather than steps, so objectives whose steps cost differently (an ELECTRA
    step runs two models) are compared at equal compute.
    """
    if objective not in ("mlm+nsp", "mlm", "static+nsp", "static", "electra"):
        raise ValueError(f"unknown objective {objective!r}")
    torch.manual_seed(seed)
    rng, gen = random.Random(seed), torch.Generator().manual_seed(seed)
    specials = sorted(tokenizer.special_ids)
    if objective == "electra":
        if generator_config is None:
            raise ValueError("objective 'electra' needs generator_config (a small BERT config)")
        model: nn.Module = Electra(config, generator_config)
        encoder = model.discriminator
    else:
        model = BertForPreTraining(config)
        encoder = model.bert
    static = None
    if objective.startswith("static"):  # one fixed mask per pair, drawn once
        static = []
        for p in pairs:
            ids = torch.tensor([p["input_ids"]])
            masked, labels = mask_tokens(ids, specials, len(tokenizer), tokenizer.mask_id, 0.15, gen)
            static.append((masked[0].tolist(), labels[0].tolist()))
    opt = torch.optim.AdamW(no_decay_groups(model), lr=lr)
    schedule = warmup_linear_lambda(50, 1000)  # per mille of the budget: 5 % warm-up, then linear decay
    model.train()
    losses, order, step, t0 = [], [], 0, time.perf_counter()
    while (progress := max((time.perf_counter() - t0) / seconds, step / max_steps)) < 1:
        for group in opt.param_groups:
            group["lr"] = lr * schedule(int(progress * 1000))
        if len(order) < batch_size:
            fresh = list(range(len(pairs)))
            rng.shuffle(fresh)
            order += fresh
        idx, order = order[:batch_size], order[batch_size:]
        batch = collate([pairs[i] for i in idx], tokenizer.pad_id)
        original = batch["input_ids"]
        if static is not None:
            longest = original.shape[1]
            batch["input_ids"] = torch.tensor([static[i][0] + [tokenizer.pad_id] * (longest - len(static[i][0]))
                                               for i in idx])
            batch["labels"] = torch.tensor([static[i][1] + [IGNORE_INDEX] * (longest - len(static[i][1]))
                                            for i in idx])
        else:
            batch["input_ids"], batch["labels"] = mask_tokens(original, specials, len(tokenizer),
                                                              tokenizer.mask_id, 0.15, gen)
        if (batch["labels"] == IGNORE_INDEX).all():
            continue
        if objective == "electra":
            loss = model(batch, original, specials, gen)["loss"]
        else:
            loss = pretraining_loss(model, batch, use_nsp=objective.endswith("nsp"))[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
    encoder.eval()
    return PretrainRun(encoder, step, time.perf_counter() - t0, losses)


def classifier_from_encoder(encoder: BertModel, num_labels: int = 2, pooling: str = "cls") -> BertForSequenceClassification:
    """A fresh classifier whose encoder starts from ``encoder``'s weights (a copy)."""
    clf = BertForSequenceClassification(encoder.config, num_labels, pooling=pooling)
    clf.bert = copy.deepcopy(encoder)
    return clf
