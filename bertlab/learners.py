"""The learners chapter 06 compares, and how each is built and scored.

- ``majority``: always the most frequent class of the labelled sentences (the floor every table shows);
- ``tfidf``: TF-IDF of word uni+bigrams → logistic regression (C picked on validation): no pre-training;
- ``random-init`` / ``course-bert``: the course BERT's architecture and vocabulary (``data/course-bert``), from
  random weights or from its task-adaptive pre-training (chapter 05);
- ``minilm-probe`` / ``minilm``: all-MiniLM-L6-v2, frozen (a linear probe on mean-pooled features) or fully
  fine-tuned; ``minilm-random-init``: MiniLM's architecture and vocabulary with random weights, which
  separates what its *size* buys from what its *pre-training* buys.

The command that runs them all over sizes and seeds is ``python -m bertlab.runs.learning_curves``.
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
from .model import BertForSequenceClassification, BertForTokenClassification, BertModel
from .ner_data import TAGS
from .training.metrics import entity_f1, scores
from .weights import load_pretrained, minilm_path

TINY_BERT = data.DATA_DIR / "tiny-bert"  # chapter 05's KJV checkpoint (MLM + NSP); chapter 06 tags names with it
COURSE_BERT = data.DATA_DIR / "course-bert"  # task-adaptive MLM on the review sentences; chapter 06's classifier

LEARNERS = ("majority", "tfidf", "random-init", "course-bert", "minilm-probe", "minilm", "minilm-random-init")

# Fine-tuning recipe per learner: peak learning rate, epochs by number of labels (smaller sets get more
# passes), and early stopping: patience (evaluations without improvement) counted only after the warm-up and
# ``min_epochs`` epochs. Chosen on the validation split, never on test (see data/course-bert/README.md for
# the course BERT's ladder). Mean pooling everywhere: MiniLM was trained for it, and neither course
# checkpoint trained the [CLS] pooler for sentences (course-bert has no NSP at all).
_TINY_EPOCHS = {"250": 30, "1000": 15, "4000": 8, "all": 5}
RECIPES = {
    "random-init": {"lr": 3e-4, "epochs": _TINY_EPOCHS, "patience": 4, "min_epochs": 3, "pooling": "mean"},
    "course-bert": {"lr": 3e-4, "epochs": _TINY_EPOCHS, "patience": 4, "min_epochs": 3, "pooling": "mean"},
    "minilm": {"lr": 1e-4, "epochs": {"250": 10, "1000": 5, "4000": 2, "all": 2}, "patience": 3, "min_epochs": 2,
               "pooling": "mean"},
    "minilm-random-init": {"lr": 2e-4, "epochs": {"250": 20, "1000": 10, "4000": 3, "all": 2}, "patience": 3,
                           "min_epochs": 2, "pooling": "mean"},
}


DROPOUT = 0.1  # fine-tuning dropout (data/tiny-bert was pre-trained without dropout; course-bert with 0.1)


def set_dropout(model: nn.Module, p: float) -> nn.Module:
    """Set every dropout layer's probability to ``p`` (e.g. to fine-tune a checkpoint trained without)."""
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = p
    return model


def pretrained_classifier(folder, pretrained: bool = True, pooling: str = "mean", seed: int = 0):
    """(model, tokenizer): the checkpoint in ``folder`` with a fresh 2-class head, or — ``pretrained=False`` —
    the same architecture and vocabulary with random weights; dropout 0.1 either way. ``seed`` draws the
    head's (or the whole random network's) initial weights."""
    torch.manual_seed(seed)
    model, tok = load_pretrained(folder, BertForSequenceClassification, num_labels=2, pooling=pooling)
    if not pretrained:
        torch.manual_seed(seed)
        model = BertForSequenceClassification(model.config, num_labels=2, pooling=pooling)
    return set_dropout(model, DROPOUT), tok


def classifier(learner: str, seed: int = 0):
    """(model, tokenizer) for one of the fine-tuned learners of :data:`RECIPES`."""
    if learner not in RECIPES:
        raise ValueError(f"{learner!r} is not fine-tuned; the fine-tuned learners are {sorted(RECIPES)}")
    folder = minilm_path() if learner.startswith("minilm") else COURSE_BERT
    return pretrained_classifier(folder, not learner.endswith("random-init"), RECIPES[learner]["pooling"], seed)


def tiny_classifier(pretrained: bool, pooling: str = "cls", seed: int = 0):
    """(model, tokenizer): the KJV tiny BERT from ``data/tiny-bert`` with a fresh 2-class head, or the same
    architecture with random weights (``pretrained=False``), with fine-tuning dropout."""
    return pretrained_classifier(TINY_BERT, pretrained, pooling, seed)


def minilm_classifier(pooling: str = "mean", seed: int = 0):
    """(model, tokenizer): all-MiniLM-L6-v2 with a fresh 2-class head (its own dropout, 0.1)."""
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


def run_majority(train, test) -> dict:
    """Always the most frequent class of the labelled sentences ``train`` (ties → 1): the floor."""
    t0 = time.perf_counter()
    label = int(np.mean(train[1]) >= 0.5)
    return {**scores(test[1], np.full(len(test[1]), label)), "train_seconds": time.perf_counter() - t0,
            "predicts": label}


def summarize(runs: list[dict]) -> dict[tuple[str, str], dict]:
    """Per (learner, labels): mean and sd (ddof = 1) of test accuracy over the runs that did not collapse,
    their number ``n``, the number of ``collapsed`` runs (listed apart, never averaged in), mean seconds."""
    cells: dict[tuple[str, str], dict] = {}
    for r in runs:
        cell = cells.setdefault((r["learner"], str(r["labels"])), {"acc": [], "collapsed": 0, "seconds": []})
        cell["seconds"].append(r.get("train_seconds", 0.0))
        if r.get("collapsed"):
            cell["collapsed"] += 1
        else:
            cell["acc"].append(r["accuracy"])
    out = {}
    for key, cell in cells.items():
        acc = np.array(cell["acc"])
        out[key] = {"mean": float(acc.mean()) if len(acc) else float("nan"),
                    "sd": float(acc.std(ddof=1)) if len(acc) > 1 else float("nan"), "n": len(acc),
                    "collapsed": cell["collapsed"], "seconds": float(np.mean(cell["seconds"])), "values": acc.tolist()}
    return out


def difference(a: dict, b: dict) -> dict:
    """Mean difference of two :func:`summarize` cells and its standard error sqrt(sd_a²/n_a + sd_b²/n_b)
    (independent runs), with ``z`` = difference / SE.

    When both learners give the same accuracy for every seed (deterministic: e.g. TF-IDF and the probe on
    all labels, where the seed draws nothing), the seeds cannot measure the noise: ``se`` is 0, ``z`` is NaN
    and ``deterministic`` is True — the test set's own sampling noise (~1.3 points on 1,276 sentences) remains.
    """
    diff = a["mean"] - b["mean"]
    se = float(np.sqrt(a["sd"] ** 2 / a["n"] + b["sd"] ** 2 / b["n"]))
    if se < 1e-9:  # sds of identical accuracies come out as ~1e-17, not 0
        return {"diff": diff, "se": 0.0, "z": float("nan"), "deterministic": True}
    return {"diff": diff, "se": se, "z": diff / se, "deterministic": False}


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
