"""A chapter run twice prints the same numbers (seeds are fixed everywhere).

nbval already compares every chapter's fresh run with the committed (earlier) run; this test makes the
property explicit for chapters 01, 05 and 08: a fresh run's text outputs must equal the committed
run's in every cell not declared machine-dependent (# NBVAL_IGNORE_OUTPUT: timings, progress bars),
ignoring lines about time or machines.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from tests.conftest import CHAPTERS
from tools.nbtools import execute

# chapters named by the issue (01, 05, 08 — the fusion chapter) that exist in this checkout
DETERMINISM_CHAPTERS = [p for p in CHAPTERS if p.name[:2] in {"01", "05", "08"}]
_VOLATILE = re.compile(r"\d+(\.\d+)?\s*(s|ms|seconds|it/s|s/it)\b|threads|cores|\d+:\d\d")


def _texts(nb) -> list[tuple[str, str]]:
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "live-view" in cell.metadata.get("tags", []):
            continue
        if cell.source.startswith("# NBVAL_IGNORE_OUTPUT"):
            continue  # declared machine-dependent (timings, progress bars); the cell after it asserts what matters
        for o in cell.get("outputs", []):
            text = o.get("text") or o.get("data", {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            if "widget" in text or "interactive(" in text:
                continue  # widget reprs carry random model ids
            lines = [ln for ln in text.splitlines() if not _VOLATILE.search(ln) and "%|" not in ln]
            out.append((cell.id, "\n".join(lines)))
    return out


@pytest.mark.notebook
@pytest.mark.parametrize("path", DETERMINISM_CHAPTERS, ids=[p.stem for p in DETERMINISM_CHAPTERS])
def test_chapter_run_twice_prints_the_same_numbers(path):
    first = nbformat.read(path, as_version=4)  # the committed run (made by tools/nbtools.py build)
    second = nbformat.read(path, as_version=4)
    execute(second)  # a fresh run, with nothing shared with the first
    a, b = _texts(first), _texts(second)
    assert len(a) == len(b)
    for (cell, x), (_, y) in zip(a, b):
        assert x == y, f"{path.name} cell {cell} printed different output on a second run"
