"""The solved course: every exercise cell replaced by its stored solution, run with strict checks.

This proves the solutions pass inside the executed notebooks (not only in unit tests), that later
cells work with them, and that each chapter stays within its 120 s budget.
"""

from __future__ import annotations

import time

import nbformat
import pytest

from tests.conftest import CHAPTERS
from tools.nbtools import execute, inject_solutions

BUDGET_S = 120


@pytest.mark.notebook
@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_solved_chapter_runs_with_strict_checks(path):
    nb = nbformat.read(path, as_version=4)
    injected = inject_solutions(nb)
    t0 = time.perf_counter()
    execute(nb, strict=True)
    seconds = time.perf_counter() - t0
    print(f"\n{path.name}: solved run {seconds:.1f} s, {len(injected)} solutions injected")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors
    checks = [o for o in outputs if "✅" in str(o.get("data", {}).get("text/plain", ""))]
    assert len(checks) >= len(injected), "every injected solution should produce a passing check (✅)"
    assert seconds <= BUDGET_S, f"{path.name} took {seconds:.0f} s (budget {BUDGET_S} s)"
