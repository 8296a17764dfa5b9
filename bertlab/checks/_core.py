"""The machinery behind every exercise check.

A check is a function ``checks.<exercise>(learner_fn) -> CheckResult``. It calls the learner's code
through :func:`Check.call`, which survives everything learner code does wrong (raises, returns
``None``, NaN, the wrong shape or type, mutates its inputs, loops forever, prints a flood) and turns
each into a message. A check stops at the first problem it finds and says *what* is wrong and the
likely mistake, never just "wrong".

Writing a check (see ``ch01_attention.py`` for real ones)::

    @exercise("softmax")
    def softmax(c: Check, fn):
        x = np.array([[1.0, 2.0, 3.0]])
        got = c.call(fn, x)                       # stops with a message if fn misbehaves
        c.expect_array(got, ref_softmax(x), what="softmax([[1, 2, 3]])",
                       mistakes={"summed over axis 0": ref_softmax(x, axis=0)})
        c.note("rows sum to 1")                   # optional: what was verified, shown on success

``BERTLAB_STRICT_CHECKS=1`` makes a failing or unattempted check raise ``AssertionError`` (tests use it).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import html
import io
import os
import signal
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"
DEFAULT_TIME_LIMIT = 10.0  # seconds for one call of learner code
_MAX_PRINTED = 2_000  # characters of learner output kept in a message

REGISTRY: dict[str, Callable[..., CheckResult]] = {}


@dataclass
class CheckResult:
    """What a check found. ``passed`` is True only when every test of the exercise passed."""

    name: str
    status: str
    message: str
    hint: str = ""
    verified: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __bool__(self) -> bool:
        return self.passed

    def _icon(self) -> str:
        return {PASSED: "✅", FAILED: "❌", NOT_ATTEMPTED: "✏️"}[self.status]

    def __str__(self) -> str:
        head = f"{self._icon()} {self.name} — {self.message}"
        lines = [head]
        if self.status == PASSED and self.verified:
            lines += [f"   ✓ {v}" for v in self.verified]
        if self.hint:
            lines.append(f"   Hint: {self.hint}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = {PASSED: "#1a7f37", FAILED: "#cf222e", NOT_ATTEMPTED: "#9a6700"}[self.status]
        body = html.escape(self.message).replace("\n", "<br>")
        parts = [
            f'<div style="border-left:4px solid {colour};padding:4px 10px;font-family:sans-serif">'
            f"<b>{self._icon()} {html.escape(self.name)}</b> — {body}"
        ]
        if self.status == PASSED and self.verified:
            items = "".join(f"<li>{html.escape(v)}</li>" for v in self.verified)
            parts.append(f'<ul style="margin:2px 0">{items}</ul>')
        if self.hint:
            parts.append(f"<br><i>Hint:</i> {html.escape(self.hint)}")
        parts.append("</div>")
        return "".join(parts)


class _Stop(Exception):
    """Raised inside a check to end it with a result."""

    def __init__(self, status: str, message: str, hint: str = ""):
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


class _TimeLimit(Exception):
    pass


_DEMO = threading.local()


@contextlib.contextmanager
def demo():
    """Inside ``with checks.demo():`` checks never raise, even in strict mode.

    Notebooks use it to *show* what a failing check says (a deliberately wrong answer) without
    breaking the solved-course run, which executes every chapter with strict checks.
    """
    previous = getattr(_DEMO, "on", False)
    _DEMO.on = True
    try:
        yield
    finally:
        _DEMO.on = previous


def strict_mode() -> bool:
    """True when ``BERTLAB_STRICT_CHECKS`` is set to 1/true/yes (tests turn it on)."""
    return os.environ.get("BERTLAB_STRICT_CHECKS", "").lower() in {"1", "true", "yes"}


def _snapshot(obj: Any) -> Any:
    """A deep copy used to detect in-place mutation of inputs (random generators are meant to change)."""
    import random

    if isinstance(obj, (random.Random, np.random.Generator, np.random.RandomState)):
        return None
    try:
        import torch

        if isinstance(obj, torch.Generator):
            return None

        if isinstance(obj, torch.Tensor):
            return obj.detach().clone()
    except ImportError:  # pragma: no cover - torch is in requirements
        pass
    if isinstance(obj, np.ndarray):
        return obj.copy()
    try:
        return copy.deepcopy(obj)
    except Exception:
        return None


def _same(a: Any, b: Any) -> bool:
    try:
        import torch

        if isinstance(a, torch.Tensor):
            return isinstance(b, torch.Tensor) and a.shape == b.shape and bool(torch.equal(a, b))
        if isinstance(a, torch.nn.Module):
            return isinstance(b, torch.nn.Module) and _same(a.state_dict(), b.state_dict())
    except ImportError:  # pragma: no cover
        pass
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:
        return True


def _call_with_time_limit(fn: Callable, args: tuple, kwargs: dict, seconds: float) -> Any:
    """Run ``fn`` and raise _TimeLimit after ``seconds``.

    In the main thread on POSIX (a Jupyter kernel) a SIGALRM timer interrupts the learner's loop, so
    nothing keeps running afterwards. Elsewhere a daemon thread is used and abandoned on time-out.
    """
    use_alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if use_alarm:

        def _alarm(signum, frame):
            raise _TimeLimit()

        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn(*args, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    box: dict[str, Any] = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        raise _TimeLimit()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _describe(x: Any) -> str:
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return f"a torch.Tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    except ImportError:  # pragma: no cover
        pass
    if isinstance(x, np.ndarray):
        return f"a NumPy array of shape {x.shape} and dtype {x.dtype}"
    if x is None:
        return "None"
    return f"a {type(x).__name__}"


def _fmt(x: Any) -> str:
    with np.printoptions(precision=4, suppress=True, threshold=20, edgeitems=3):
        return np.array2string(np.asarray(x), separator=", ")


class Check:
    """The toolbox a check uses: call learner code safely and compare with clear messages."""

    def __init__(self, name: str, time_limit: float = DEFAULT_TIME_LIMIT):
        self.name = name
        override = os.environ.get("BERTLAB_CHECK_TIME_LIMIT")  # tests shorten it
        self.time_limit = float(override) if override else time_limit
        self.verified: list[str] = []

    # -- ending a check ---------------------------------------------------------------------
    def fail(self, message: str, hint: str = "") -> None:
        """End the check as failed with ``message`` (what is wrong) and ``hint`` (the likely mistake)."""
        raise _Stop(FAILED, message, hint)

    def note(self, what: str) -> None:
        """Record a property that was verified (listed when the check passes)."""
        self.verified.append(what)

    # -- calling learner code -----------------------------------------------------------------
    def call(self, fn: Callable, *args: Any, what: str | None = None, may_modify: bool = False, **kwargs: Any) -> Any:
        """Call the learner's ``fn``; any misbehaviour ends the check with a message.

        ``may_modify=True`` for exercises whose job is to change an argument in place (e.g. loading weights).
        """
        if fn is None or not callable(fn):
            self.fail(f"expected a function, got {_describe(fn)}.", "pass the function itself: check.x(x).")
        label = what or f"{getattr(fn, '__name__', 'your function')}(...)"
        before = [None if may_modify else _snapshot(a) for a in args]
        before_kw = {k: None if may_modify else _snapshot(v) for k, v in kwargs.items()}
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                value = _call_with_time_limit(fn, args, kwargs, self.time_limit)
        except NotImplementedError:
            msg = "not attempted yet: replace `raise NotImplementedError` with your code."
            raise _Stop(NOT_ATTEMPTED, msg) from None
        except _TimeLimit:
            self.fail(
                f"{label} did not finish within {self.time_limit:.0f} s (stopped).",
                "look for a loop that never ends, or a Python loop over every element that "
                "NumPy/PyTorch could do at once.",
            )
        except RecursionError:
            self.fail(f"{label} recursed without end (RecursionError).", "check the base case.")
        except Exception as e:  # the learner's code raised
            frames = [f for f in traceback.extract_tb(e.__traceback__) if "bertlab/checks" not in f.filename]
            where = f"\n   in: {frames[-1].line}" if frames and frames[-1].line else ""
            self.fail(f"{label} raised {type(e).__name__}: {e}{where}",
                      "fix that line and run the exercise cell again, then this check.")
        for i, (a, b) in enumerate(zip(args, before)):
            if not may_modify and b is not None and not _same(a, b):
                self.fail(
                    f"{label} changed its input argument #{i + 1} in place.",
                    "work on a copy (x = x.copy()) or use out-of-place operations (x = x - m, not x -= m).",
                )
        for k, b in before_kw.items():
            if not may_modify and b is not None and not _same(kwargs[k], b):
                self.fail(f"{label} changed its input `{k}` in place.", "work on a copy instead.")
        out = printed.getvalue()
        if len(out) > _MAX_PRINTED:
            self.note(f"your function printed {len(out):,} characters (not shown)")
        return value

    # -- comparing ---------------------------------------------------------------------------
    def expect_numpy(self, got: Any, what: str) -> np.ndarray:
        """``got`` must be a NumPy array (a torch tensor or list is reported, not silently converted)."""
        try:
            import torch

            if isinstance(got, torch.Tensor):
                self.fail(
                    f"{what} returned a torch.Tensor; this exercise works in NumPy.",
                    "use np.* functions (np.exp, np.matmul, …) or convert with .detach().numpy().",
                )
        except ImportError:  # pragma: no cover
            pass
        if got is None:
            self.fail(f"{what} returned None.", "did you forget the `return` statement?")
        if not isinstance(got, np.ndarray):
            self.fail(f"{what} returned {_describe(got)}, expected a NumPy array.", "return an np.ndarray.")
        return got

    def expect_torch(self, got: Any, what: str):
        """``got`` must be a torch tensor."""
        import torch

        if got is None:
            self.fail(f"{what} returned None.", "did you forget the `return` statement?")
        if isinstance(got, np.ndarray):
            self.fail(f"{what} returned a NumPy array; this exercise works in PyTorch.",
                      "use torch operations so gradients can flow (torch.from_numpy converts).")
        if not isinstance(got, torch.Tensor):
            self.fail(f"{what} returned {_describe(got)}, expected a torch.Tensor.", "return a tensor.")
        return got

    def expect_array(
        self,
        got: Any,
        expected: Any,
        what: str,
        atol: float = 1e-6,
        rtol: float = 1e-5,
        mistakes: dict[str, Any] | None = None,
        hint: str = "",
        kind: str = "numpy",
    ) -> None:
        """``got`` must equal ``expected`` (shape, finiteness, values).

        ``mistakes`` maps a hint naming a realistic mistake to the value that mistake produces; when
        ``got`` matches one, that hint is given. ``hint`` is the fallback hint for other wrong values.
        ``kind`` is "numpy" (a NumPy array is required), "torch" (a tensor is required) or "any".
        """
        if kind == "numpy":
            got = self.expect_numpy(got, what)
        elif kind == "torch":
            got = self.expect_torch(got, what).detach().cpu().numpy()
        else:
            if got is None:
                self.fail(f"{what} returned None.", "did you forget the `return` statement?")
            if hasattr(got, "detach"):
                got = got.detach().cpu().numpy()
        got = np.asarray(got)
        expected = np.asarray(expected)
        if got.shape != expected.shape:
            self.fail(
                f"{what} has shape {got.shape}, expected {expected.shape}.",
                hint or "check which axes you reduce, transpose or reshape.",
            )
        if got.dtype.kind not in "fciub":
            self.fail(f"{what} has dtype {got.dtype}, expected numbers.", "return a numeric array.")
        if expected.dtype.kind == "b" and got.dtype.kind != "b":
            self.fail(f"{what} has dtype {got.dtype}, expected a boolean array.", hint or "use comparisons "
                      "(==, <, &) that give True/False.")
        if got.dtype.kind in "fc" and not np.all(np.isfinite(got)) and np.all(np.isfinite(expected)):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
            self.fail(
                f"{what} contains NaN or inf (first at index {bad}: {got[bad]}).",
                (mistakes or {}).get("__nan__", hint or "a large exponent overflowed, or you divided by zero."),
            )
        if np.allclose(got, expected, atol=atol, rtol=rtol, equal_nan=True):
            return
        for mistake_hint, wrong in (mistakes or {}).items():
            if mistake_hint == "__nan__":
                continue
            wrong = np.asarray(wrong)
            if wrong.shape == got.shape and np.allclose(got, wrong, atol=max(atol, 1e-5), rtol=1e-4,
                                                        equal_nan=True):
                self.fail(f"{what} is wrong.\n   got:      {_fmt(got)}\n   expected: {_fmt(expected)}",
                          mistake_hint)
        diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape)) if diff.ndim else ()
        where = f" (largest difference at index {idx}: got {got[idx]:.6g}, expected {expected[idx]:.6g})" \
            if idx else ""
        self.fail(
            f"{what} is wrong{where}.\n   got:      {_fmt(got)}\n   expected: {_fmt(expected)}",
            hint,
        )

    def expect(self, condition: bool, message: str, hint: str = "") -> None:
        """Fail with ``message`` unless ``condition`` holds."""
        if not condition:
            self.fail(message, hint)


def _record(result: CheckResult) -> None:
    """Remember the result in the learner's workspace (``bertlab.progress``); never affects the check."""
    try:
        from bertlab import progress

        progress.record(result)
    except Exception:  # noqa: BLE001 - progress is a convenience; a check must never fail because of it
        pass


def exercise(name: str, time_limit: float = DEFAULT_TIME_LIMIT):
    """Register a check for the exercise ``name``.

    The decorated function receives a :class:`Check` and the learner's answer (plus any extra
    arguments) and returns nothing; it ends by returning normally (passed) or via ``c.fail``.
    """

    def decorate(body: Callable[..., Any]) -> Callable[..., CheckResult]:
        @functools.wraps(body)
        def check(answer: Any = None, *args: Any, **kwargs: Any) -> CheckResult:
            c = Check(name, time_limit)
            try:
                body(c, answer, *args, **kwargs)
                result = CheckResult(name, PASSED, "all tests passed.", verified=c.verified)
            except _Stop as stop:
                result = CheckResult(name, stop.status, stop.message, stop.hint)
            except Exception as e:  # the learner's answer broke the check's own comparisons
                result = CheckResult(
                    name, FAILED, f"your answer could not be evaluated: {type(e).__name__}: {e}",
                    "check the type and shape of what you return.",
                )
            if not getattr(_DEMO, "on", False):
                _record(result)
            if strict_mode() and not result.passed and not getattr(_DEMO, "on", False):
                raise AssertionError(str(result))
            return result

        check.exercise_name = name  # type: ignore[attr-defined]
        REGISTRY[name] = check
        return check

    return decorate
