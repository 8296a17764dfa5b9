"""Every check survives hostile learner code: a message, never an exception, a dead kernel or a hang.

Parametrised over every registered check (new chapters join automatically) × a catalogue of hostile
answers: raises, returns None / NaN / a string / the wrong library's array, loops forever, prints a
flood, mutates its inputs. Each must give a failed (or not-attempted) result within the time limit,
even in strict mode only as AssertionError, never anything else.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from bertlab import checks

TIME_LIMIT_S = 0.5


def raises(*args, **kwargs):
    raise ValueError("learner bug")


def returns_none(*args, **kwargs):
    return None


def returns_nan(*args, **kwargs):
    return float("nan")


def returns_nan_array(*args, **kwargs):
    return np.full((3, 3), np.nan)


def returns_string(*args, **kwargs):
    return "softmax"


def returns_torch(*args, **kwargs):
    return torch.zeros(2, 3)


def returns_numpy_inf(*args, **kwargs):
    return np.full((2, 3), np.inf)


def loops_forever(*args, **kwargs):
    while True:
        pass


def prints_a_flood(*args, **kwargs):
    print("x" * 1_000_000)
    return None


def mutates_inputs(*args, **kwargs):
    for a in args:
        if isinstance(a, np.ndarray) and a.size and a.dtype.kind in "fiu":
            a[...] = 0
        elif isinstance(a, torch.Tensor) and a.numel():
            with torch.no_grad():
                a.zero_()
        elif isinstance(a, list) and a:
            a.clear()
    return None


def not_callable_answer():
    return 42


def stub(*args, **kwargs):
    raise NotImplementedError


HOSTILE = [raises, returns_none, returns_nan, returns_nan_array, returns_string, returns_torch,
           returns_numpy_inf, loops_forever, prints_a_flood, mutates_inputs]


@pytest.fixture(autouse=True)
def _short_time_limit(monkeypatch):
    monkeypatch.setenv("BERTLAB_CHECK_TIME_LIMIT", str(TIME_LIMIT_S))


@pytest.mark.parametrize("hostile", HOSTILE, ids=[h.__name__ for h in HOSTILE])
@pytest.mark.parametrize("name", checks.names())
def test_check_reports_hostile_answer_as_a_message(name, hostile, capsys):
    check = checks.REGISTRY[name]
    t0 = time.perf_counter()
    result = check(hostile)
    elapsed = time.perf_counter() - t0
    assert not result.passed, f"{name} accepted {hostile.__name__}"
    assert result.message.strip(), "a failing check must say what is wrong"
    assert result.message != "wrong"
    assert elapsed < 30 * TIME_LIMIT_S + 20, f"{name} took {elapsed:.1f} s on {hostile.__name__}"
    assert len(capsys.readouterr().out) < 10_000, "learner prints must not flood the notebook"


@pytest.mark.parametrize("name", checks.names())
def test_check_on_a_stub_says_not_attempted_and_strict_mode_raises_assertion(name, monkeypatch):
    check = checks.REGISTRY[name]
    assert check(stub).status == "not attempted"
    monkeypatch.setenv("BERTLAB_STRICT_CHECKS", "1")
    with pytest.raises(AssertionError):
        check(stub)


@pytest.mark.parametrize("name", checks.names())
def test_check_given_a_non_function_says_so(name):
    result = checks.REGISTRY[name](42)
    assert not result.passed and result.message
