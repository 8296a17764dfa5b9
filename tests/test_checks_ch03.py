"""Chapter 03 checks: references pass; realistic tokenization mistakes are named."""

from __future__ import annotations

import numpy as np
import pytest

from bertlab import checks
from bertlab import tokenizer as T
from tests.conftest import assert_check_passes, assert_check_rejects


def test_wordpiece_reference_passes():
    assert_check_passes(checks.wordpiece_word, T.wordpiece)


def shortest_match(word, vocab):
    pieces, start = [], 0
    while start < len(word):
        for end in range(start + 1, len(word) + 1):
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
        else:
            return ["[UNK]"]
        pieces.append(piece)
        start = end
    return pieces


def no_hashes(word, vocab):
    return [p.replace("##", "") for p in T.wordpiece(word, vocab | {w.replace("##", "") for w in vocab})]


def partial_unk(word, vocab):
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start and (word[start:end] if start == 0 else "##" + word[start:end]) not in vocab:
            end -= 1
        if end == start:
            pieces.append("[UNK]")
            break
        pieces.append(word[start:end] if start == 0 else "##" + word[start:end])
        start = end
    return pieces


def no_length_limit(word, vocab):
    return T.wordpiece(word, vocab, max_chars=10**9)


@pytest.mark.parametrize(
    "wrong, hint",
    [(shortest_match, "longest"), (no_hashes, "'##' prefix"), (partial_unk, "whole word"),
     (no_length_limit, "longer than 100"), (lambda w, v: w, "list of strings")],
)
def test_wordpiece_rejects(wrong, hint):
    assert_check_rejects(checks.wordpiece_word, wrong, hint)


def build_pair_ref(a, b):
    return ["[CLS]"] + a + ["[SEP]"] + b + ["[SEP]"], [0] * (len(a) + 2) + [1] * (len(b) + 1)


def test_build_pair_reference_passes():
    assert_check_passes(checks.build_pair, build_pair_ref)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda a, b: (["[CLS]"] + a + ["[SEP]"] + b + ["[SEP]"], [0] * (len(a) + 2) + [1] * len(b) + [0]),
         "final [sep] belongs to segment b"),
        (lambda a, b: (["[CLS]"] + a + ["[SEP]"] + b + ["[SEP]"], [1] + [0] * (len(a) + 1) + [1] * (len(b) + 1)),
         "[cls] belongs to segment a"),
        (lambda a, b: (["[CLS]"] + a + ["[SEP]"] + b + ["[SEP]"], [0] * (len(a) + 1) + [1] * (len(b) + 2)),
         "first [sep] closes segment a"),
        (lambda a, b: (a + ["[SEP]"] + b + ["[SEP]"], [0] * (len(a) + 1) + [1] * (len(b) + 1)), "start with [cls]"),
        (lambda a, b: (["[CLS]"] + a + b + ["[SEP]"], [0] * (len(a) + 1) + [1] * (len(b) + 1)), "after each segment"),
    ],
)
def test_build_pair_rejects(wrong, hint):
    assert_check_rejects(checks.build_pair, wrong, hint)


def test_attention_mask_reference_passes():
    assert_check_passes(checks.attention_mask_from_ids, lambda ids, pad: (np.asarray(ids) != pad).astype(int))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda ids, pad: (np.asarray(ids) == pad).astype(int), "inverted"),
        (lambda ids, pad: (np.asarray(ids) != 0).astype(int), "pad_id argument"),
        (lambda ids, pad: [[1] * 4 + [0] * (len(r) - 4) for r in ids], "expected"),
        (lambda ids, pad: [sum(i != pad for i in r) for r in ids], "shape"),
    ],
)
def test_attention_mask_rejects(wrong, hint):
    assert_check_rejects(checks.attention_mask_from_ids, wrong, hint)
