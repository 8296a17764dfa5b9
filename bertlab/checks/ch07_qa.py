"""Checks for chapter 07 — question answering: windows, token span → text, best-span decoding, SQuAD F1."""

from __future__ import annotations

import torch

from ..qa import best_span as ref_best_span
from ..qa import f1_score as ref_f1
from ..qa import span_to_text as ref_span_to_text
from ..qa import window_starts as ref_window_starts
from ._core import Check, exercise

__all__ = ["window_starts", "span_to_text", "best_span", "squad_f1"]


def _as_int_list(c: Check, got, what: str) -> list[int]:
    if hasattr(got, "tolist"):
        got = got.tolist()
    c.expect(isinstance(got, (list, tuple)), f"{what} returned {type(got).__name__}; expected a list of ints.",
             "return a list such as [0, 3, 6].")
    try:
        return [int(x) for x in got]
    except (TypeError, ValueError):
        c.fail(f"{what} returned {got!r}; expected a list of ints.", "return a list such as [0, 3, 6].")
    return []


@exercise("window_starts")
def window_starts(c: Check, fn) -> None:
    cases = [(10, 4, 1), (11, 4, 1), (3, 4, 1), (4, 4, 2), (5, 4, 2), (130, 50, 20), (100, 50, 0)]
    for n, cap, stride in cases:
        what = f"window_starts(n_tokens={n}, capacity={cap}, stride={stride})"
        got = _as_int_list(c, c.call(fn, n, cap, stride, what=what), what)
        expected = ref_window_starts(n, cap, stride)
        if got == expected:
            continue
        step = cap - stride
        mistakes = {
            "stride is the OVERLAP between consecutive windows (transformers' meaning), so the step is "
            "capacity − stride; you stepped by the stride itself (Google's run_squad.py calls the step "
            "doc_stride — the two conventions differ).": list(range(0, max(n - cap, 0) + 1, stride or 1)),
            "the windows do not overlap: step by capacity − stride, so an answer cut at a window's edge is "
            "whole in the next one.": list(range(0, max(n - cap, 0) + cap, cap)) if n > cap else [0],
            "the last window is missing: the tail of the context is in no window. Keep adding windows until "
            "one reaches the end (start + capacity ≥ n_tokens).": list(range(0, max(n - cap, 1), step)),
            "one window too many: the last start lies inside the previous window, which already reached the "
            "end. Stop as soon as a window reaches the end.": list(range(0, n, step)),
        }
        for hint, wrong in mistakes.items():
            if got == wrong:
                c.fail(f"{what} gave {got}; expected {expected}.", hint)
        c.fail(f"{what} gave {got}; expected {expected}.",
               "start at 0; while start + capacity < n_tokens: start += capacity − stride.")
    c.note("windows overlap by `stride` tokens, cover the whole context, and stop at the first that reaches the end")
    c.note("a context that fits gives one window, [0]")


def _offset_case():
    # question tokens and specials have no offsets (None); the context's pieces map to characters
    context = "And Eliphaz went to Beer-sheba, the son of Esau's wife."
    #          0         1         2         3         4         5
    pieces = [("and", 0, 3), ("eli", 4, 7), ("##pha", 7, 10), ("##z", 10, 11), ("went", 12, 16), ("to", 17, 19),
              ("beer", 20, 24), ("-", 24, 25), ("she", 25, 28), ("##ba", 28, 30), (",", 30, 31), ("the", 32, 35),
              ("son", 36, 39), ("of", 40, 42), ("esau", 43, 47), ("'", 47, 48), ("s", 48, 49), ("wife", 50, 54),
              (".", 54, 55)]
    head = [None] * 5  # [CLS] where went he ? [SEP]
    offsets = head + [(s, e) for _, s, e in pieces] + [None]
    return context, offsets, pieces


@exercise("span_to_text")
def span_to_text(c: Check, fn) -> None:
    context, offsets, pieces = _offset_case()
    for start, end in ((16, 18), (11, 14), (6, 8), (9, 9), (19, 21)):
        what = f"span_to_text(context, offsets, start={start}, end={end})"
        got = c.call(fn, context, offsets, start, end, what=what)
        expected = ref_span_to_text(context, offsets, start, end)
        if got == expected:
            continue
        c.expect(isinstance(got, str), f"{what} returned {type(got).__name__}; expected a str.",
                 "return a slice of the context string.")
        s0 = offsets[start][0]
        mistakes = {
            "the last token is cut off: `end` is inclusive, and a token's characters run to offsets[end][1] "
            "(its end), not offsets[end][0] (its start).": context[s0:offsets[end][0]],
            "one token short: `end` is the index of the LAST token of the span (inclusive), not one past it.":
                context[s0:offsets[end - 1][1]] if offsets[end - 1] is not None else None,
            "those are token positions used as character positions: map them through the offsets "
            "(context[offsets[start][0]:offsets[end][1]]).": context[start:end + 1],
            "this was rebuilt from the word pieces; the pieces are lower-cased and lost the original spacing "
            "and hyphens. Slice the original context with the offsets instead.":
                " ".join(p for p, _, _ in pieces[start - 5:end - 4]).replace(" ##", ""),
            "the window's offsets were shifted by the question: offsets[t] already belongs to token t of the "
            "window (question tokens have None); do not subtract or add the question's length.":
                context[offsets[start + 5][0]:offsets[end + 5][1]] if end + 5 < len(offsets) - 1 else None,
        }
        for hint, wrong in mistakes.items():
            if wrong is not None and got == wrong:
                c.fail(f"{what} gave {got!r}; expected {expected!r}.", hint)
        c.fail(f"{what} gave {got!r}; expected {expected!r}.",
               "return context[offsets[start][0]:offsets[end][1]].")
    c.note("exact substrings with their original case, hyphens and apostrophes")


def _logit_cases():
    """(name, start_logits, end_logits, context_mask, max_answer_length). T = 12: [CLS] q q q [SEP] c×6 [SEP]."""
    mask = torch.tensor([False] * 5 + [True] * 6 + [False])
    base_s = torch.tensor([0.0, 0.1, 0.2, 0.1, 0.0, 1.0, 0.5, 2.0, 0.3, 0.2, 0.1, 0.0])
    base_e = torch.tensor([0.0, 0.2, 0.1, 0.0, 0.0, 0.1, 0.4, 0.6, 2.5, 0.3, 0.2, 0.0])
    cases = [("a plain case", base_s, base_e, mask, 30)]
    # the best start comes after the best end: independent argmaxes give s > e
    s = torch.tensor([0.0, 0, 0, 0, 0, 0.5, 0.2, 0.1, 3.0, 0.1, 0.2, 0])
    e = torch.tensor([0.0, 0, 0, 0, 0, 0.3, 2.8, 0.2, 0.1, 0.4, 0.1, 0])
    cases.append(("the best start lies after the best end", s, e, mask, 30))
    # the highest logits are on question tokens and [CLS]
    s = torch.tensor([5.0, 4.0, 0.1, 0.1, 0.0, 0.2, 1.5, 0.1, 0.3, 0.2, 0.1, 0.0])
    e = torch.tensor([5.0, 0.3, 4.5, 0.1, 0.0, 0.1, 0.2, 1.2, 0.3, 0.2, 0.1, 0.0])
    cases.append(("the highest logits are on [CLS] and the question", s, e, mask, 30))
    # the best end is the final [SEP]
    s = torch.tensor([0.0, 0, 0, 0, 0, 0.2, 0.1, 0.3, 2.0, 0.1, 0.2, 0])
    e = torch.tensor([0.0, 0, 0, 0, 0, 0.1, 0.2, 0.1, 0.3, 0.4, 0.9, 6.0])
    cases.append(("the highest end logit is on the final [SEP]", s, e, mask, 30))
    # the best span is exactly one token too long; a span of exactly max_answer_length is allowed
    s = torch.tensor([0.0, 0, 0, 0, 0, 3.0, 0.1, 1.0, 0.0, 0.0, 0.0, 0])
    e = torch.tensor([0.0, 0, 0, 0, 0, 0.0, 0.1, 0.0, 0.0, 1.0, 3.0, 0])
    cases.append(("the top-scoring span is one token longer than max_answer_length=5", s, e, mask, 5))
    # greedy (best start first, then best end after it) misses the joint optimum
    s = torch.tensor([0.0, 0, 0, 0, 0, 0.0, 4.9, 0.0, 5.0, 0.0, 0.0, 0])
    e = torch.tensor([0.0, 0, 0, 0, 0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.1, 0])
    cases.append(("the best start alone is not in the best span", s, e, mask, 30))
    # a question token's start logit is high, the end is in the context: a span crossing [SEP]
    s = torch.tensor([0.0, 0, 0, 6.0, 0, 0.5, 0.2, 0.1, 0.3, 0.1, 0.2, 0])
    e = torch.tensor([0.0, 0, 0, 0.0, 0, 0.1, 3.0, 0.2, 0.1, 0.4, 0.1, 0])
    cases.append(("a span starting in the question and ending in the context", s, e, mask, 30))
    return cases


def _wrong_spans(s, e, mask, max_len):
    """What common mistakes return on one case: name → (start, end)."""
    t = len(s)
    out = {}
    neg = torch.finfo(torch.float32).min
    out["independent"] = (int(s.argmax()), int(e.argmax()))
    sm, em = s.masked_fill(~mask, neg), e.masked_fill(~mask, neg)
    out["independent_masked"] = (int(sm.argmax()), int(em.argmax()))
    best = {}
    for i in range(t):
        for j in range(t):
            sc = float(s[i] + e[j])
            ok_mask = bool(mask[i] and mask[j])
            if j >= i and j - i < max_len and ok_mask:
                best.setdefault("ref", (sc, i, j))
                best["ref"] = max(best["ref"], (sc, i, j), key=lambda x: x[0])
            if j >= i and j - i < max_len:
                best["nomask"] = max(best.get("nomask", (sc, i, j)), (sc, i, j), key=lambda x: x[0])
            if j >= i and j - i < max_len and bool(mask[i]):
                best["startmask"] = max(best.get("startmask", (sc, i, j)), (sc, i, j), key=lambda x: x[0])
            if j >= i and j - i <= max_len and ok_mask:
                best["len+1"] = max(best.get("len+1", (sc, i, j)), (sc, i, j), key=lambda x: x[0])
            if j >= i and j - i < max_len - 1 and ok_mask:
                best["len-1"] = max(best.get("len-1", (sc, i, j)), (sc, i, j), key=lambda x: x[0])
            if j - i < max_len and abs(j - i) < max_len and ok_mask:
                best["s>e"] = max(best.get("s>e", (sc, i, j)), (sc, i, j), key=lambda x: x[0])
    for k, v in best.items():
        if k != "ref":
            out[k] = (v[1], v[2])
    si = int(sm.argmax())
    tail = em.clone()
    tail[:si] = neg
    out["greedy"] = (si, int(tail.argmax()))
    return out


_HINTS = {
    "independent": "independent argmaxes of the start and end logits: the two can land on the question, on "
                   "[CLS], or give start > end. Maximise start_logits[s] + end_logits[e] over valid pairs.",
    "independent_masked": "the start and end were chosen independently (even inside the context): that can give "
                          "start > end or a span that is too long. Score every pair (s, e) jointly.",
    "s>e": "spans with start > end were allowed: require s ≤ e.",
    "nomask": "the span may use question tokens, [CLS] or [SEP]: both ends must be context tokens (context_mask).",
    "startmask": "only the start was required to be in the context; the end must be a context token too.",
    "len+1": "off by one in the length: a span s…e has e − s + 1 tokens, which must be ≤ max_answer_length.",
    "len-1": "off by one in the length: a span of exactly max_answer_length tokens is allowed "
             "(e − s + 1 ≤ max_answer_length).",
    "greedy": "greedy decoding: taking the best start first and then the best end after it misses the best "
              "pair. Maximise the sum over all valid pairs at once.",
}


@exercise("best_span")
def best_span(c: Check, fn) -> None:
    cases = _logit_cases()
    got_pairs = []
    for label, s, e, mask, max_len in cases:
        what = f"best_span on {label}"
        got = c.call(fn, s.clone(), e.clone(), mask.clone(), max_len, what=what)
        try:
            if len(got) != 2:
                raise ValueError
            got_pairs.append((int(got[0]), int(got[1])))
        except (TypeError, ValueError):
            c.fail(f"{what} returned {got!r}; expected a pair of ints (start, end).", "return (s, e).")
    expected = [ref_best_span(s, e, mask, k) for _, s, e, mask, k in cases]
    bad = [i for i, (g, x) in enumerate(zip(got_pairs, expected)) if g != x]
    if bad:
        i = bad[0]
        label, s, e, _, _ = cases[i]
        g, x = got_pairs[i], expected[i]
        message = (f"best_span on {label}: got (start, end) = {g}, score {float(s[g[0]] + e[g[1]]):.2f}; "
                   f"expected {x}, score {float(s[x[0]] + e[x[1]]):.2f}.")
        wrong = [_wrong_spans(s, e, mask, k) for _, s, e, mask, k in cases]
        for name in _HINTS:  # a mistake that explains every answer, else one that explains the first wrong one
            if all(w.get(name) == gp for w, gp in zip(wrong, got_pairs)):
                c.fail(message, _HINTS[name])
        for name in _HINTS:
            if wrong[i].get(name) == g:
                c.fail(message, _HINTS[name])
        c.fail(message, "maximise start_logits[s] + end_logits[e] over s ≤ e, both in the context, "
                        "e − s + 1 ≤ max_answer_length.")
    c.note("joint maximum of start + end logits, start ≤ end")
    c.note("both ends inside the context (never [CLS], the question or [SEP])")
    c.note("at most max_answer_length tokens, exactly that many allowed")


_F1_CASES = [  # (prediction, truth): each catches a mistake
    ("Joshua the son of Nun", "Nun"),
    ("The son of Nun.", "son of nun"),
    ("Abi Abi", "Abi"),
    ("Beer-sheba", "Beersheba"),
    ("an hundred and thirty", "hundred and thirty years"),
    ("the Jordan", "Jordan"),
    ("Jared", "Jarah"),
    ("Nun", "Joshua"),
    ("", "Nun"),
    ("the", "a"),
    ("Thebez", "Thebez"),
    ("Anathoth", "anathoth"),
]


def _f1_mistakes():
    """Realistic wrong implementations, each with a hint, evaluated on the cases."""
    import re
    import string
    from collections import Counter

    def f1_tokens(p, t):
        common = Counter(p) & Counter(t)
        n = sum(common.values())
        if n == 0:
            return 0.0
        pr, rc = n / len(p), n / len(t)
        return 2 * pr * rc / (pr + rc)

    def norm(s, lower=True, punct="delete", articles=True, bound=True):
        if lower:
            s = s.lower()
        if punct == "delete":
            s = "".join(ch for ch in s if ch not in set(string.punctuation))
        elif punct == "space":
            s = "".join(" " if ch in set(string.punctuation) else ch for ch in s)
        if articles:
            s = re.sub(r"\b(a|an|the)\b" if bound else r"(a|an|the)", " ", s)
        return " ".join(s.split())

    def set_f1(p, t):
        p, t = set(norm(p).split()), set(norm(t).split())
        n = len(p & t)
        return 0.0 if n == 0 else 2 * (n / len(p)) * (n / len(t)) / (n / len(p) + n / len(t))

    def char_f1(p, t):
        return f1_tokens(list(norm(p).replace(" ", "")), list(norm(t).replace(" ", "")))

    def empty_is_one(p, t):
        a, b = norm(p).split(), norm(t).split()
        return 1.0 if not a and not b else f1_tokens(a, b)

    return {
        "the answers were not normalised: lower-case, delete punctuation, drop a/an/the and collapse white "
        "space before comparing (SQuAD's normalize_answer).": lambda p, t: f1_tokens(p.split(), t.split()),
        "the articles a / an / the were not removed ('the Jordan' vs 'Jordan' must score 1).":
            lambda p, t: f1_tokens(norm(p, articles=False).split(), norm(t, articles=False).split()),
        "the articles were removed inside words too ('Anathoth' lost its 'an'): remove whole words only, "
        r"with \b…\b.": lambda p, t: f1_tokens(norm(p, bound=False).split(), norm(t, bound=False).split()),
        "punctuation was replaced by a space; SQuAD deletes it ('Beer-sheba' → 'beersheba').":
            lambda p, t: f1_tokens(norm(p, punct="space").split(), norm(t, punct="space").split()),
        "punctuation was kept: SQuAD deletes ASCII punctuation ('Nun.' equals 'nun').":
            lambda p, t: f1_tokens(norm(p, punct="keep").split(), norm(t, punct="keep").split()),
        "the text was not lower-cased.": lambda p, t: f1_tokens(norm(p, lower=False).split(),
                                                                norm(t, lower=False).split()),
        "the words were compared as sets: SQuAD counts them as a bag ('Abi Abi' vs 'Abi' has precision 1/2).":
            set_f1,
        "F1 was computed over characters; SQuAD's F1 is over words ('Jared' and 'Jarah' share no word).": char_f1,
        "two answers that are empty after normalisation scored 1; the v1.1 script returns 0 when no word is "
        "shared (v2.0 changed that).": empty_is_one,
        "this is exact match (0 or 1), not F1: partial overlap earns partial credit.":
            lambda p, t: float(norm(p) == norm(t)),
        "precision and recall were averaged arithmetically; F1 is their harmonic mean 2PR / (P + R).":
            lambda p, t: _arith(norm(p).split(), norm(t).split()),
    }


def _arith(p, t):
    from collections import Counter

    n = sum((Counter(p) & Counter(t)).values())
    return 0.0 if n == 0 else (n / len(p) + n / len(t)) / 2


@exercise("squad_f1")
def squad_f1(c: Check, fn) -> None:
    mistakes = _f1_mistakes()
    results = []
    for pred, truth in _F1_CASES:
        got = c.call(fn, pred, truth, what=f"squad_f1({pred!r}, {truth!r})")
        try:
            got = float(got)
        except (TypeError, ValueError):
            c.fail(f"squad_f1({pred!r}, {truth!r}) returned {got!r}; expected a number in [0, 1].",
                   "return the F1 as a float.")
        if not 0.0 <= got <= 1.0:  # also catches NaN, which compares False with everything
            c.fail(f"squad_f1({pred!r}, {truth!r}) returned {got!r}; an F1 lies in [0, 1].",
                   "F1 = 2PR / (P + R) with P and R in [0, 1]; return 0.0 when no word is shared (never 0/0).")
        results.append(got)
    expected = [ref_f1(p, t) for p, t in _F1_CASES]
    bad = [i for i, (g, x) in enumerate(zip(results, expected)) if abs(g - x) > 1e-6]
    if not bad:
        c.note("normalisation: case, punctuation deleted, whole-word articles, white space")
        c.note("bag-of-words F1 (harmonic mean), 0 when nothing is shared")
        return
    i = bad[0]
    message = f"squad_f1({_F1_CASES[i][0]!r}, {_F1_CASES[i][1]!r}) = {results[i]:.3f}; expected {expected[i]:.3f}."
    for hint, wrong in mistakes.items():
        values = [float(wrong(p, t)) for p, t in _F1_CASES]
        if all(abs(g - w) < 1e-6 for g, w in zip(results, values)):
            c.fail(message, hint)
    c.fail(message, "normalise both strings (lower, delete punctuation, drop a/an/the, split), count the words "
                    "they share as a bag, F1 = 2PR / (P + R), 0 when nothing is shared.")
