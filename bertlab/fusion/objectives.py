"""The objectives that pre-train image–text models, and how retrieval is scored: image–text matching (ITM)
negatives, CLIP's symmetric InfoNCE, batches without false negatives, recall@k."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..multimodal_data import ImageTextSet


def itm_negatives(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each example i, the index j of a *mismatched* partner for image–text matching.

    j is drawn uniformly among the examples whose label differs from labels[i] (so never i itself, and
    never another example whose text would describe image i just as well). Returns (N,) int64.
    """
    labels = np.asarray(labels)
    n = len(labels)
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        candidates = np.flatnonzero(labels != labels[i])
        if len(candidates) == 0:
            raise ValueError(f"example {i} has no example with a different label to pair with")
        out[i] = rng.choice(candidates)
    return out


def itm_pairs(captions: ImageTextSet, rng: np.random.Generator) -> ImageTextSet:
    """Balanced image–text matching data from captioned images: every caption once with its own image (label 1)
    and once with the image of another class (label 0, partner drawn by :func:`itm_negatives`). (2N examples.)"""
    neg = itm_negatives(captions.classes, rng)
    n = len(neg)
    return ImageTextSet(np.concatenate([captions.images, captions.images[neg]]), list(captions.texts) * 2,
                        np.r_[np.ones(n), np.zeros(n)].astype(np.int64),
                        np.r_[captions.image_ids, captions.image_ids[neg]], np.r_[captions.classes, captions.classes[neg]])


def info_nce(image_emb: torch.Tensor, text_emb: torch.Tensor, temperature: torch.Tensor | float) -> torch.Tensor:
    """CLIP's symmetric InfoNCE loss for a batch of B matching pairs (row i of each is a pair).

    logits = normalise(I) normalise(T)ᵀ / τ  (B, B); the loss is the mean of the cross-entropy of each
    image over the texts (rows) and of each text over the images (columns), target = the diagonal.
    """
    i = F.normalize(image_emb, dim=-1)  # (B, D)
    t = F.normalize(text_emb, dim=-1)  # (B, D)
    logits = i @ t.T / temperature  # (B, B): row = image, column = text
    targets = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def retrieval_recall(similarity: torch.Tensor | np.ndarray, ks: tuple[int, ...] = (1, 5)) -> dict[int, float]:
    """Recall@k for queries (rows) against a gallery (columns) where query i's match is column i."""
    s = torch.as_tensor(similarity)
    if s.dim() != 2 or s.shape[0] > s.shape[1]:
        raise ValueError(f"similarity must be (queries, gallery ≥ queries); got shape {tuple(s.shape)}")
    true = s[torch.arange(len(s)), torch.arange(len(s))][:, None]  # (Q, 1)
    rank = (s > true).sum(dim=1)  # how many gallery items beat the match (0 = top-1)
    return {k: float((rank < k).float().mean()) for k in ks}


def distinct_class_batches(classes: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffle and cut into batches in which every class appears at most once (one batch per "round").

    Contrastive training needs this when captions repeat (every "a handwritten seven" is the same text):
    a second seven in the batch would be a false negative.
    """
    classes = np.asarray(classes)
    pools = {c: list(rng.permutation(np.flatnonzero(classes == c))) for c in np.unique(classes)}
    batches = []
    while any(pools.values()):
        batches.append(np.array([pool.pop() for pool in pools.values() if pool]))
    return [batches[i] for i in rng.permutation(len(batches))]
