"""Fine-tuning helpers (chapter 06): metrics, AdamW parameter groups, warm-up schedule, label alignment.

Everything here is framework-light and independent of any checkpoint, so it is tested on its own.
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

IGNORE_INDEX = -100  # label value that torch.nn.CrossEntropyLoss skips


# ----------------------------------------------------------------------------- metrics
def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts C[i, j] = #examples with true class i predicted as j.  Rows = truth, columns = prediction.

    y_true, y_pred: int sequences of equal length (N,).  Returns int array (K, K).
    """
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"confusion_matrix: y_true {y_true.shape} and y_pred {y_pred.shape} must be equal 1-D shapes")
    k = num_classes if num_classes is not None else int(max(y_true.max(initial=-1), y_pred.max(initial=-1)) + 1)
    if (y_true < 0).any() or (y_pred < 0).any() or (y_true >= k).any() or (y_pred >= k).any():
        raise ValueError(f"confusion_matrix: labels must lie in [0, {k})")
    cm = np.zeros((k, k), dtype=int)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (a class never predicted / never present scores 0, not NaN)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def f1_from_confusion(cm) -> dict:
    """Accuracy and per-class / macro precision, recall, F1 from a (K, K) confusion matrix (rows = truth).

    precision_c = C[c, c] / Σ_i C[i, c]   (column sum: everything predicted c)
    recall_c    = C[c, c] / Σ_j C[c, j]   (row sum: everything truly c)
    F1_c        = 2 P R / (P + R);  macro = unweighted mean over classes; 0/0 counts as 0.
    Returns dict: accuracy (float), precision/recall/f1 (arrays (K,)), macro_precision/macro_recall/macro_f1.
    """
    cm = np.asarray(cm, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"f1_from_confusion: expected a square (K, K) matrix, got shape {cm.shape}")
    tp = np.diag(cm)
    precision = _safe_div(tp, cm.sum(axis=0))
    recall = _safe_div(tp, cm.sum(axis=1))
    f1 = _safe_div(2 * precision * recall, precision + recall)
    total = cm.sum()
    return {
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "precision": precision, "recall": recall, "f1": f1,
        "macro_precision": float(precision.mean()), "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
    }


def entity_spans(tags: list[str]) -> set[tuple[int, int, str]]:
    """BIO tags -> set of (start, end_exclusive, type).  An I-X not following B-X/I-X starts a new entity."""
    spans, start, kind = set(), None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        inside = tag.startswith("I-") and kind == tag[2:]
        if start is not None and not inside:
            spans.add((start, i, kind))
            start, kind = None, None
        if tag.startswith("B-") or (tag.startswith("I-") and not inside):
            start, kind = i, tag[2:]
    return spans


def entity_f1(true_tags: list[list[str]], pred_tags: list[list[str]]) -> dict:
    """Entity-level (exact span + type match, as in CoNLL seqeval) precision, recall, F1 over sentences."""
    if len(true_tags) != len(pred_tags):
        raise ValueError(f"entity_f1: {len(true_tags)} true sentences but {len(pred_tags)} predicted")
    tp = n_true = n_pred = 0
    for t, p in zip(true_tags, pred_tags):
        if len(t) != len(p):
            raise ValueError(f"entity_f1: sentence lengths differ ({len(t)} vs {len(p)})")
        st, sp = entity_spans(t), entity_spans(p)
        tp, n_true, n_pred = tp + len(st & sp), n_true + len(st), n_pred + len(sp)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "n_true": n_true, "n_pred": n_pred}


# ----------------------------------------------------------------------------- optimisation
def no_decay_groups(model: nn.Module, weight_decay: float = 0.01) -> list[dict]:
    """AdamW parameter groups as in BERT: decay matrices, never biases or LayerNorm γ/β.

    Returns [{"params": decayed, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}];
    every trainable parameter appears exactly once (frozen ones, requires_grad=False, are left out).
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


def warmup_linear_lambda(warmup_steps: int, total_steps: int):
    """LR multiplier for LambdaLR: linear 0 -> 1 over warmup_steps, then linear 1 -> 0 at total_steps."""
    if total_steps <= 0 or not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"need 0 <= warmup_steps ({warmup_steps}) <= total_steps ({total_steps}) and total_steps > 0")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
    return factor


def warmup_linear_schedule(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int):
    """torch LambdaLR implementing warm-up + linear decay (call .step() after each optimizer.step())."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_linear_lambda(warmup_steps, total_steps))


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


MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")


def _batch(data: dict, idx: torch.Tensor) -> dict[str, torch.Tensor]:
    """Rows ``idx`` of every tensor, trimmed to the longest real sequence in the batch (saves compute)."""
    length = int(data["attention_mask"][idx].sum(1).max())
    return {k: data[k][idx, :length] if data[k].ndim == 2 else data[k][idx]
            for k in (*MODEL_INPUTS, "labels") if k in data}


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
        logits = model(**{k: b[k] for k in MODEL_INPUTS}).logits
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


@dataclass
class FineTuneResult:
    """What :func:`fine_tune` did: per-step losses, per-evaluation validation scores, the best one."""

    losses: list[float] = field(default_factory=list)
    val_scores: list[tuple[int, float]] = field(default_factory=list)  # (step, score)
    best_step: int = 0
    best_score: float = float("nan")
    steps: int = 0
    seconds: float = 0.0
    stopped_early: bool = False


def fine_tune(model: nn.Module, train: dict, val: dict | None = None, *, epochs: float = 3.0, lr: float = 5e-5,
              batch_size: int = 32, weight_decay: float = 0.01, warmup: float = 0.1, clip: float = 1.0,
              evals_per_epoch: int = 1, patience: int | None = 2, score: Callable[[torch.Tensor, dict], float] | None = None,
              seed: int = 0, progress: bool = False, loss_fn: Callable | None = None,
              group_by_length: bool = False) -> FineTuneResult:
    """Fine-tune ``model`` (a sequence or token classifier) in place, BERT's recipe:

    AdamW with no decay on biases/LayerNorm (:func:`no_decay_groups`), linear warm-up over ``warmup`` of the
    steps then linear decay to 0, gradient clipping, shuffled mini-batches.  With ``val`` it evaluates
    ``score(val_logits, val)`` (default: accuracy) ``evals_per_epoch`` times per epoch, keeps the best
    weights, stops after ``patience`` evaluations without improvement and restores the best weights.
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
    score = score or accuracy_score
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout masks
    opt = torch.optim.AdamW(no_decay_groups(model, weight_decay), lr=lr)
    sched = warmup_linear_schedule(opt, int(warmup * total), total)
    result, best_state, bad, order = FineTuneResult(), None, 0, torch.empty(0, dtype=torch.long)
    queue: list[torch.Tensor] = []  # batches of one epoch, for group_by_length
    t0 = time.perf_counter()
    bar = tqdm(total=total, desc="fine-tuning", disable=not progress, leave=False)
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
        logits = model(**{k: b[k] for k in MODEL_INPUTS}).logits
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
            s = score(predict_logits(model, val), val)
            model.train()
            result.val_scores.append((step, s))
            bar.set_postfix(val=f"{s:.3f}")
            if best_state is None or s > result.best_score:
                result.best_score, result.best_step, bad = s, step, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad += 1
                if patience is not None and bad >= patience:
                    result.stopped_early = True
                    break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    result.steps, result.seconds = len(result.losses), time.perf_counter() - t0
    model.eval()
    return result


def accuracy_score(logits: torch.Tensor, data: dict) -> float:
    """Share of (non -100) labels whose arg-max prediction is right."""
    labels = data["labels"]
    keep = labels != IGNORE_INDEX
    return float((logits.argmax(-1)[keep] == labels[keep]).float().mean())


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
            h = encoder(**{k: b[k] for k in MODEL_INPUTS}).last_hidden_state  # (B, T, H)
            m = b["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
            feats[idx] = (h * m).sum(1) / m.sum(1)
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
