"""Checks for chapter 05 — pre-training with MLM and NSP."""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from ._core import Check, exercise

__all__ = ["mask_tokens", "nsp_pairs", "mlm_loss"]

PAD, CLS, SEP, MASK = 0, 2, 3, 4
SPECIALS = [0, 1, 2, 3, 4]
VOCAB = 1000


def _sample_batch() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, VOCAB, (400, 64), generator=g)
    ids[:, 0], ids[:, 30] = CLS, SEP
    lengths = torch.randint(40, 65, (400,), generator=g)
    for r, n in enumerate(lengths.tolist()):
        ids[r, n - 1] = SEP
        ids[r, n:] = PAD
    return ids


@exercise("mask_tokens", time_limit=20)
def mask_tokens(c: Check, fn) -> None:
    ids = _sample_batch()
    got = c.call(fn, ids, SPECIALS, VOCAB, MASK, 0.15, torch.Generator().manual_seed(5),
                 what="mask_tokens(input_ids, special_ids, vocab_size, mask_id, 0.15, generator)")
    c.expect(isinstance(got, tuple) and len(got) == 2, "it should return (masked_ids, labels).",
             "return masked, labels.")
    masked, labels = (c.expect_torch(x, "mask_tokens") for x in got)
    c.expect(masked.shape == ids.shape and labels.shape == ids.shape,
             f"shapes {tuple(masked.shape)}, {tuple(labels.shape)}; expected both {tuple(ids.shape)}.")
    special = torch.isin(ids, torch.tensor(SPECIALS))
    if (labels == 0).sum() > 0.5 * labels.numel() and not (labels == -100).any():
        c.fail("labels use 0 at the positions that are not predicted; 0 is the [PAD] id, a real class.",
               "use -100 (cross_entropy's ignore_index) for positions that are not predicted.")
    chosen = labels != -100
    c.expect(not (chosen & special).any(), f"{int((chosen & special).sum())} special tokens ([CLS]/[SEP]/[PAD]) were "
             "chosen for prediction.", "never choose special or padding positions: exclude them before sampling.")
    c.expect(torch.equal(labels[chosen], ids[chosen]), "labels at chosen positions are not the original ids.",
             "labels = original id where chosen, -100 elsewhere.")
    share = chosen.sum().item() / (~special).sum().item()
    c.expect(abs(share - 0.15) < 0.01, f"{share:.1%} of the real tokens were chosen; expected 15 % (± 1 %).",
             "choose each non-special position with probability mlm_probability.")
    c.note(f"{share:.1%} of non-special tokens chosen, specials never")
    n = chosen.sum().item()
    to_mask = (masked == MASK) & chosen
    unchanged = (masked == ids) & chosen
    replaced = chosen & ~to_mask & ~unchanged
    m, u, r = to_mask.sum().item() / n, unchanged.sum().item() / n, replaced.sum().item() / n
    split = f"[MASK] {m:.1%}, random {r:.1%}, unchanged {u:.1%}"
    if abs(m - 0.1) < 0.03 and (abs(r - 0.8) < 0.05 or abs(u - 0.8) < 0.05):
        c.fail(f"of the chosen tokens: {split} — the 80/10/10 split is reversed.",
               "80 % → [MASK], 10 % → random token, 10 % unchanged.")
    if not (abs(m - 0.8) < 0.025 and abs(r - 0.1) < 0.02 and abs(u - 0.1) < 0.02):
        c.fail(f"of the chosen tokens: {split}; expected 80 / 10 / 10 (± 2 %).",
               "decide each chosen token with ONE random draw (u < 0.8 → [MASK], 0.8 ≤ u < 0.9 → random); "
               "independent masks overlap, so the split is only approximate." if m < 0.77 or r > 0.12 else
               "80 % [MASK], 10 % random, 10 % unchanged.")
    c.note(f"80/10/10 split: {split}")
    c.expect(not (masked[~chosen] != ids[~chosen]).any(), "positions that were not chosen were changed.",
             "only chosen positions may change.")
    c.expect(not torch.isin(masked[replaced], torch.tensor(SPECIALS)).any(),
             "some random replacements are special tokens ([PAD]/[CLS]/[SEP]/[MASK]).",
             "draw random replacements from the non-special ids only, as the exercise asks (Google's and "
             "transformers' code draw from the whole vocabulary; excluding specials is the course's refinement).")
    c.note("random replacements are never special tokens")
    again = c.call(fn, ids, SPECIALS, VOCAB, MASK, 0.15, torch.Generator().manual_seed(5), what="a second call, same seed")
    c.expect(torch.equal(again[0], masked) and torch.equal(again[1], labels),
             "the same generator seed gave a different mask.", "draw every random number from `generator`.")
    c.note("same seed → same masks")


def _documents(n_docs: int = 12, n_sentences: int = 6) -> list[list[list[int]]]:
    """``n_docs`` documents of ``n_sentences`` sentences; the g-th sentence overall is [5 + 3g, 6 + 3g, 7 + 3g]
    (every sentence distinct, so each one can be traced back to its document and position)."""
    return [[[5 + 3 * (d * n_sentences + s) + k for k in range(3)] for s in range(n_sentences)]
            for d in range(n_docs)]


def _nsp_labels(c: Check, got, docs: list[list[list[int]]], corpus: str) -> list[int]:
    """Check every pair of ``got`` against ``docs``; return the labels."""
    where = {tuple(s): (d, i) for d, doc in enumerate(docs) for i, s in enumerate(doc)}
    n_expected = sum(len(doc) - 1 for doc in docs)
    c.expect(isinstance(got, list) and len(got) == n_expected,
             f"on {corpus}: expected one pair per consecutive sentence pair ({n_expected}); got "
             f"{len(got) if isinstance(got, list) else type(got).__name__}.", "loop over i = 0 … len(doc) − 2.")
    labels = []
    for n, item in enumerate(got):
        c.expect(isinstance(item, (tuple, list)) and len(item) == 3, f"pair {n} is {item!r}; expected "
                 "(input_ids, token_type_ids, label).")
        ids, types, label = list(item[0]), list(item[1]), int(item[2])
        c.expect(ids[:1] == [CLS] and ids.count(SEP) == 2 and ids[-1] == SEP,
                 f"pair {n} is {ids}; expected [CLS] A [SEP] B [SEP].", "ids = [cls] + a + [sep] + b + [sep].")
        cut = ids.index(SEP)
        a, b = tuple(ids[1:cut]), tuple(ids[cut + 1:-1])
        c.expect(types == [0] * (len(a) + 2) + [1] * (len(b) + 1), f"pair {n}: token_type_ids {types} are wrong.",
                 "0 for [CLS] A [SEP], 1 for B [SEP].")
        c.expect(a in where and b in where, f"pair {n}: A or B is not one of the input sentences.",
                 "A is sentence i of a document, B one whole sentence (the next one, or one from another document).")
        (da, ia), (db, ib) = where[a], where[b]
        if label == 0:
            c.expect(da == db and ib == ia + 1, f"pair {n} is labelled IsNext (0) but B is not the sentence after A "
                     f"(A = doc {da} sentence {ia}, B = doc {db} sentence {ib}).",
                     "IsNext = 0 when B is the real next sentence; NotNext = 1 otherwise. Are the labels flipped?")
        elif label == 1:
            if da == db and ib == ia + 1:
                c.fail(f"pair {n} is labelled NotNext (1) but B is the sentence right after A.",
                       "IsNext = 0, NotNext = 1 (as in transformers): are the labels flipped?")
            if da == db:
                c.fail(f"on {corpus}: pair {n} is NotNext but B comes from the same document as A (doc {da}).",
                       "draw NotNext sentences from a *different* document — choose among the documents other than "
                       "A's own (`[j for j in range(len(documents)) if j != d]`). Drawing from all documents (or from "
                       "all sentences) picks A's own document 1 time in N: rare on a big corpus, but a "
                       "same-document sentence is often still on topic, which makes NSP noisy.")
        else:
            c.fail(f"pair {n} has label {label}; expected 0 (IsNext) or 1 (NotNext).")
        labels.append(label)
    return labels


@exercise("nsp_pairs")
def nsp_pairs(c: Check, fn) -> None:
    docs = _documents()
    got = c.call(fn, docs, CLS, SEP, random.Random(0), what="nsp_pairs(documents, cls_id, sep_id, rng)")
    _nsp_labels(c, got, docs, "12 documents of 6 sentences")
    c.note("[CLS] A [SEP] B [SEP], segments 0/1, IsNext pairs really consecutive, NotNext from another document")
    # With 2 or 3 documents, drawing NotNext from *all* documents lands in A's own one every 2nd or 3rd time:
    # ~90 NotNext pairs leave such an implementation no chance to pass by luck (P < 1e-12).
    not_next = 0
    for n_docs, seed in ((2, 1), (3, 2), (2, 3)):
        few = _documents(n_docs, 30)
        got = c.call(fn, few, CLS, SEP, random.Random(seed),
                     what=f"nsp_pairs on {n_docs} documents of 30 sentences")
        not_next += sum(_nsp_labels(c, got, few, f"{n_docs} documents of 30 sentences"))
    c.note(f"on 2- and 3-document corpora, none of {not_next} NotNext pairs comes from A's own document")
    many = _documents(240, 6)
    got = c.call(fn, many, CLS, SEP, random.Random(1), what="nsp_pairs on 240 documents")
    share = sum(_nsp_labels(c, got, many, "240 documents")) / len(got)
    c.expect(abs(share - 0.5) < 0.05, f"{share:.0%} of the pairs are NotNext; expected 50 % (± 5 %).",
             "with probability ½ replace B by a sentence from another document.")
    c.note(f"balanced: {share:.0%} NotNext over {len(got)} pairs")


@exercise("mlm_loss")
def mlm_loss(c: Check, fn) -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 10, 50, generator=g) * 3
    labels = torch.full((4, 10), -100)
    positions = torch.rand(4, 10, generator=g) < 0.3
    labels[positions] = torch.randint(0, 50, (int(positions.sum()),), generator=g)
    labels[0, 1] = 0  # a real token whose id happens to be 0 must count
    got = c.call(fn, logits, labels, what="mlm_loss(logits (4, 10, 50), labels (4, 10))")
    got = c.expect_torch(got, "mlm_loss")
    c.expect(got.dim() == 0, f"the loss has shape {tuple(got.shape)}; expected a scalar.", "average over positions.")
    chosen = labels != -100
    expected = F.cross_entropy(logits[chosen], labels[chosen])
    flat = labels.clamp(min=0)
    mistakes = {
        "the loss includes the positions that are not predicted (labels -100 turned into class 0); average over "
        "the chosen positions only.": F.cross_entropy(logits.view(-1, 50), flat.view(-1)),
        "this sums the per-position losses; BERT averages over the chosen positions.":
            F.cross_entropy(logits[chosen], labels[chosen], reduction="sum"),
        "softmax was applied before cross_entropy, which applies log-softmax itself.":
            F.cross_entropy(logits[chosen].softmax(-1), labels[chosen]),
        "ignore_index=0 drops real tokens whose id is 0; -100 marks the ignored positions.":
            F.cross_entropy(logits.view(-1, 50), flat.view(-1), ignore_index=0),
        "this averages over all B·T positions (padding and unchosen ones count in the denominator).":
            F.cross_entropy(logits.view(-1, 50), labels.view(-1), reduction="sum") / labels.numel(),
    }
    c.expect_array(got.detach().reshape(()), expected, what="the MLM loss", kind="torch", atol=1e-5,
                   mistakes={k: v.reshape(()) for k, v in mistakes.items()},
                   hint="F.cross_entropy(logits[labels != -100], labels[labels != -100]).")
    c.note("−mean log P(original token) over the chosen positions only")
