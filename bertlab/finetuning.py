"""Fine-tuning helpers (chapter 06): metrics, AdamW parameter groups, warm-up schedule, label alignment.

Everything here is framework-light and independent of any checkpoint, so it is tested on its own.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

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
