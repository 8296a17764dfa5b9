"""The learners chapter 06 compares, and how each is built and scored.

- TF-IDF of word uni+bigrams → logistic regression (C picked on validation): no pre-training;
- the course's tiny BERT architecture, from random init or from the course's pre-trained checkpoint;
- all-MiniLM-L6-v2, frozen (a linear probe on mean-pooled features) or fully fine-tuned.

The command that runs them all over sizes and seeds is ``python -m bertlab.runs.finetune``.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from . import data
from .finetuning import (
    encode_sentences,
    encode_tagged,
    mean_pooled_features,
    predict_logits,
    word_predictions,
)
from .model import BertConfig, BertForSequenceClassification, BertForTokenClassification, BertModel
from .ner_data import TAGS
from .training.metrics import entity_f1, scores
from .weights import load_pretrained, minilm_path

TINY_BERT = data.DATA_DIR / "tiny-bert"


# Per learner: learning rate and epochs by training-set size (smaller sets get more passes; early
# stopping on validation decides when to stop).  Chosen on the validation split at 1,000 labels, never on
# test: the tiny KJV checkpoint collapsed to the majority class with [CLS] pooling at lr 1e-4 (val 56.5 %),
# reached 60.5 % with mean pooling at 2e-4 and 64.1 % at 1e-3.
RECIPES = {
    "random": {"lr": 1e-3, "epochs": {250: 30, 1000: 15, 4000: 8, None: 5}, "pooling": "mean"},
    "tiny": {"lr": 1e-3, "epochs": {250: 30, 1000: 15, 4000: 8, None: 5}, "pooling": "mean"},
    "minilm": {"lr": 1e-4, "epochs": {250: 10, 1000: 5, 4000: 2, None: 1}, "pooling": "mean"},
}


DROPOUT = 0.1  # fine-tuning dropout (the tiny checkpoint was pre-trained without dropout)


def set_dropout(model: nn.Module, p: float) -> nn.Module:
    """Set every dropout layer's probability to ``p`` (e.g. to fine-tune a checkpoint trained without)."""
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = p
    return model


def tiny_classifier(pretrained: bool, pooling: str = "cls", seed: int = 0):
    """(model, tokenizer): the tiny BERT from ``data/tiny-bert`` with a fresh 2-class head, or the same
    architecture with random weights (``pretrained=False``), with fine-tuning dropout."""
    torch.manual_seed(seed)
    model, tok = load_pretrained(TINY_BERT, BertForSequenceClassification, num_labels=2, pooling=pooling)
    if not pretrained:
        config = BertConfig.from_dict({**model.config.to_dict()})
        model = BertForSequenceClassification(config, num_labels=2, pooling=pooling)
    return set_dropout(model, DROPOUT), tok


def minilm_classifier(pooling: str = "mean", seed: int = 0):
    """(model, tokenizer): all-MiniLM-L6-v2 with a fresh 2-class head."""
    torch.manual_seed(seed)
    model, tok = load_pretrained(minilm_path(), BertForSequenceClassification, num_labels=2, pooling=pooling)
    return model, tok


def subset(texts: list[str], labels: np.ndarray, n: int | None, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """The first ``n`` examples of one fixed shuffle (nested: smaller subsets are inside larger ones)."""
    order = np.random.default_rng(seed).permutation(len(texts))[: n or len(texts)]
    return [texts[i] for i in order], labels[order]


def fit_logistic(x_train, y_train, x_val, y_val, cs=(0.1, 0.3, 1.0, 3.0, 10.0)):
    """Logistic regression with C chosen on the validation split; returns the fitted model."""
    from sklearn.linear_model import LogisticRegression

    best = None
    for c in cs:
        clf = LogisticRegression(C=c, max_iter=2000).fit(x_train, y_train)
        acc = clf.score(x_val, y_val)
        if best is None or acc > best[0]:
            best = (acc, clf)
    return best[1]


def run_tfidf(train, val, test) -> dict:
    """TF-IDF (word uni+bigrams, sublinear tf) + logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    t0 = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x_train = vec.fit_transform(train[0])
    clf = fit_logistic(x_train, train[1], vec.transform(val[0]), val[1])
    pred = clf.predict(vec.transform(test[0]))
    return {**scores(test[1], pred), "train_seconds": time.perf_counter() - t0}


def run_probe(features: dict, idx: np.ndarray, val_y, test_y) -> dict:
    """Linear probe on cached frozen features (rows ``idx`` of the training features)."""
    t0 = time.perf_counter()
    clf = fit_logistic(features["train"][idx], features["train_y"][idx], features["val"], val_y)
    pred = clf.predict(features["test"])
    return {**scores(test_y, pred), "train_seconds": time.perf_counter() - t0 + features["seconds"] * len(idx)
            / len(features["train"])}


def minilm_features(train, val, test) -> dict:
    """Frozen mean-pooled MiniLM features for the three splits (computed once; time recorded)."""
    t0 = time.perf_counter()
    encoder, tok = load_pretrained(minilm_path(), BertModel)
    out = {split: mean_pooled_features(encoder, encode_sentences(tok, *xy)).numpy()
           for split, xy in (("train", train), ("val", val), ("test", test))}
    out["train_y"] = train[1]
    out["seconds"] = time.perf_counter() - t0
    return out


def token_classifier(name: str, num_labels: int, seed: int = 0):
    """(model, tokenizer) for tagging: ``random`` / ``tiny`` (course tiny BERT) / ``minilm``."""
    torch.manual_seed(seed)
    folder = minilm_path() if name == "minilm" else TINY_BERT
    model, tok = load_pretrained(folder, BertForTokenClassification, num_labels=num_labels)
    if name == "random":
        model = BertForTokenClassification(model.config, num_labels)
    return set_dropout(model, DROPOUT), tok


def tag_scores(model, tok, split) -> dict:
    """Entity-level precision / recall / F1 of ``model`` on a :class:`~bertlab.ner_data.NerSplit`."""
    enc = encode_tagged(tok, split.words, split.tag_ids())
    pred = [[TAGS[i] for i in row] for row in word_predictions(predict_logits(model, enc), enc["word_ids"])]
    m = entity_f1(split.tags, pred)
    return {k: float(m[k]) for k in ("precision", "recall", "f1")}
