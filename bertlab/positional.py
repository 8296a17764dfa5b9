"""Positional information (chapter 02): the sinusoidal encoding and BERT's learned embeddings.

Self-attention is permutation-equivariant: without positions, "dog bites man" and "man bites dog"
give the same set of outputs. The Transformer adds a fixed sinusoidal encoding,

    PE(pos, 2i)   = sin(pos / 10000^(2i/d))
    PE(pos, 2i+1) = cos(pos / 10000^(2i/d)),

while BERT learns one vector per position and adds a segment (token type) vector too.
"""

from __future__ import annotations

import numpy as np

BASE = 10000.0


def _check_sizes(max_len: int, d_model: int) -> None:
    if not isinstance(max_len, (int, np.integer)) or max_len <= 0:
        raise ValueError(f"max_len must be a positive integer; got {max_len!r}")
    if not isinstance(d_model, (int, np.integer)) or d_model <= 0:
        raise ValueError(f"d_model must be a positive integer; got {d_model!r}")
    if d_model % 2:
        raise ValueError(f"d_model must be even (sin/cos pairs); got d_model={d_model}")


def frequencies(d_model: int) -> np.ndarray:
    """ω_i = 1 / 10000^(2i/d) for i = 0 … d/2 − 1, shape ``(d_model/2,)``, in radians per position."""
    _check_sizes(1, d_model)
    i = np.arange(d_model // 2)
    return 1.0 / BASE ** (2 * i / d_model)


def wavelengths(d_model: int) -> np.ndarray:
    """λ_i = 2π / ω_i in positions: a geometric progression from 2π to 2π·10000^((d-2)/d)."""
    return 2 * np.pi / frequencies(d_model)


def sinusoidal_encoding(max_len: int, d_model: int) -> np.ndarray:
    """The encoding of "Attention Is All You Need", shape ``(max_len, d_model)``.

    Column 2i holds sin(pos·ω_i), column 2i+1 holds cos(pos·ω_i) — interleaved, not a product.
    Raises ValueError for an odd ``d_model`` or non-positive sizes.
    """
    _check_sizes(max_len, d_model)
    pos = np.arange(max_len)[:, None]  # (max_len, 1)
    angles = pos * frequencies(d_model)[None, :]  # (max_len, d_model/2)
    pe = np.empty((max_len, d_model))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe


def rotation_for_offset(k: int, d_model: int) -> np.ndarray:
    """The fixed matrix R_k with ``PE[pos + k] = R_k @ PE[pos]`` for every pos, shape ``(d_model, d_model)``.

    It is block-diagonal: for each frequency ω_i a 2×2 rotation by the angle k·ω_i acts on the pair
    (sin, cos). From sin(a + b) = sin a cos b + cos a sin b and cos(a + b) = cos a cos b − sin a sin b:

        [sin((pos+k)ω)]   [ cos kω   sin kω] [sin(pos ω)]
        [cos((pos+k)ω)] = [−sin kω   cos kω] [cos(pos ω)]
    """
    _check_sizes(1, d_model)
    r = np.zeros((d_model, d_model))
    for i, w in enumerate(frequencies(d_model)):
        c, s = np.cos(k * w), np.sin(k * w)
        r[2 * i: 2 * i + 2, 2 * i: 2 * i + 2] = [[c, s], [-s, c]]
    return r


def layer_norm(x: np.ndarray, gamma: np.ndarray | None = None, beta: np.ndarray | None = None,
               eps: float = 1e-12) -> np.ndarray:
    """LayerNorm over the last axis: γ · (x − mean) / √(var + eps) + β (BERT uses eps = 1e-12)."""
    x = np.asarray(x, dtype=float)
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


def bert_embeddings(
    input_ids: np.ndarray,
    token_type_ids: np.ndarray,
    word_embeddings: np.ndarray,
    position_embeddings: np.ndarray,
    token_type_embeddings: np.ndarray,
    gamma: np.ndarray | None = None,
    beta: np.ndarray | None = None,
    eps: float = 1e-12,
) -> np.ndarray:
    """BERT's input representation: LayerNorm(E_token[id] + E_position[pos] + E_segment[type]).

    Args:
        input_ids, token_type_ids: ``(batch, seq)`` integer arrays.
        word_embeddings ``(vocab, H)``, position_embeddings ``(max_pos, H)``, token_type_embeddings ``(types, H)``.
        gamma, beta: LayerNorm scale and shift ``(H,)``.

    Returns:
        ``(batch, seq, H)``. Positions are 0, 1, …, seq−1 (position 0 is [CLS]).
    """
    input_ids, token_type_ids = np.asarray(input_ids), np.asarray(token_type_ids)
    if input_ids.shape != token_type_ids.shape or input_ids.ndim != 2:
        raise ValueError(f"input_ids {input_ids.shape} and token_type_ids {token_type_ids.shape} must both be "
                         "(batch, seq)")
    seq = input_ids.shape[1]
    if seq > len(position_embeddings):
        raise ValueError(f"sequence of {seq} tokens is longer than the {len(position_embeddings)} learned positions")
    if input_ids.min() < 0 or input_ids.max() >= len(word_embeddings):
        raise ValueError(f"input ids must lie in [0, {len(word_embeddings)}); got {input_ids.min()}…{input_ids.max()}")
    if token_type_ids.min() < 0 or token_type_ids.max() >= len(token_type_embeddings):
        raise ValueError(f"token type ids must lie in [0, {len(token_type_embeddings)})")
    x = word_embeddings[input_ids] + position_embeddings[np.arange(seq)][None] + token_type_embeddings[token_type_ids]
    return layer_norm(x, gamma, beta, eps)
