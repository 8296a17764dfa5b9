"""Checks for chapter 06 — fine-tuning: the classification head, label alignment, AdamW groups, metrics."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..finetuning import align_labels as ref_align_labels
from ..pooling import masked_mean
from ..training.metrics import f1_from_confusion as ref_f1_from_confusion
from ..training.param_groups import no_decay_groups as ref_no_decay_groups
from ._core import Check, exercise

__all__ = ["classification_head", "align_labels", "no_decay_groups", "f1_from_confusion"]


def _head_inputs():
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 6, 8, generator=g)  # (B, T, H)
    pooler = torch.tanh(torch.randn(3, 8, generator=g))  # (B, H)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]])
    weight = torch.randn(3, 8, generator=g) * 0.5  # (C, H), nn.Linear's layout
    bias = torch.tensor([0.5, -1.0, 0.25])
    return hidden, pooler, mask, weight, bias


@exercise("classification_head")
def classification_head(c: Check, fn) -> None:
    hidden, pooler, mask, weight, bias = _head_inputs()
    m = mask.float()[..., None]  # (B, T, 1), for the wrong answers below
    mean = masked_mean(hidden, mask)  # (B, H): the package's pooling, as BertForSequenceClassification uses it
    for pooling, pooled in (("cls", pooler), ("mean", mean)):
        got = c.call(fn, hidden, pooler, mask, weight, bias, pooling,
                     what=f"classification_head(hidden (3, 6, 8), pooler (3, 8), mask (3, 6), weight (3, 8), bias (3,), "
                          f"pooling={pooling!r})")
        expected = F.linear(pooled, weight, bias)  # what the head's nn.Linear computes
        mistakes = {
            "softmax was applied: a classification head returns logits; cross_entropy applies log-softmax itself.":
                (pooled @ weight.T + bias).softmax(-1),
            "the bias is missing: logits = pooled @ weight.T + bias.": pooled @ weight.T,
        }
        if pooling == "cls":
            mistakes["this uses the raw [CLS] hidden state (hidden[:, 0]); BERT's [CLS] head reads the pooler "
                     "output, tanh(W·h_[CLS] + b), which NSP pre-training trained."] = hidden[:, 0] @ weight.T + bias
            mistakes["this pools the last position; in BERT [CLS] is position 0, and the last positions may be "
                     "padding."] = hidden[:, -1] @ weight.T + bias
        else:
            mistakes["the mean includes the padding positions: multiply by the attention mask and divide by the "
                     "number of real tokens."] = hidden.mean(1) @ weight.T + bias
            mistakes["the padding was zeroed but the sum was divided by the padded length T; divide by "
                     "mask.sum(1), the number of real tokens."] = (hidden * m).sum(1) / hidden.shape[1] @ weight.T + bias
            mistakes["'mean' pooling returned the [CLS] pooler output: average the real tokens' hidden "
                     "states."] = pooler @ weight.T + bias
        c.expect_array(got, expected, f"logits with pooling={pooling!r}", atol=1e-5, mistakes=mistakes, kind="torch",
                       hint="logits = pooled @ weight.T + bias, pooled = pooler output ('cls') or the masked mean.")
        c.note(f"pooling={pooling!r}: logits match")


def _word_ids():
    # [CLS] the patri ##arch ##s slept [SEP] [PAD]   → words 0, 1 (three pieces), 2
    return [None, 0, 1, 1, 1, 2, None, None], [4, 7, 3]


@exercise("align_labels")
def align_labels(c: Check, fn) -> None:
    word_ids, word_labels = _word_ids()
    got = c.call(fn, word_ids, word_labels, what="align_labels(word_ids, word_labels)")
    expected = [int(x) for x in ref_align_labels(word_ids, word_labels)]  # [-100, 4, 7, -100, -100, 3, -100, -100]
    c.expect(isinstance(got, (list, tuple, np.ndarray, torch.Tensor)),
             f"it returned {type(got).__name__}; expected a list with one label per piece.", "return a list.")
    got = [int(x) for x in (got.tolist() if hasattr(got, "tolist") else got)]
    c.expect(len(got) == len(word_ids), f"it returned {len(got)} labels for {len(word_ids)} pieces.",
             "one label per word piece, specials and padding included.")
    mistakes = {
        "every piece of a word got the word's label; label the FIRST piece and give the continuation "
        "pieces -100, or a long word counts several times in the loss.": [-100, 4, 7, 7, 7, 3, -100, -100],
        "the LAST piece of the word is labelled; the convention (and what prediction reads) is the first "
        "piece.": [-100, 4, -100, -100, 7, 3, -100, -100],
        "[CLS], [SEP] and padding got label 0, a real class; they must be -100 so the loss skips them.":
            [0, 4, 7, -100, -100, 3, 0, 0],
        "continuation pieces got 0 (a real class, 'O') instead of -100.": [-100, 4, 7, 0, 0, 3, -100, -100],
        "the labels are shifted by one word (word_ids index the words from 0).": [-100, 7, 3, -100, -100, -100, -100, -100],
    }
    if got != expected:
        for hint, wrong in mistakes.items():
            if got == wrong:
                c.fail(f"got {got}, expected {expected}.", hint)
        c.fail(f"got {got}, expected {expected}.",
               "walk the pieces: None → -100; a new word id → that word's label; the same id again → -100.")
    c.note("first piece labelled, continuation pieces and specials -100")
    # two consecutive single-piece words with the same label must both be labelled
    got = c.call(fn, [None, 0, 1, 2, 2, None], [5, 5, 6], what="align_labels on two one-piece words in a row")
    got = [int(x) for x in (got.tolist() if hasattr(got, "tolist") else got)]
    expected = [int(x) for x in ref_align_labels([None, 0, 1, 2, 2, None], [5, 5, 6])]  # [-100, 5, 5, 6, -100, -100]
    c.expect(got == expected, f"for word_ids [None, 0, 1, 2, 2, None] and labels [5, 5, 6] got "
             f"{got}; expected {expected}.",
             "decide 'new word' by comparing word ids, not labels: two words can share a label.")
    c.note("new word detected by word id, not by label")


class _Tiny(nn.Module):
    """Embedding (tied to the decoder), a linear layer, a LayerNorm named 'norm', a frozen linear layer."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.dense = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)
        self.decoder = nn.Linear(4, 10)
        self.decoder.weight = self.embed.weight  # tied, as BERT's MLM decoder
        self.frozen = nn.Linear(4, 4)
        self.frozen.requires_grad_(False)


@exercise("no_decay_groups")
def no_decay_groups(c: Check, fn) -> None:
    model = _Tiny()
    names = {id(p): n for n, p in model.named_parameters()}  # a tied tensor under its first name
    got = c.call(fn, model, 0.01, what="no_decay_groups(model, 0.01)")
    c.expect(isinstance(got, (list, tuple)) and all(isinstance(g, dict) and "params" in g for g in got),
             f"it returned {type(got).__name__}; expected a list of dicts with 'params' and 'weight_decay'.",
             "return [{'params': decay, 'weight_decay': wd}, {'params': no_decay, 'weight_decay': 0.0}].")
    decayed, not_decayed, seen = set(), set(), []
    for g in got:
        wd = g.get("weight_decay")
        c.expect(isinstance(wd, (int, float)), f"a group has weight_decay={wd!r}; give every group a number.",
                 "AdamW would use its own default (0.01) for a group without one.")
        for p in g["params"]:
            seen.append(id(p))
            (decayed if wd > 0 else not_decayed).add(names.get(id(p), "?"))
    if len(seen) != len(set(seen)):
        c.fail("a parameter appears twice (the tied embedding/decoder weight?); torch.optim refuses duplicates.",
               "iterate model.named_parameters(), which lists a shared tensor once.")
    if not not_decayed:
        c.fail("everything is decayed: biases and LayerNorm parameters are not pulled toward 0 in BERT.",
               "two groups: matrices (weight_decay) and biases + LayerNorm (0.0).")
    if any(n.startswith("frozen.") for n in decayed | not_decayed):
        c.fail("frozen parameters (requires_grad=False) are in the groups.",
               "skip parameters with requires_grad=False: a linear probe freezes the encoder.")
    ref_decay, ref_no = ref_no_decay_groups(model, 0.01)  # the package's grouping
    want_decay = {names[id(p)] for p in ref_decay["params"]}  # {"embed.weight", "dense.weight"}
    want_no = {names[id(p)] for p in ref_no["params"]}  # {"dense.bias", "norm.weight", "norm.bias", "decoder.bias"}
    if "norm.weight" in decayed and "dense.bias" in not_decayed:
        c.fail("LayerNorm's weight (γ) is decayed. Matching names such as 'LayerNorm.weight' misses layers named "
               "differently (here 'norm').", "test the module type (isinstance(m, nn.LayerNorm)) or p.ndim < 2.")
    c.expect(decayed == want_decay and not_decayed == want_no,
             f"decayed {sorted(decayed)}, not decayed {sorted(not_decayed)}; expected decayed {sorted(want_decay)} "
             f"and not decayed {sorted(want_no)}.", "decay weight matrices (and embeddings) only.")
    c.note("matrices decayed; biases and LayerNorm not; tied weight once; frozen left out")


def _confusions():
    return [np.array([[50, 10], [5, 35]]),                      # binary
            np.array([[30, 2, 8], [4, 20, 1], [6, 0, 0]]),       # 3 classes, class 2 never predicted right
            np.array([[5, 0, 0], [0, 3, 0], [2, 0, 0]])]         # class 2 never predicted: precision 0/0


@exercise("f1_from_confusion")
def f1_from_confusion(c: Check, fn) -> None:
    for cm in _confusions():
        got = c.call(fn, cm.copy(), what=f"f1_from_confusion({cm.tolist()})")
        c.expect(isinstance(got, dict), f"it returned {type(got).__name__}; expected a dict.",
                 "return {'accuracy': ..., 'precision': ..., 'recall': ..., 'f1': ..., 'macro_f1': ...}.")
        missing = [k for k in ("accuracy", "precision", "recall", "f1", "macro_f1") if k not in got]
        c.expect(not missing, f"the dict lacks {missing}.", "return accuracy, precision, recall, f1, macro_f1.")
        ref = ref_f1_from_confusion(cm)  # the package's reference
        p, r, f1, acc = ref["precision"], ref["recall"], ref["f1"], ref["accuracy"]
        tp = np.diag(cm).astype(float)
        never_predicted = cm.sum(0) == 0  # precision 0/0 there
        c.expect_array(got["accuracy"], acc, "accuracy", kind="any",
                       mistakes={"accuracy divides the diagonal by the number of classes; divide by all examples.":
                                 tp.sum() / len(cm)},
                       hint="accuracy = trace / total.")
        c.expect_array(got["precision"], p, "precision", kind="any", mistakes={
            "precision and recall are swapped: precision divides by the COLUMN sum (everything predicted c), "
            "recall by the ROW sum (everything truly c).": r,
            "__nan__": "a class that is never predicted has 0/0 precision: count it as 0 (and say so), not NaN.",
        }, hint="precision_c = C[c, c] / C[:, c].sum().")
        if never_predicted.any():
            c.note("a never-predicted class scores precision 0, not NaN")
        c.expect_array(got["recall"], r, "recall", kind="any", hint="recall_c = C[c, c] / C[c, :].sum().")
        c.expect_array(got["f1"], f1, "per-class F1", kind="any", mistakes={
            "F1 is the arithmetic mean of P and R; it is the harmonic mean 2PR / (P + R).": (p + r) / 2,
        }, hint="F1_c = 2 P_c R_c / (P_c + R_c), 0 when both are 0.")
        macro_of_means = 2 * p.mean() * r.mean() / (p.mean() + r.mean())
        c.expect_array(got["macro_f1"], f1.mean(), "macro F1", kind="any", mistakes={
            "macro F1 here is the F1 of macro-precision and macro-recall; macro F1 averages the per-class F1s.":
                macro_of_means,
            "this is the micro (= accuracy for single-label) F1; macro averages the per-class F1s so rare classes "
            "count as much as frequent ones.": acc,
        }, hint="macro F1 = mean over classes of F1_c.")
    c.note("accuracy, per-class P/R/F1 and macro F1 on 3 matrices, including a class never predicted")
