"""Chapter 07 checks: the references pass; realistic wrong answers fail and the feedback names the mistake."""

from __future__ import annotations

import re
import string
from collections import Counter

import pytest
import torch

from bertlab import checks, qa
from bertlab._solutions import solution_source
from tests.conftest import assert_check_passes, assert_check_rejects

NS: dict = {"torch": torch, "re": re, "string": string, "Counter": Counter}
for _n in ("window_starts", "span_to_text", "best_span", "squad_f1"):
    exec(solution_source(_n), NS)


def test_solutions_and_package_pass_their_checks():
    for fn in (NS["window_starts"], qa.window_starts):
        assert_check_passes(checks.window_starts, fn)
    for fn in (NS["span_to_text"], qa.span_to_text):
        assert_check_passes(checks.span_to_text, fn)
    for fn in (NS["best_span"], qa.best_span):
        assert_check_passes(checks.best_span, fn)
    for fn in (NS["squad_f1"], qa.f1_score):
        assert_check_passes(checks.squad_f1, fn)


def test_unattempted_exercise_is_reported_not_failed():
    def stub(*args):
        raise NotImplementedError

    for check in (checks.window_starts, checks.span_to_text, checks.best_span, checks.squad_f1):
        assert check(stub).status == "not attempted"


# ---- window_starts ----------------------------------------------------------------------------
def _windows(mistake):
    def fn(n, cap, stride):
        step = {"step_is_stride": stride, "no_overlap": cap}.get(mistake, cap - stride)
        if mistake == "step_is_stride":
            step = max(stride, 1)
        if mistake == "missing_last":
            return list(range(0, max(n - cap, 1), step))
        if mistake == "one_too_many":
            return list(range(0, n, step))
        starts, start = [0], 0
        while start + cap < n:
            start += step
            starts.append(start)
        return starts
    return fn


@pytest.mark.parametrize("mistake, hint", [("step_is_stride", "overlap"), ("no_overlap", "do not overlap"),
                                           ("missing_last", "last window is missing"),
                                           ("one_too_many", "one window too many")])
def test_window_mistakes_named(mistake, hint):
    assert_check_rejects(checks.window_starts, _windows(mistake), hint)


# ---- span_to_text -----------------------------------------------------------------------------
@pytest.mark.parametrize("fn, hint", [
    (lambda c, o, s, e: c[o[s][0]:o[e][0]], "last token is cut off"),
    (lambda c, o, s, e: c[o[s][0]:o[e - 1][1]] if o[e - 1] else c[o[s][0]:o[e][0]], "one token short"),
    (lambda c, o, s, e: c[s:e + 1], "token positions used as character positions"),
    (lambda c, o, s, e: c[o[s + 5][0]:o[e + 5][1]], "shifted by the question"),
    (lambda c, o, s, e: c[o[s][0]:o[e][1]].lower(), "expected"),
])
def test_span_mistakes_named(fn, hint):
    assert_check_rejects(checks.span_to_text, fn, hint)


def test_span_rebuilt_from_word_pieces_is_named():
    from bertlab.checks.ch07_qa import _offset_case

    _, _, pieces = _offset_case()

    def from_pieces(c, o, s, e):
        return " ".join(p for p, _, _ in pieces[s - 5:e - 4]).replace(" ##", "")

    assert_check_rejects(checks.span_to_text, from_pieces, "rebuilt from the word pieces")


# ---- best_span --------------------------------------------------------------------------------
def _span(mistake):
    def fn(start, end, mask, max_len):
        t = start.shape[0]
        if mistake == "independent":
            return int(start.argmax()), int(end.argmax())
        if mistake == "independent_masked":
            neg = -1e9
            return int(start.masked_fill(~mask, neg).argmax()), int(end.masked_fill(~mask, neg).argmax())
        if mistake == "greedy":
            s = int(start.masked_fill(~mask, -1e9).argmax())
            e = end.masked_fill(~mask, -1e9).clone()
            e[:s] = -1e9
            return s, int(e.argmax())
        best = None
        for i in range(t):
            for j in range(t):
                if mistake != "s>e" and j < i:
                    continue
                length = abs(j - i) + 1
                limit_ok = {"len+1": length <= max_len + 1, "len-1": length < max_len}.get(mistake, length <= max_len)
                in_ctx = {"nomask": True, "startmask": bool(mask[i])}.get(mistake, bool(mask[i] and mask[j]))
                if limit_ok and in_ctx:
                    sc = float(start[i] + end[j])
                    if best is None or sc > best[0]:
                        best = (sc, i, j)
        return best[1], best[2]
    return fn


@pytest.mark.parametrize("mistake, hint", [
    ("independent", "independent argmaxes"), ("independent_masked", "chosen independently"),
    ("s>e", "start > end"), ("nomask", "both ends must be context tokens"),
    ("startmask", "only the start"), ("len+1", "e − s + 1"), ("len-1", "exactly max_answer_length"),
    ("greedy", "greedy"),
])
def test_best_span_mistakes_named(mistake, hint):
    assert_check_rejects(checks.best_span, _span(mistake), hint)


def test_best_span_wrong_return_type_is_reported():
    assert_check_rejects(checks.best_span, lambda s, e, m, k: int(s.argmax()), "pair of ints")


# ---- squad_f1 ---------------------------------------------------------------------------------
def _f1(mistake):
    def norm(s):
        if mistake != "no_lower":
            s = s.lower()
        if mistake == "punct_space":
            s = "".join(" " if ch in string.punctuation else ch for ch in s)
        elif mistake != "punct_keep":
            s = "".join(ch for ch in s if ch not in string.punctuation)
        if mistake == "articles_inside_words":
            s = re.sub(r"(a|an|the)", " ", s)
        elif mistake != "no_articles":
            s = re.sub(r"\b(a|an|the)\b", " ", s)
        return s.split()

    def fn(prediction, truth):
        if mistake == "no_normalisation":
            p, t = prediction.split(), truth.split()
        elif mistake == "characters":
            p, t = list("".join(norm(prediction))), list("".join(norm(truth)))
        else:
            p, t = norm(prediction), norm(truth)
        if mistake == "exact":
            return float(p == t)
        if mistake == "empty_is_one" and not p and not t:
            return 1.0
        if mistake == "set":
            same = len(set(p) & set(t))
            p, t = list(set(p)), list(set(t))
        else:
            same = sum((Counter(p) & Counter(t)).values())
        if same == 0:
            return 0.0
        pr, rc = same / len(p), same / len(t)
        return (pr + rc) / 2 if mistake == "arithmetic" else 2 * pr * rc / (pr + rc)
    return fn


@pytest.mark.parametrize("mistake, hint", [
    ("no_normalisation", "not normalised"), ("no_articles", "articles a / an / the were not removed"),
    ("articles_inside_words", "inside words"), ("punct_space", "replaced by a space"),
    ("punct_keep", "punctuation was kept"), ("no_lower", "lower-cased"), ("set", "as sets"),
    ("characters", "over characters"), ("empty_is_one", "v2.0"), ("exact", "exact match"),
    ("arithmetic", "harmonic mean"),
])
def test_squad_f1_mistakes_named(mistake, hint):
    assert_check_rejects(checks.squad_f1, _f1(mistake), hint)


def test_squad_f1_that_crashes_on_empty_prediction_is_reported():
    def divides_by_zero(p, t):
        p, t = qa.normalize_answer(p).split(), qa.normalize_answer(t).split()
        same = sum((Counter(p) & Counter(t)).values())
        pr, rc = same / len(p), same / len(t)
        return 2 * pr * rc / (pr + rc)

    assert_check_rejects(checks.squad_f1, divides_by_zero, "ZeroDivisionError")
