"""Chapter 05 checks: references pass; the known bugs of popular teaching implementations are named."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from bertlab import checks
from bertlab._solutions import solution_source
from tests.conftest import assert_check_passes, assert_check_rejects

NS: dict = {"torch": torch, "random": random}
for _n in ("mask_tokens", "nsp_pairs", "mlm_loss"):
    exec(solution_source(_n), NS)
REF_MASK, REF_NSP, REF_LOSS = NS["mask_tokens"], NS["nsp_pairs"], NS["mlm_loss"]


def test_references_pass():
    assert_check_passes(checks.mask_tokens, REF_MASK)
    assert_check_passes(checks.nsp_pairs, REF_NSP)
    assert_check_passes(checks.mlm_loss, REF_LOSS)


def _masker(split=(0.8, 0.9), independent=False, mask_specials=False, random_special=False, ignore=-100):
    def fn(ids, special_ids, vocab_size, mask_id, p=0.15, generator=None):
        special = torch.isin(ids, torch.tensor(list(special_ids)))
        chosen = torch.rand(ids.shape, generator=generator) < p
        if not mask_specials:
            chosen &= ~special
        labels = torch.where(chosen, ids, torch.full_like(ids, ignore))
        out = ids.clone()
        if independent:
            m = chosen & (torch.rand(ids.shape, generator=generator) < 0.8)
            r = chosen & (torch.rand(ids.shape, generator=generator) < 0.1)
        else:
            u = torch.rand(ids.shape, generator=generator)
            m, r = chosen & (u < split[0]), chosen & (u >= split[0]) & (u < split[1])
        low = 0 if random_special else 5
        rnd = torch.randint(low, vocab_size, ids.shape, generator=generator)
        out[m] = mask_id
        out[r] = rnd[r]
        return out, labels

    return fn


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_masker(split=(0.1, 0.9)), "reversed"),
        (_masker(independent=True), "one random draw"),
        (_masker(mask_specials=True), "special tokens"),
        (_masker(random_special=True), "random replacements are special"),
        (_masker(ignore=0), "0 is the [pad] id"),
        (lambda ids, s, v, m, p=0.15, generator=None: _masker()(ids, s, v, m, p, None), "same generator seed"),
    ],
)
def test_mask_tokens_rejects(wrong, hint):
    assert_check_rejects(checks.mask_tokens, wrong, hint)


def nsp_same_document(documents, cls_id, sep_id, rng):
    pairs = []
    for doc in documents:
        for i in range(len(doc) - 1):
            if rng.random() < 0.5:
                b, label = rng.choice(doc), 1  # the bug: NotNext from the same document
            else:
                b, label = doc[i + 1], 0
            pairs.append(([cls_id] + doc[i] + [sep_id] + b + [sep_id], [0] * (len(doc[i]) + 2) + [1] * (len(b) + 1), label))
    return pairs


def _nsp_drawing(pick_other):
    """A realistic NSP builder whose NotNext sentence comes from ``pick_other(documents, d, rng)``."""
    def fn(documents, cls_id, sep_id, rng):
        pairs = []
        for d, doc in enumerate(documents):
            for i in range(len(doc) - 1):
                if rng.random() < 0.5:
                    b, label = pick_other(documents, d, rng), 1
                else:
                    b, label = doc[i + 1], 0
                pairs.append(([cls_id] + doc[i] + [sep_id] + b + [sep_id],
                              [0] * (len(doc[i]) + 2) + [1] * (len(b) + 1), label))
        return pairs
    return fn


# NotNext from any document — A's own one included, 1 time in N (passes on a big corpus by luck)
nsp_any_document = _nsp_drawing(lambda docs, d, rng: rng.choice(rng.choice(docs)))
# NotNext from all sentences of the corpus, flattened (A's document again 1 time in N)
nsp_any_sentence = _nsp_drawing(lambda docs, d, rng: rng.choice([s for doc in docs for s in doc]))
# "another" document by randrange(N - 1) without skipping d: A's own document whenever the draw equals d
nsp_off_by_one = _nsp_drawing(lambda docs, d, rng: rng.choice(docs[rng.randrange(len(docs) - 1)]))


def nsp_flipped(documents, cls_id, sep_id, rng):
    return [(i, t, 1 - label) for i, t, label in REF_NSP(documents, cls_id, sep_id, rng)]


def nsp_all_next(documents, cls_id, sep_id, rng):
    return [(i, t, 0) for i, t, label in REF_NSP(documents, cls_id, sep_id, random.Random(99)) if label == 0] * 2


def nsp_bad_segments(documents, cls_id, sep_id, rng):
    return [(i, [0] * len(i), label) for i, t, label in REF_NSP(documents, cls_id, sep_id, rng)]


@pytest.mark.parametrize(
    "wrong, hint",
    [(nsp_same_document, "different* document"), (nsp_any_document, "different* document"),
     (nsp_any_sentence, "different* document"), (nsp_off_by_one, "different* document"),
     (nsp_flipped, "flipped"), (nsp_all_next, "60"),
     (nsp_bad_segments, "token_type_ids")],
)
def test_nsp_pairs_rejects(wrong, hint):
    assert_check_rejects(checks.nsp_pairs, wrong, hint)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda lg, lb: F.cross_entropy(lg.reshape(-1, lg.shape[-1]), lb.clamp(min=0).reshape(-1)), "not predicted"),
        (lambda lg, lb: F.cross_entropy(lg[lb != -100], lb[lb != -100], reduction="sum"), "sums"),
        (lambda lg, lb: F.cross_entropy(lg[lb != -100].softmax(-1), lb[lb != -100]), "softmax was applied"),
        (lambda lg, lb: F.cross_entropy(lg.reshape(-1, lg.shape[-1]), lb.clamp(min=0).reshape(-1), ignore_index=0),
         "ignore_index=0"),
        (lambda lg, lb: F.cross_entropy(lg.reshape(-1, lg.shape[-1]), lb.reshape(-1), reduction="sum") / lb.numel(),
         "all b·t positions"),
    ],
)
def test_mlm_loss_rejects(wrong, hint):
    assert_check_rejects(checks.mlm_loss, wrong, hint)
