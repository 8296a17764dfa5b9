"""bertlab.attention: the properties the chapter teaches, proven on random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from bertlab import attention as A

rng = np.random.default_rng(0)


def test_softmax_rows_sum_to_one_and_are_positive():
    p = A.softmax(rng.normal(size=(4, 7)))
    assert np.allclose(p.sum(-1), 1) and (p > 0).all()


def test_softmax_gives_minus_inf_entries_weight_zero_without_warnings():
    with np.errstate(all="raise"):
        p = A.softmax(np.array([[0.0, -np.inf, 1.0]]))
    assert p[0, 1] == 0 and np.isclose(p.sum(), 1)


def test_softmax_is_shift_invariant_and_stable_for_huge_scores():
    x = rng.normal(size=(3, 5))
    assert np.allclose(A.softmax(x), A.softmax(x + 1000.0))
    assert np.all(np.isfinite(A.softmax(np.array([1e4, 1e4 + 1, -1e4]))))


def test_attention_weights_rows_sum_to_one_and_output_is_a_convex_combination():
    q, k, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 6, 4)), rng.normal(size=(2, 6, 5))
    out, w = A.scaled_dot_product_attention(q, k, v)
    assert w.shape == (2, 3, 6) and out.shape == (2, 3, 5)
    assert np.allclose(w.sum(-1), 1)
    assert np.all(out <= v.max(axis=1, keepdims=True) + 1e-12) and np.all(out >= v.min(axis=1, keepdims=True) - 1e-12)


def test_masked_keys_get_exactly_zero_weight_and_do_not_change_the_output():
    q, k, v = rng.normal(size=(1, 3, 4)), rng.normal(size=(1, 5, 4)), rng.normal(size=(1, 5, 4))
    mask = np.array([True, True, True, False, False])[None, None, :]
    out, w = A.scaled_dot_product_attention(q, k, v, mask)
    assert (w[..., 3:] == 0).all()
    k2, v2 = k.copy(), v.copy()
    k2[:, 3:], v2[:, 3:] = 99.0, -99.0  # change what is behind the padding
    out2, _ = A.scaled_dot_product_attention(q, k2, v2, mask)
    assert np.allclose(out, out2)


def test_causal_mask_lets_query_i_see_keys_up_to_i_only():
    _, w = A.scaled_dot_product_attention(*(rng.normal(size=(4, 4)),) * 3, mask=A.causal_mask(4))
    assert np.allclose(np.triu(w, 1), 0) and np.allclose(w.sum(-1), 1)


def test_split_then_merge_heads_is_the_identity():
    x = rng.normal(size=(2, 5, 12))
    assert np.array_equal(A.merge_heads(A.split_heads(x, 3)), x)
    assert A.split_heads(x, 3).shape == (2, 3, 5, 4)


def test_multi_head_with_one_head_equals_single_attention_with_projections():
    x = rng.normal(size=(1, 4, 6))
    w = [rng.normal(size=(6, 6)) for _ in range(4)]
    out, _ = A.multi_head_attention(x, *w, num_heads=1)
    ref, _ = A.scaled_dot_product_attention(x @ w[0], x @ w[1], x @ w[2])
    assert np.allclose(out, ref @ w[3])


def test_multi_head_attention_is_permutation_equivariant_without_positions():
    x = rng.normal(size=(1, 5, 8))
    w = [rng.normal(size=(8, 8)) for _ in range(4)]
    perm = rng.permutation(5)
    out, _ = A.multi_head_attention(x, *w, num_heads=2)
    out_p, _ = A.multi_head_attention(x[:, perm], *w, num_heads=2)
    assert np.allclose(out[:, perm], out_p)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: A.split_heads(np.zeros((1, 2, 10)), 3), "not divisible"),
        (lambda: A.split_heads(np.zeros((2, 10)), 2), "(batch, seq, d_model)"),
        (lambda: A.scaled_dot_product_attention(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((2, 4))), "d_k"),
        (lambda: A.scaled_dot_product_attention(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 3))), "seq_k"),
        (lambda: A.scaled_dot_product_attention(*(np.zeros((2, 3)),) * 3, mask=np.ones((2, 2))), "boolean"),
        (lambda: A.scaled_dot_product_attention(*(np.zeros((2, 3)),) * 3, mask=np.ones((3, 3), bool)),
         "does not broadcast"),
        (lambda: A.multi_head_attention(np.zeros((1, 2, 4)), *[np.zeros((4, 3))] * 4, num_heads=2), "w_q"),
        (lambda: A.padding_mask(np.ones(3)), "(batch, seq)"),
        (lambda: A.softmax(np.array([])), "empty"),
        (lambda: A.softmax(np.array([[1.0, np.inf, 2.0]])), "inf − inf"),
        (lambda: A.softmax(np.array([[1.0, np.nan]])), "nan"),
        (lambda: A.softmax(np.array([[-np.inf, -np.inf], [0.0, 1.0]])), "-inf everywhere"),
    ],
)
def test_bad_input_gives_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()
