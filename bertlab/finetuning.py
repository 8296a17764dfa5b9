"""Fine-tuning (chapter 06): encoding sentences and tagged words, label alignment, and :func:`fine_tune`,
the course's one supervised training loop (also used by distillation in chapter 09 and by every fusion
classifier in chapter 08).

The pieces every loop shares live in :mod:`bertlab.training` (schedule, no-decay groups, pooling, metrics);
the ones chapter 06 teaches are imported here too, so ``bertlab.finetuning.no_decay_groups`` etc. keep working.
Everything here is independent of any checkpoint, so it is tested on its own.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .pooling import masked_mean
from .pretraining import IGNORE_INDEX
from .training.metrics import accuracy
from .training.metrics import confusion_matrix as confusion_matrix  # re-exported: chapter 06 uses ft.*
from .training.metrics import f1_from_confusion as f1_from_confusion
from .training.param_groups import no_decay_groups
from .training.schedule import warmup_linear_lambda as warmup_linear_lambda
from .training.schedule import warmup_linear_schedule


# ----------------------------------------------------------------------------- token classification
def align_labels(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    """Word labels -> word-piece labels: the first piece of each word gets its label, others get -100.

    word_ids: for each piece, the index of the word it came from, or None for [CLS]/[SEP]/[PAD].
    Special tokens and continuation pieces get IGNORE_INDEX (-100) so the loss skips them.
    """
    labels, previous = [], None
    for w in word_ids:
        if w is None:
            labels.append(IGNORE_INDEX)
        elif w != previous:
            if not 0 <= w < len(word_labels):
                raise ValueError(f"align_labels: word id {w} out of range for {len(word_labels)} word labels")
            labels.append(int(word_labels[w]))
        else:
            labels.append(IGNORE_INDEX)
        previous = w
    return labels


def tokenize_words(tokenizer, words: list[str], max_length: int | None = None) -> tuple[list[str], list[int | None]]:
    """Word-piece each pre-split word; returns pieces with [CLS]/[SEP] and word_ids (None for specials)."""
    pieces, word_ids = ["[CLS]"], [None]
    for i, word in enumerate(words):
        for piece in tokenizer.tokenize(word):
            pieces.append(piece)
            word_ids.append(i)
    if max_length is not None and len(pieces) + 1 > max_length:
        pieces, word_ids = pieces[: max_length - 1], word_ids[: max_length - 1]
    return pieces + ["[SEP]"], word_ids + [None]


# ----------------------------------------------------------------------------- encoding and training
def encode_sentences(tokenizer, texts: Sequence[str], labels: Sequence[int] | np.ndarray,
                     max_length: int = 64) -> dict[str, torch.Tensor]:
    """Sentences and their class labels → padded tensors: input_ids, token_type_ids, attention_mask (N, T),
    labels (N,).  Padding is to the longest sentence (≤ max_length); batches are trimmed again later."""
    labels = np.asarray(labels)
    if len(texts) != len(labels):
        raise ValueError(f"encode_sentences: {len(texts)} texts but {len(labels)} labels")
    enc = tokenizer.encode_batch(list(texts), max_length=max_length)
    enc["labels"] = torch.as_tensor(labels, dtype=torch.long)
    return enc


def encode_tagged(tokenizer, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[int]],
                  max_length: int = 96) -> dict[str, torch.Tensor]:
    """Pre-split words and one tag id per word → padded tensors with labels (N, T) aligned to word pieces
    by :func:`align_labels` (first piece labelled, the rest and the specials -100).  Also ``word_ids``
    (a list of lists) so predictions can be mapped back to words."""
    if len(sentences) != len(tags):
        raise ValueError(f"encode_tagged: {len(sentences)} sentences but {len(tags)} tag sequences")
    rows, all_word_ids = [], []
    for n, (words, word_tags) in enumerate(zip(sentences, tags)):
        if len(words) != len(word_tags):
            raise ValueError(f"encode_tagged: sentence {n} has {len(words)} words but {len(word_tags)} tags")
        pieces, word_ids = tokenize_words(tokenizer, list(words), max_length)
        rows.append((tokenizer.convert_tokens_to_ids(pieces), align_labels(word_ids, list(word_tags))))
        all_word_ids.append(word_ids)
    longest = max(len(ids) for ids, _ in rows)
    pad = tokenizer.pad_id
    out = {
        "input_ids": torch.tensor([ids + [pad] * (longest - len(ids)) for ids, _ in rows]),
        "attention_mask": torch.tensor([[1] * len(ids) + [0] * (longest - len(ids)) for ids, _ in rows]),
        "labels": torch.tensor([lab + [IGNORE_INDEX] * (longest - len(lab)) for _, lab in rows]),
    }
    out["token_type_ids"] = torch.zeros_like(out["input_ids"])
    out["word_ids"] = all_word_ids
    return out


TOKEN_INPUTS = ("input_ids", "token_type_ids", "attention_mask")  # (N, T): trimmed to the batch's longest row


def _batch(data: dict, idx: torch.Tensor) -> dict[str, torch.Tensor]:
    """Rows ``idx`` of every tensor of ``data``; the token tensors (and token labels (N, T)) trimmed to the
    longest real sequence in the batch (saves compute). Other tensors (e.g. a fusion model's images) are
    taken whole; non-tensors (``word_ids``) are left out."""
    length = int(data["attention_mask"][idx].sum(1).max())
    out = {}
    for k, v in data.items():
        if isinstance(v, torch.Tensor):
            token_shaped = k in TOKEN_INPUTS or (k == "labels" and v.ndim == 2)
            out[k] = v[idx, :length] if token_shaped else v[idx]
    return out


def _logits(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The model's logits on a batch: every tensor but the labels goes in by name (BERT: input_ids,
    token_type_ids, attention_mask; a fusion model: input_ids, attention_mask, images)."""
    return model(**{k: v for k, v in batch.items() if k != "labels"}).logits


def _by_length(data: dict, batch_size: int) -> list[torch.Tensor]:
    """Row indices in batches of similar real length (shortest first): far less padding to compute."""
    order = torch.argsort(data["attention_mask"].sum(1), stable=True)
    return list(order.split(batch_size))


@torch.no_grad()
def predict_logits(model: nn.Module, data: dict, batch_size: int = 128) -> torch.Tensor:
    """Logits of a classifier on encoded data: (N, C) for sentences, (N, T, C) for tokens (eval mode).

    Rows are run in batches of similar length and returned in their original order."""
    n, width = len(data["input_ids"]), data["input_ids"].shape[1]
    if n == 0:
        raise ValueError("predict_logits: the data has no rows")
    was_training = model.training
    model.eval()
    out: torch.Tensor | None = None
    for idx in _by_length(data, batch_size):
        b = _batch(data, idx)
        logits = _logits(model, b)
        if logits.ndim == 3:  # token logits: pad back to the common width so all rows fit one tensor
            logits = nn.functional.pad(logits, (0, 0, 0, width - logits.shape[1]))
        if out is None:
            out = logits.new_zeros((n, *logits.shape[1:]))
        out[idx] = logits
    model.train(was_training)
    return out


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for (B, C) logits with (B,) labels, or (B, T, C) with (B, T) labels (-100 skipped)."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                       ignore_index=IGNORE_INDEX)


def _length_grouped_batches(data: dict, batch_size: int, gen: torch.Generator) -> list[torch.Tensor]:
    """One epoch of batches of similar length: a random permutation, sorted by length within pools of 50
    batches, cut into batches, in random order."""
    lengths = data["attention_mask"].sum(1)
    batches = []
    for pool in torch.randperm(len(lengths), generator=gen).split(50 * batch_size):
        batches += list(pool[torch.argsort(lengths[pool], stable=True)].split(batch_size))
    return [batches[i] for i in torch.randperm(len(batches), generator=gen)]


COLLAPSE_SHARE = 0.99  # a classifier whose predictions are ≥ 99 % one class has collapsed to it


def predicted_class_share(pred: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray | None = None) -> float:
    """The share of the most frequent predicted class: (N,) or (N, T) class predictions; with ``labels``,
    only the positions whose label is not ``IGNORE_INDEX`` count (token classification)."""
    pred = torch.as_tensor(np.asarray(pred) if isinstance(pred, np.ndarray) else pred)
    if labels is not None:
        pred = pred[torch.as_tensor(np.asarray(labels) if isinstance(labels, np.ndarray) else labels) != IGNORE_INDEX]
    if pred.numel() == 0:
        raise ValueError("predicted_class_share: no prediction to count")
    return float(torch.bincount(pred.flatten().long()).max()) / pred.numel()


def is_collapsed(pred: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray | None = None,
                 share: float = COLLAPSE_SHARE) -> bool:
    """True when ≥ ``share`` of the predictions are one class — the model learned the majority class, not the
    task (e.g. confusion ``[[1, 545], [1, 729]]``: 57 % accuracy that is no result)."""
    return predicted_class_share(pred, labels) >= share


@dataclass
class FineTuneResult:
    """What :func:`fine_tune` did: per-step losses, per-evaluation validation scores, the best one.

    ``patience_from``: the step after which evaluations without improvement count toward ``patience``;
    ``collapsed``: the kept (best-validation) weights predict one class for ≥ 99 % of the validation rows.
    """

    losses: list[float] = field(default_factory=list)
    val_scores: list[tuple[int, float]] = field(default_factory=list)  # (step, score)
    best_step: int = 0
    best_score: float = float("nan")
    steps: int = 0
    seconds: float = 0.0
    stopped_early: bool = False
    patience_from: int = 0
    collapsed: bool = False
    val_class_share: float = float("nan")  # share of the most predicted class on validation (kept weights)


def fine_tune(model: nn.Module, train: dict, val: dict | None = None, *, epochs: float = 3.0, lr: float = 5e-5,
              batch_size: int = 32, weight_decay: float = 0.01, warmup: float = 0.1, clip: float = 1.0,
              evals_per_epoch: int = 1, patience: int | None = 2, min_epochs: float = 1.0,
              score: Callable[[torch.Tensor, dict], float] | None = None,
              seed: int = 0, progress: bool = False, loss_fn: Callable | None = None,
              group_by_length: bool = False, desc: str = "fine-tuning") -> FineTuneResult:
    """Fine-tune ``model`` (a sequence or token classifier) in place, BERT's recipe:

    AdamW with no decay on biases/LayerNorm (:func:`~bertlab.training.param_groups.no_decay_groups`), linear
    warm-up over ``warmup`` (a fraction) of the steps then linear decay to 0, gradient clipping, shuffled
    mini-batches.  ``train`` (and ``val``) hold tensors with N rows: the model's inputs by name and ``labels``
    (BERT classifiers: :func:`encode_sentences` / :func:`encode_tagged`; fusion models:
    :func:`bertlab.fusion.data.to_tensors`); the model returns an object with ``.logits``.
    With ``val`` it evaluates ``score(val_logits, val)`` (default: accuracy) ``evals_per_epoch`` times per epoch,
    keeps the best weights, stops after ``patience`` evaluations without improvement and restores the best
    weights. Patience only counts evaluations **after the warm-up and after** ``min_epochs`` **epochs**: before
    that the head is barely trained and the learning rate still rising, and a score that does not improve
    there says nothing (counting them stopped a 250-label run at step 32 of 240, predicting one class).
    The result says whether the kept weights predict one class (``collapsed``, :func:`is_collapsed`).
    ``loss_fn(logits, batch, idx) -> loss`` replaces cross-entropy (e.g. distillation).  Leaves eval mode.

    ``group_by_length=True`` fills each batch with sentences of similar length (sorted within random pools of
    50 batches, batch order shuffled) — the same examples per epoch, much less padding to compute; the
    default draws plain random batches.
    """
    n = len(train["input_ids"])
    if n == 0:
        raise ValueError("fine_tune: the training set is empty")
    steps_per_epoch = math.ceil(n / batch_size)
    total = max(1, round(epochs * steps_per_epoch))
    eval_every = max(1, steps_per_epoch // max(1, evals_per_epoch))
    score = score or _label_accuracy
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout masks
    opt = torch.optim.AdamW(no_decay_groups(model, weight_decay), lr=lr)
    warmup_steps = int(warmup * total)
    sched = warmup_linear_schedule(opt, warmup_steps, total)
    result, best_state, bad, order = FineTuneResult(), None, 0, torch.empty(0, dtype=torch.long)
    result.patience_from = max(warmup_steps, math.ceil(min_epochs * steps_per_epoch))
    queue: list[torch.Tensor] = []  # batches of one epoch, for group_by_length
    t0 = time.perf_counter()
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    model.train()
    for step in range(1, total + 1):
        if group_by_length:
            if not queue:
                queue = _length_grouped_batches(train, batch_size, gen)
            idx = queue.pop()
        else:
            if len(order) < batch_size:
                order = torch.cat([order, torch.randperm(n, generator=gen)])
            idx, order = order[:batch_size], order[batch_size:]
        b = _batch(train, idx)
        logits = _logits(model, b)
        loss = loss_fn(logits, b, idx) if loss_fn is not None else classification_loss(logits, b["labels"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        sched.step()
        result.losses.append(loss.item())
        bar.update(1)
        if val is not None and (step % eval_every == 0 or step == total):
            val_logits = predict_logits(model, val)
            s = score(val_logits, val)
            model.train()
            result.val_scores.append((step, s))
            bar.set_postfix(val=f"{s:.3f}")
            if best_state is None or s > result.best_score:
                result.best_score, result.best_step, bad = s, step, 0
                result.val_class_share = predicted_class_share(val_logits.argmax(-1), val.get("labels"))
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            elif step > result.patience_from:  # no patience is spent during warm-up and the first epochs
                bad += 1
                if patience is not None and bad >= patience:
                    result.stopped_early = True
                    break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
        result.collapsed = result.val_class_share >= COLLAPSE_SHARE
    result.steps, result.seconds = len(result.losses), time.perf_counter() - t0
    model.eval()
    return result


def _label_accuracy(logits: torch.Tensor, data: dict) -> float:
    """fine_tune's default score: :func:`bertlab.training.metrics.accuracy` of ``logits`` on ``data["labels"]``."""
    return accuracy(logits, data["labels"])


def freeze_encoder(model: nn.Module) -> nn.Module:
    """Linear probe: freeze everything but the classifier head (``model.classifier``)."""
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith("classifier.")
    return model


def mean_pooled_features(encoder: nn.Module, data: dict, batch_size: int = 128) -> torch.Tensor:
    """Frozen sentence features (N, H): the mean of the last hidden states over real tokens."""
    feats = torch.zeros(len(data["input_ids"]), encoder.config.hidden_size)
    with torch.no_grad():
        for idx in _by_length(data, batch_size):  # similar lengths together, rows back in their order
            b = _batch(data, idx)
            h = encoder(**{k: b[k] for k in TOKEN_INPUTS}).last_hidden_state  # (B, T, H)
            feats[idx] = masked_mean(h, b["attention_mask"])
    return feats


def word_predictions(logits: torch.Tensor, word_ids: Sequence[Sequence[int | None]]) -> list[list[int]]:
    """Token logits (N, T, C) → one predicted class per word: the prediction at each word's first piece
    (the piece that carried the label in training).  Words cut off by truncation are predicted 0 ("O")."""
    pred = logits.argmax(-1)  # (N, T)
    out = []
    for row, ids in zip(pred.tolist(), word_ids):
        n_words = max((w for w in ids if w is not None), default=-1) + 1
        words, previous = [0] * n_words, None
        for t, w in enumerate(ids):
            if w is not None and w != previous:
                words[w] = row[t]
            previous = w
        out.append(words)
    return out
