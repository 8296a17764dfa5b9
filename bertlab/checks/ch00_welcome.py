"""Checks for chapter 00 — the warm-up exercise."""

from __future__ import annotations

import numpy as np

from ._core import Check, exercise

__all__ = ["cosine_similarity"]


def _cos(u: np.ndarray, v: np.ndarray) -> float:
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


@exercise("cosine_similarity")
def cosine_similarity(c: Check, fn) -> None:
    u, v = np.array([3.0, 4.0, 0.0]), np.array([4.0, 3.0, 0.0])
    got = c.call(fn, u, v, what="cosine_similarity([3, 4, 0], [4, 3, 0])")
    c.expect(got is not None, "cosine_similarity returned None.", "did you forget the `return` statement?")
    c.expect(np.ndim(got) == 0, f"it should return one number; got an array of shape {np.shape(got)}.",
             "u * v is element-wise; the dot product u @ v (or np.dot) sums it to one number.")
    got = float(got)
    expected = _cos(u, v)  # 24 / 25 = 0.96
    mistakes = {
        "this is the plain dot product u·v; divide by both lengths ‖u‖·‖v‖.": float(u @ v),
        "you divided by only one vector's length; divide by ‖u‖·‖v‖.": float(u @ v / np.linalg.norm(u)),
        "this is the cosine *distance* 1 - cos; return the similarity itself.": 1 - expected,
        "the lengths were squared (‖u‖² = u·u); use the square root, np.linalg.norm(u).":
            float(u @ v / ((u @ u) * (v @ v))),
    }
    if not np.isclose(got, expected, atol=1e-6):
        for hint, wrong in mistakes.items():
            if np.isclose(got, wrong, atol=1e-6):
                c.fail(f"cosine_similarity([3, 4, 0], [4, 3, 0]) returned {got:.4f}; expected {expected:.4f}.", hint)
        c.fail(f"cosine_similarity([3, 4, 0], [4, 3, 0]) returned {got:.4f}; expected {expected:.4f}.",
               "cos(u, v) = u·v / (‖u‖ ‖v‖).")
    c.note("cos([3,4,0], [4,3,0]) = 0.96")
    for a, b, what in [(u, 2.5 * u, "parallel vectors"), (u, -u, "opposite vectors"),
                       (np.array([1.0, 0.0]), np.array([0.0, 2.0]), "orthogonal vectors")]:
        got = c.call(fn, a, b, what=f"cosine_similarity on {what}")
        c.expect(got is not None and np.isclose(float(got), _cos(a, b), atol=1e-6),
                 f"on {what} it returned {got}; expected {_cos(a, b):.1f}.",
                 "the cosine ignores length: parallel → 1, opposite → -1, orthogonal → 0.")
    c.note("parallel → 1, opposite → -1, orthogonal → 0 (length does not matter)")
