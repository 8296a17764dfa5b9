"""Checks for chapter 02 — positional encoding."""

from __future__ import annotations

import numpy as np

from .. import positional as ref
from ._core import Check, exercise

__all__ = ["sinusoidal_encoding", "rotation_for_offset", "bert_embedding_sum"]


def _angles(max_len: int, d: int, base: float = 10000.0, two_i: bool = True) -> np.ndarray:
    i = np.arange(d // 2)
    return np.arange(max_len)[:, None] / base ** ((2 * i if two_i else i) / d)[None, :]


def _interleave(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty((a.shape[0], 2 * a.shape[1]))
    out[:, 0::2], out[:, 1::2] = a, b
    return out


def _column_index_bug(max_len: int, d: int) -> np.ndarray:
    """The commonest bug: angle = pos / 10000^(j/d) with j the column, so odd columns get the next pair's frequency."""
    j = np.arange(d)
    angles = np.arange(max_len)[:, None] / 10000.0 ** (j / d)[None, :]
    return np.where(j % 2 == 0, np.sin(angles), np.cos(angles))


@exercise("sinusoidal_encoding")
def sinusoidal_encoding(c: Check, fn) -> None:
    L, d = 12, 8
    got = c.expect_numpy(c.call(fn, L, d, what=f"sinusoidal_encoding({L}, {d})"), f"sinusoidal_encoding({L}, {d})")
    a = _angles(L, d)
    c.expect_array(
        got, ref.sinusoidal_encoding(L, d), what=f"sinusoidal_encoding({L}, {d})", atol=1e-6,
        mistakes={
            "this is the sin(·)·cos(·) product seen in some tutorials; the paper puts sin in the even "
            "columns and cos in the odd ones, each on its own.": _interleave(np.sin(a) * np.cos(a),
                                                                             np.sin(a) * np.cos(a)),
            "the exponent should be 2i/d (i indexes the sin/cos *pair*); you used i/d, so the frequencies fall "
            "too slowly.": _interleave(np.sin(_angles(L, d, two_i=False)), np.cos(_angles(L, d, two_i=False))),
            "the exponent uses the column index j (j/d); both columns of a pair share one frequency, so the "
            "exponent is 2i/d with 2i = 2·(j // 2) — the odd column 2i+1 too.": _column_index_bug(L, d),
            "sin and cos are swapped: even columns 2i get sin, odd columns 2i+1 get cos.":
                _interleave(np.cos(a), np.sin(a)),
            "sin and cos are concatenated in two halves; the paper interleaves them (columns 0, 2, 4 … sin; "
            "1, 3, 5 … cos).": np.concatenate([np.sin(a), np.cos(a)], axis=1),
            "the base is 10000, not 1000.": _interleave(np.sin(_angles(L, d, 1000.0)), np.cos(_angles(L, d, 1000.0))),
            "positions start at 0 (row 0 is [CLS]: sin 0 = 0, cos 0 = 1).":
                _interleave(np.sin(_angles(L + 1, d)[1:]), np.cos(_angles(L + 1, d)[1:])),
        },
        hint="compare a few entries with the formula by hand: row 1, columns 0 … 3 should be sin(1), cos(1), "
             "sin(1/10000^(2/d)), cos(1/10000^(2/d)).",
    )
    c.note("PE[pos, 2i] = sin(pos/10000^(2i/d)), PE[pos, 2i+1] = cos(…) on a 12 × 8 table")
    got = c.expect_numpy(c.call(fn, 64, 32, what="sinusoidal_encoding(64, 32)"), "sinusoidal_encoding(64, 32)")
    c.expect_array(got, ref.sinusoidal_encoding(64, 32), what="sinusoidal_encoding(64, 32)",
                   hint="use d_model from the argument, not a fixed width.")
    c.note("a second size (64 × 32) matches")


@exercise("rotation_for_offset")
def rotation_for_offset(c: Check, fn) -> None:
    k, d = 3, 8
    got = c.expect_numpy(c.call(fn, k, d, what=f"rotation_for_offset({k}, {d})"), f"rotation_for_offset({k}, {d})")
    exp = ref.rotation_for_offset(k, d)
    c.expect_array(
        got, exp, what=f"R for k = {k}, d = {d}",
        mistakes={
            "the sign of the sin terms is flipped (this is Rᵀ = R₋ₖ): it rotates backwards, giving "
            "PE[pos − k]. With column vectors PE[pos + k] = R @ PE[pos], each block's first row is "
            "[cos kω, sin kω].": ref.rotation_for_offset(-k, d),
            "each 2×2 block must use its own frequency ω_i = 1/10000^(2i/d), not ω_0 = 1.":
                np.kron(np.eye(d // 2), np.array([[np.cos(k), np.sin(k)], [-np.sin(k), np.cos(k)]])),
        },
        hint="block i is [[cos kω_i, sin kω_i], [−sin kω_i, cos kω_i]] on the pair (2i, 2i+1).",
    )
    pe = ref.sinusoidal_encoding(40, d)
    c.expect(np.allclose(pe[:-k] @ got.T, pe[k:], atol=1e-9), "R @ PE[pos] ≠ PE[pos + k] for some pos.")
    c.note("R_k @ PE[pos] = PE[pos + k] for every pos (checked on 40 positions)")
    got2 = c.expect_numpy(c.call(fn, 7, 16, what="rotation_for_offset(7, 16)"), "rotation_for_offset(7, 16)")
    c.expect_array(got2, ref.rotation_for_offset(7, 16), what="R for k = 7, d = 16",
                   hint="use k and d_model from the arguments.")
    c.note("another offset and width (k = 7, d = 16)")


@exercise("bert_embedding_sum")
def bert_embedding_sum(c: Check, fn) -> None:
    rng = np.random.default_rng(7)
    V, P, T, H = 20, 16, 2, 6
    we, pe, te = rng.normal(size=(V, H)), rng.normal(size=(P, H)), rng.normal(size=(T, H))
    gamma, beta = 1 + 0.1 * rng.normal(size=H), 0.1 * rng.normal(size=H)
    ids = np.array([[2, 5, 7, 3, 9, 11, 3], [2, 4, 3, 6, 3, 0, 0]])
    types = np.array([[0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0, 0]])
    args = (ids, types, we, pe, te, gamma, beta)
    got = c.expect_numpy(c.call(fn, *args, what="bert_embedding_sum(...)"), "bert_embedding_sum(...)")
    exp = ref.bert_embeddings(*args)
    raw = we[ids] + pe[np.arange(7)][None] + te[types]
    c.expect_array(
        got, exp, what="the embeddings (batch 2, seq 7, H 6)", atol=1e-6,
        mistakes={
            "the segment (token type) embedding is missing: BERT adds E_token + E_position + E_segment.":
                ref.layer_norm(we[ids] + pe[np.arange(7)][None], gamma, beta),
            "the LayerNorm is missing: BERT normalises the sum, then scales by γ and shifts by β.": raw,
            "positions start at 0, not 1 (position 0 is [CLS]).":
                ref.layer_norm(we[ids] + pe[np.arange(1, 8)][None] + te[types], gamma, beta),
            "LayerNorm normalises each token's vector (the last axis), not across the batch or sequence.":
                (raw - raw.mean(axis=1, keepdims=True)) / np.sqrt(raw.var(axis=1, keepdims=True) + 1e-12) * gamma
                + beta,
            "γ and β were not applied after normalising.": ref.layer_norm(raw),
        },
        hint="LayerNorm(E_tok[ids] + E_pos[0..seq-1] + E_type[types]) with γ, β.",
    )
    c.note("LayerNorm(token + position + segment) with γ and β")
