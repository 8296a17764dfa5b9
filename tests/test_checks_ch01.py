"""Chapter 01 checks: each reference solution passes; realistic wrong answers fail with the right hint."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bertlab import attention as ref
from bertlab import checks
from tests.conftest import assert_check_passes, assert_check_rejects

# ---- softmax ---------------------------------------------------------------------------------


def test_softmax_reference_passes():
    assert_check_passes(checks.softmax, ref.softmax)


def naive_softmax(x, axis=-1):  # no max subtraction: overflows at 1000
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def softmax_axis0(x, axis=-1):
    return ref.softmax(x, axis=0)


def softmax_whole_array(x, axis=-1):
    e = np.exp(x - x.max())
    return e / e.sum()


def softmax_no_keepdims(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis))
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_in_place(x, axis=-1):
    x -= np.max(x, axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def softmax_ignores_axis(x, axis=-1):
    return ref.softmax(x, axis=-1)


def softmax_torch(x, axis=-1):
    import torch

    return torch.softmax(torch.as_tensor(x), dim=axis)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (naive_softmax, "subtract the row maximum"),
        (softmax_axis0, "axis 0"),
        (softmax_whole_array, "whole array"),
        (softmax_no_keepdims, "keepdims"),
        (softmax_in_place, "in place"),
        (softmax_ignores_axis, "axis"),
        (softmax_torch, "torch.tensor"),
    ],
)
def test_softmax_rejects(wrong, hint):
    assert_check_rejects(checks.softmax, wrong, hint)


# ---- scaled dot-product attention -------------------------------------------------------------


def test_sdpa_reference_passes():
    assert_check_passes(checks.scaled_dot_product_attention, ref.scaled_dot_product_attention)


def sdpa_no_scale(q, k, v, mask=None):
    s = q @ np.swapaxes(k, -1, -2)
    if mask is not None:
        s = np.where(mask, s, -1e9)
    w = ref.softmax(s)
    return w @ v, w


def sdpa_scale_dk(q, k, v, mask=None):
    s = q @ np.swapaxes(k, -1, -2) / q.shape[-1]
    if mask is not None:
        s = np.where(mask, s, -1e9)
    w = ref.softmax(s)
    return w @ v, w


def sdpa_mask_after_softmax(q, k, v, mask=None):
    w = ref.softmax(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]))
    if mask is not None:
        w = w * mask
    return w @ v, w


def sdpa_mask_inverted(q, k, v, mask=None):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        s = np.where(mask, -1e9, s)
    w = ref.softmax(s)
    return w @ v, w


def sdpa_wrong_axis(q, k, v, mask=None):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    w = ref.softmax(s, axis=-2)
    return w @ v, w


def sdpa_returns_output_only(q, k, v, mask=None):
    return ref.scaled_dot_product_attention(q, k, v, mask)[0]


def sdpa_never_finishes(q, k, v, mask=None):
    while True:
        pass


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (sdpa_no_scale, "√d_k"),
        (sdpa_scale_dk, "divided by d_k instead"),
        (sdpa_mask_after_softmax, "before* the softmax"),
        (sdpa_mask_inverted, "inverted"),
        (sdpa_wrong_axis, "over the queries"),
        (sdpa_returns_output_only, "pair (output, weights)"),
    ],
)
def test_sdpa_rejects(wrong, hint):
    assert_check_rejects(checks.scaled_dot_product_attention, wrong, hint)


def test_sdpa_check_stops_an_endless_loop_within_the_time_limit(monkeypatch):
    monkeypatch.setattr("bertlab.checks._core.DEFAULT_TIME_LIMIT", 1.0)
    from bertlab.checks._core import Check

    c = Check("x", time_limit=1.0)
    t0 = time.perf_counter()
    with pytest.raises(Exception) as info:
        c.call(sdpa_never_finishes, 1, 2, 3)
    assert "did not finish within 1 s" in str(info.value)
    assert time.perf_counter() - t0 < 3


# ---- padding mask -----------------------------------------------------------------------------


def test_padding_mask_reference_passes():
    assert_check_passes(checks.make_padding_mask, ref.padding_mask)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda am: np.asarray(am) == 1, "(batch, 1, 1, seq)"),
        (lambda am: (np.asarray(am) == 0)[:, None, None, :], "inverted"),
        (lambda am: np.asarray(am)[:, None, None, :], "dtype"),
        (lambda am: (np.asarray(am) == 1)[:, None, :, None], "masks queries"),
        (lambda am: None, "return"),
    ],
)
def test_padding_mask_rejects(wrong, hint):
    assert_check_rejects(checks.make_padding_mask, wrong, hint)


# ---- split heads ------------------------------------------------------------------------------


def test_split_heads_reference_passes():
    assert_check_passes(checks.split_heads, ref.split_heads)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1), "plain reshape"),
        (lambda x, h: x.reshape(x.shape[0], x.shape[1], -1, h).transpose(0, 3, 1, 2), "contiguous"),
        (lambda x, h: x.reshape(x.shape[0], x.shape[1], h, -1), "shape"),
        (lambda x, h: x.reshape(x.shape[0], x.shape[1], 2, -1).transpose(0, 2, 1, 3), "num_heads"),
    ],
)
def test_split_heads_rejects(wrong, hint):
    assert_check_rejects(checks.split_heads, wrong, hint)


# ---- multi-head attention ---------------------------------------------------------------------


def test_mha_reference_passes():
    assert_check_passes(checks.multi_head_attention, ref.multi_head_attention)


def mha_no_output_projection(x, w_q, w_k, w_v, w_o, h, mask=None):
    out, w = ref.multi_head_attention(x, w_q, w_k, w_v, np.eye(x.shape[-1]), h, mask)
    return out, w


def mha_scale_by_d_model(x, w_q, w_k, w_v, w_o, h, mask=None):
    q, k, v = (ref.split_heads(x @ w, h) for w in (w_q, w_k, w_v))
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(x.shape[-1])
    w = ref.softmax(np.where(mask, s, -1e9))
    return ref.merge_heads(w @ v) @ w_o, w


def mha_merge_without_transpose(x, w_q, w_k, w_v, w_o, h, mask=None):
    q, k, v = (ref.split_heads(x @ w, h) for w in (w_q, w_k, w_v))
    heads, w = ref.scaled_dot_product_attention(q, k, v, mask)
    return heads.reshape(x.shape) @ w_o, w


def mha_single_head(x, w_q, w_k, w_v, w_o, h, mask=None):
    return ref.multi_head_attention(x, w_q, w_k, w_v, w_o, 1, mask)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (mha_no_output_projection, "w_o"),
        (mha_scale_by_d_model, "√d_model"),
        (mha_merge_without_transpose, "transpose back"),
        (mha_single_head, "split q, k, v into heads"),
    ],
)
def test_mha_rejects(wrong, hint):
    assert_check_rejects(checks.multi_head_attention, wrong, hint)


# ---- the machinery -----------------------------------------------------------------------------


def test_unattempted_stub_reports_not_attempted_and_strict_mode_raises(monkeypatch):
    def stub(x, axis=-1):
        raise NotImplementedError

    result = checks.softmax(stub)
    assert result.status == "not attempted" and not result.passed
    assert "✏️" in str(result) and "not attempted yet" in result._repr_html_()
    monkeypatch.setenv("BERTLAB_STRICT_CHECKS", "1")
    with pytest.raises(AssertionError, match="not attempted"):
        checks.softmax(stub)


def test_learner_exception_is_reported_not_raised():
    def broken(x, axis=-1):
        return undefined_name  # noqa: F821

    result = checks.softmax(broken)
    assert not result.passed and "NameError" in result.message


def test_passing_check_lists_what_it_verified():
    result = checks.softmax(ref.softmax)
    assert result.passed and "✅" in str(result) and "stable for scores around 1000" in str(result)


def test_split_heads_fallback_hint_points_at_the_mistake_without_giving_the_solution():
    def off_by_a_factor(x, h):
        return 2 * x.reshape(x.shape[0], x.shape[1], h, -1).transpose(0, 2, 1, 3)

    result = checks.split_heads(off_by_a_factor)
    assert not result.passed and "transpose(" not in result.hint and "heads, d_k)" not in result.hint
