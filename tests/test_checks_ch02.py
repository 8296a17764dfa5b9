"""Chapter 02 checks: references pass; the classic positional-encoding mistakes are named."""

from __future__ import annotations

import numpy as np
import pytest

from bertlab import checks
from bertlab import positional as P
from tests.conftest import assert_check_passes, assert_check_rejects


def _pe(max_len, d, base=10000.0, exponent=lambda i, d: 2 * i / d, start=0, layout="interleave", op=None):
    i = np.arange(d // 2)
    a = np.arange(start, start + max_len)[:, None] / base ** exponent(i, d)[None, :]
    s, c = (np.sin(a) * np.cos(a),) * 2 if op == "product" else (np.sin(a), np.cos(a))
    if layout == "halves":
        return np.concatenate([s, c], axis=1)
    out = np.empty((max_len, d))
    out[:, 0::2], out[:, 1::2] = (c, s) if layout == "swapped" else (s, c)
    return out


def column_index_in_exponent(max_len, d_model):
    """The commonest bug: the column index j in the exponent instead of 2·(j // 2)."""
    pe = np.zeros((max_len, d_model))
    for pos in range(max_len):
        for j in range(d_model):
            angle = pos / 10000 ** (j / d_model)
            pe[pos, j] = np.sin(angle) if j % 2 == 0 else np.cos(angle)
    return pe


def test_sinusoidal_reference_passes():
    assert_check_passes(checks.sinusoidal_encoding, P.sinusoidal_encoding)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda L, d: _pe(L, d, op="product"), "product"),
        (column_index_in_exponent, "column index j"),
        (lambda L, d: _pe(L, d, exponent=lambda i, d: i / d), "2i/d"),
        (lambda L, d: _pe(L, d, layout="swapped"), "swapped"),
        (lambda L, d: _pe(L, d, layout="halves"), "interleaves"),
        (lambda L, d: _pe(L, d, base=1000.0), "10000"),
        (lambda L, d: _pe(L, d, start=1), "positions start at 0"),
        (lambda L, d: _pe(L, 8) if d == 8 else None, "return"),
    ],
)
def test_sinusoidal_rejects(wrong, hint):
    assert_check_rejects(checks.sinusoidal_encoding, wrong, hint)


def test_rotation_reference_passes():
    assert_check_passes(checks.rotation_for_offset, P.rotation_for_offset)


def rotation_one_frequency(k, d):
    return np.kron(np.eye(d // 2), np.array([[np.cos(k), np.sin(k)], [-np.sin(k), np.cos(k)]]))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda k, d: P.rotation_for_offset(-k, d), "sign"),
        (lambda k, d: P.rotation_for_offset(k, d).T, "rᵀ = r₋ₖ"),
        (rotation_one_frequency, "own frequency"),
        (lambda k, d: np.eye(d), "wrong"),
    ],
)
def test_rotation_rejects(wrong, hint):
    assert_check_rejects(checks.rotation_for_offset, wrong, hint)


def test_embedding_sum_reference_passes():
    assert_check_passes(checks.bert_embedding_sum, P.bert_embeddings)


def no_segment(ids, types, we, pe, te, g, b):
    return P.layer_norm(we[ids] + pe[np.arange(ids.shape[1])][None], g, b)


def no_layernorm(ids, types, we, pe, te, g, b):
    return we[ids] + pe[np.arange(ids.shape[1])][None] + te[types]


def positions_from_one(ids, types, we, pe, te, g, b):
    return P.layer_norm(we[ids] + pe[np.arange(1, ids.shape[1] + 1)][None] + te[types], g, b)


def norm_over_sequence(ids, types, we, pe, te, g, b):
    x = we[ids] + pe[np.arange(ids.shape[1])][None] + te[types]
    return (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + 1e-12) * g + b


def no_gamma_beta(ids, types, we, pe, te, g, b):
    return P.layer_norm(we[ids] + pe[np.arange(ids.shape[1])][None] + te[types])


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (no_segment, "segment"),
        (no_layernorm, "layernorm is missing"),
        (positions_from_one, "positions start at 0"),
        (norm_over_sequence, "last axis"),
        (no_gamma_beta, "γ and β"),
    ],
)
def test_embedding_sum_rejects(wrong, hint):
    assert_check_rejects(checks.bert_embedding_sum, wrong, hint)
