"""Chapter 00 check: the reference passes; the usual cosine mistakes fail with the right hint."""

from __future__ import annotations

import numpy as np
import pytest

from bertlab import checks
from tests.conftest import assert_check_passes, assert_check_rejects


def reference(u, v):
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def test_reference_passes():
    assert_check_passes(checks.cosine_similarity, reference)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda u, v: u @ v, "plain dot product"),
        (lambda u, v: u @ v / np.linalg.norm(u), "only one vector"),
        (lambda u, v: 1 - reference(u, v), "distance"),
        (lambda u, v: u @ v / ((u @ u) * (v @ v)), "squared"),
        (lambda u, v: u * v / (np.linalg.norm(u) * np.linalg.norm(v)), "element-wise"),
        (lambda u, v: None, "return"),
        (lambda u, v: reference(u, v) if np.linalg.norm(u) == 5 else 0.5, "parallel"),
    ],
)
def test_wrong_answers_are_named(wrong, hint):
    assert_check_rejects(checks.cosine_similarity, wrong, hint)


def test_a_check_that_would_crash_the_kernel_reports_instead():
    def recurses(u, v):
        return recurses(u, v)

    result = checks.cosine_similarity(recurses)
    assert not result.passed and "recursed" in result.message
