"""Checks for chapter 03 — tokenization."""

from __future__ import annotations

import numpy as np

from ._core import Check, exercise

__all__ = ["wordpiece_word", "build_pair", "attention_mask_from_ids"]

VOCAB = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "unaff", "##aff", "##able", "##a", "##ble", "play",
         "##ing", "##in", "##g", "p", "##l", "##y", "the", "cat", "xyz"}


@exercise("wordpiece_word")
def wordpiece_word(c: Check, fn) -> None:
    cases = [("unaffable", ["unaff", "##able"]), ("playing", ["play", "##ing"]), ("the", ["the"]),
             ("unzzz", ["[UNK]"]), ("q", ["[UNK]"])]
    for word, expected in cases:
        got = c.call(fn, word, set(VOCAB), what=f"wordpiece_word({word!r}, vocab)")
        c.expect(got is not None, f"wordpiece_word({word!r}, vocab) returned None.", "return the list of pieces.")
        c.expect(isinstance(got, (list, tuple)) and all(isinstance(p, str) for p in got),
                 f"wordpiece_word({word!r}, vocab) returned {got!r}; expected a list of strings.",
                 "return e.g. ['un', '##aff', '##able'].")
        got = list(got)
        if got == expected:
            continue
        msg = f"wordpiece_word({word!r}, vocab) returned {got}; expected {expected}."
        if word == "unaffable" and got == ["un", "##aff", "##able"]:
            c.fail(msg, "greedy means *longest* match first: 'unaff' is in the vocabulary and longer than 'un'.")
        if word == "unaffable" and got[:1] == ["unaff"] and got[1:] == ["able"]:
            c.fail(msg, "pieces after the first are looked up with the '##' prefix ('##able').")
        if word == "playing" and got[:1] == ["p"]:
            c.fail(msg, "this is shortest-match; start from the whole remaining word and shrink the end.")
        if word in ("unzzz", "q") and got != ["[UNK]"] and "[UNK]" in got:
            c.fail(msg, "when any part cannot be matched, the *whole word* becomes a single '[UNK]'.")
        if word in ("unzzz", "q"):
            c.fail(msg, "if no piece matches at some position, return ['[UNK]'] for the whole word.")
        c.fail(msg, "loop: find the longest vocab entry that starts the rest ('##' + rest after the first piece).")
    c.note("longest match first, '##' continuations, [UNK] for the whole word when stuck")
    long_word = "a" * 101
    got = c.call(fn, long_word, {"a", "##a", "[UNK]"}, what="wordpiece_word('a' * 101, vocab)")
    c.expect(list(got or []) == ["[UNK]"], f"a 101-character word gave {str(got)[:60]}…; BERT maps words longer "
             "than 100 characters to ['[UNK]'].", "check len(word) > 100 first.")
    c.note("words longer than 100 characters → [UNK]")


@exercise("build_pair")
def build_pair(c: Check, fn) -> None:
    a, b = ["the", "cat", "sat"], ["it", "slept"]
    got = c.call(fn, list(a), list(b), what="build_pair(['the', 'cat', 'sat'], ['it', 'slept'])")
    c.expect(isinstance(got, tuple) and len(got) == 2, f"expected a pair (tokens, token_type_ids); got {got!r}.",
             "return tokens, token_type_ids.")
    tokens, types = list(got[0]), [int(t) for t in got[1]]
    exp_tokens = ["[CLS]", "the", "cat", "sat", "[SEP]", "it", "slept", "[SEP]"]
    exp_types = [0, 0, 0, 0, 0, 1, 1, 1]
    if tokens != exp_tokens:
        hint = "the layout is [CLS] A [SEP] B [SEP]."
        if tokens[:1] != ["[CLS]"]:
            hint = "start with [CLS]: its final hidden state is the sequence summary used for classification."
        elif tokens.count("[SEP]") != 2:
            hint = "put a [SEP] after each segment: [CLS] A [SEP] B [SEP]."
        c.fail(f"tokens are {tokens}; expected {exp_tokens}.", hint)
    c.note("tokens: [CLS] A [SEP] B [SEP]")
    if types != exp_types:
        hint = "segment A (id 0) is [CLS], A and the first [SEP]; segment B (id 1) is B and the final [SEP]."
        if types[0] == 1:
            hint = "[CLS] belongs to segment A: token type 0."
        elif types[-1] == 0 and types[5:7] == [1, 1]:
            hint = "the final [SEP] belongs to segment B: token type 1."
        elif types[4] == 1:
            hint = "the first [SEP] closes segment A: token type 0."
        c.fail(f"token_type_ids are {types}; expected {exp_types}.", hint)
    c.note("token_type_ids 0 for [CLS] A [SEP], 1 for B [SEP]")


@exercise("attention_mask_from_ids")
def attention_mask_from_ids(c: Check, fn) -> None:
    ids = [[101, 7592, 2088, 102, 0, 0], [101, 2748, 102, 0, 0, 0]]
    got = c.call(fn, [list(r) for r in ids], 0, what="attention_mask_from_ids(input_ids, pad_id=0)")
    c.expect(got is not None, "it returned None.", "return the mask.")
    try:
        got = np.asarray(got.detach().cpu() if hasattr(got, "detach") else got)
    except Exception:
        c.fail(f"could not read the result {got!r} as an array.", "return a list of lists or an array of 0/1.")
    exp = (np.asarray(ids) != 0).astype(int)
    c.expect(got.shape == exp.shape, f"the mask has shape {got.shape}; expected {exp.shape} (one entry per token).",
             "one 0/1 per token, same shape as input_ids.")
    if np.array_equal(got.astype(int), 1 - exp):
        c.fail(f"the mask is inverted: got {got.astype(int).tolist()}.",
               "1 = a real token to attend to, 0 = padding.")
    c.expect(np.array_equal(got.astype(int), exp),
             f"got {got.astype(int).tolist()}; expected {exp.tolist()}.",
             "compare each id with pad_id: 1 where it differs.")
    other = c.call(fn, [[5, 6, 1, 1]], 1, what="attention_mask_from_ids([[5, 6, 1, 1]], pad_id=1)")
    other = np.asarray(other)
    c.expect(np.array_equal(other.astype(int), [[1, 1, 0, 0]]),
             f"with pad_id=1 it gave {other.tolist()}; expected [[1, 1, 0, 0]].",
             "use the pad_id argument, don't hard-code 0.")
    c.note("1 at real tokens, 0 at padding, for any pad id")

