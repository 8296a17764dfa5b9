"""Shared test set-up: the offline guard, and helpers to run chapter notebooks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["BERTLAB_NO_PROGRESS"] = "1"  # checks run by tests (and their kernels) never record progress

import bertlab._offline  # noqa: E402

bertlab._offline.install()  # the test process itself: any non-loopback connection raises

CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture
def strict_checks(monkeypatch):
    """Run a test with BERTLAB_STRICT_CHECKS=1."""
    monkeypatch.setenv("BERTLAB_STRICT_CHECKS", "1")


@pytest.fixture(autouse=True)
def _not_strict_by_default(monkeypatch):
    monkeypatch.delenv("BERTLAB_STRICT_CHECKS", raising=False)


def assert_check_passes(check, answer, *args):
    """The reference answer passes its check."""
    result = check(answer, *args)
    assert result.passed, str(result)
    return result


def assert_check_rejects(check, wrong, expected_hint: str, *args):
    """A realistic wrong answer fails its check, and the message or hint names the mistake."""
    result = check(wrong, *args)
    assert not result.passed, f"the check accepted a wrong answer ({getattr(wrong, '__name__', wrong)})"
    text = (result.message + " " + result.hint).lower()
    assert expected_hint.lower() in text, f"expected the feedback to mention {expected_hint!r}; got:\n{result}"
    return result
