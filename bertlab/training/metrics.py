"""Scores of a classifier or tagger: accuracy, confusion matrix, per-class and macro F1, entity-level F1."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..pretraining import IGNORE_INDEX


def accuracy(logits: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> float:
    """Share of the scored labels predicted right; labels equal to ``IGNORE_INDEX`` (-100) do not count.

    ``logits``: (N, C) for (N,) labels or (N, T, C) for (N, T) labels — the prediction is the arg-max —
    or already predictions, of the labels' own shape.
    """
    logits, labels = torch.as_tensor(logits), torch.as_tensor(labels)
    pred = logits.argmax(-1) if logits.dim() == labels.dim() + 1 else logits
    if pred.shape != labels.shape:
        raise ValueError(f"accuracy: predictions {tuple(pred.shape)} do not match labels {tuple(labels.shape)}")
    keep = labels != IGNORE_INDEX
    if not keep.any():
        raise ValueError("accuracy: no label to score (all are IGNORE_INDEX)")
    return float((pred[keep] == labels[keep]).float().mean())


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


def scores(y_true, y_pred, num_classes: int = 2) -> dict:
    """Accuracy, macro F1 and the confusion matrix (as lists, ready for JSON) of class predictions (N,)."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    m = f1_from_confusion(cm)
    return {"accuracy": float(m["accuracy"]), "macro_f1": float(m["macro_f1"]), "confusion": cm.tolist()}


def entity_spans(tags: Sequence[str]) -> set[tuple[int, int, str]]:
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


def entity_f1(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> dict:
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
