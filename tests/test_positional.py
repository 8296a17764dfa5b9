"""bertlab.positional: each property of the sinusoidal encoding the chapter claims, proven."""

from __future__ import annotations

import numpy as np
import pytest

from bertlab import positional as P

PE = P.sinusoidal_encoding(512, 64)


def test_matches_the_papers_formula_entry_by_entry():
    pos, i, d = 37, 5, 64
    assert PE[pos, 2 * i] == pytest.approx(np.sin(pos / 10000 ** (2 * i / d)))
    assert PE[pos, 2 * i + 1] == pytest.approx(np.cos(pos / 10000 ** (2 * i / d)))


def test_bounded_in_minus_one_one_and_each_sin_cos_pair_has_unit_norm():
    assert np.abs(PE).max() <= 1.0
    pairs = PE[:, 0::2] ** 2 + PE[:, 1::2] ** 2
    assert np.allclose(pairs, 1.0)  # so every row has norm sqrt(d/2)


def test_rows_are_distinct():
    dist = np.linalg.norm(PE[:, None, :] - PE[None, :, :], axis=-1)
    np.fill_diagonal(dist, np.inf)
    assert dist.min() > 1e-3


@pytest.mark.parametrize("k", [1, 5, 50, 200])
def test_pe_at_pos_plus_k_is_a_fixed_linear_map_of_pe_at_pos(k):
    R = P.rotation_for_offset(k, 64)
    assert np.allclose(PE[:-k] @ R.T, PE[k:], atol=1e-9)  # the same R for every pos
    assert np.allclose(R @ R.T, np.eye(64), atol=1e-12)  # and it is a rotation (orthogonal)


def test_dot_product_depends_only_on_the_offset():
    for k in [0, 1, 7, 30]:
        dots = np.einsum("pd,pd->p", PE[:-k or None], PE[k:])
        assert np.allclose(dots, dots[0], atol=1e-9)
        expected = np.cos(k * P.frequencies(64)).sum()  # Σ_i cos(k ω_i)
        assert dots[0] == pytest.approx(expected)


def test_wavelengths_form_a_geometric_progression_from_2pi_to_2pi_times_10000():
    lam = P.wavelengths(64)
    ratios = lam[1:] / lam[:-1]
    assert np.allclose(ratios, ratios[0]) and ratios[0] == pytest.approx(10000 ** (2 / 64))
    assert lam[0] == pytest.approx(2 * np.pi)
    assert lam[-1] == pytest.approx(2 * np.pi * 10000 ** (62 / 64))


def test_the_sin_times_cos_product_formula_is_wrong_it_repeats_and_collides():
    a = np.arange(512)[:, None] / 10000 ** (np.arange(0, 64, 2) / 64)[None, :]
    wrong = np.repeat(np.sin(a) * np.cos(a), 2, axis=1)
    assert not np.allclose(wrong, PE)
    assert np.allclose(wrong[0], 0)  # position 0 is all zeros: no signal at all
    assert np.abs(wrong).max() <= 0.5  # half the range, and the even/odd columns are identical


@pytest.mark.parametrize("args", [(10, 7), (10, 0), (0, 8), (-3, 8), (10, 7.5)])
def test_bad_sizes_raise_a_clear_value_error(args):
    with pytest.raises(ValueError, match="max_len|d_model"):
        P.sinusoidal_encoding(*args)


def test_odd_d_model_error_names_the_problem():
    with pytest.raises(ValueError, match="even"):
        P.sinusoidal_encoding(10, 7)


def test_bert_embeddings_sum_then_layer_norm():
    rng = np.random.default_rng(0)
    we, pe, te = rng.normal(size=(10, 4)), rng.normal(size=(8, 4)), rng.normal(size=(2, 4))
    ids, types = np.array([[1, 2, 3]]), np.array([[0, 0, 1]])
    out = P.bert_embeddings(ids, types, we, pe, te)
    raw = we[ids] + pe[:3][None] + te[types]
    assert np.allclose(out, (raw - raw.mean(-1, keepdims=True)) / raw.std(-1, keepdims=True))
    assert np.allclose(out.mean(-1), 0) and np.allclose(out.var(-1), 1, atol=1e-6)


@pytest.mark.parametrize(
    "ids, types, match",
    [
        (np.array([[1, 2, 30]]), np.array([[0, 0, 0]]), "input ids"),
        (np.array([[1, 2, 3]]), np.array([[0, 0, 2]]), "token type"),
        (np.zeros((1, 9), int), np.zeros((1, 9), int), "longer than"),
        (np.array([1, 2, 3]), np.array([0, 0, 0]), "batch, seq"),
    ],
)
def test_bert_embeddings_bad_input(ids, types, match):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=match):
        P.bert_embeddings(ids, types, rng.normal(size=(10, 4)), rng.normal(size=(8, 4)), rng.normal(size=(2, 4)))
