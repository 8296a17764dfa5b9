"""Reference solutions, stored once in ``solutions/NN_topic.py`` at the repository root.

Each solution file is split into sections by lines ``# %% solution: <exercise name>``; a section is
exactly the code that replaces the exercise cell tagged ``exercise:<exercise name>`` in the chapter
notebook. ``bertlab.solution("softmax")`` shows one; the solved-course test injects them all.
"""

from __future__ import annotations

import re
from pathlib import Path

SOLUTIONS_DIR = Path(__file__).resolve().parent.parent / "solutions"
_MARK = re.compile(r"^# %% solution: *(\S+) *$", re.M)


def all_solutions(directory: Path = SOLUTIONS_DIR) -> dict[str, str]:
    """Map every exercise name to its solution source (from all ``solutions/*.py``)."""
    found: dict[str, str] = {}
    if not directory.is_dir():
        raise FileNotFoundError(
            f"the solutions folder {directory} is missing: bertlab must be installed from the course "
            "repository (`make lab` does it), not from PyPI."
        )
    for path in sorted(directory.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        marks = list(_MARK.finditer(text))
        for m, nxt in zip(marks, marks[1:] + [None]):
            body = text[m.end(): nxt.start() if nxt else len(text)].strip("\n") + "\n"
            if m.group(1) in found:
                raise ValueError(f"solution {m.group(1)!r} is defined twice (second time in {path.name})")
            found[m.group(1)] = body
    return found


def solution_source(name: str) -> str:
    """The reference solution of exercise ``name`` as source text."""
    sols = all_solutions()
    if name not in sols:
        raise KeyError(f"no solution named {name!r}; known: {', '.join(sorted(sols))}")
    return sols[name]


def solution(name: str):
    """Show the reference solution of exercise ``name`` (syntax-highlighted in a notebook).

    Try the exercise first: the check's hint usually names the mistake.
    """
    from ._show import highlighted

    return highlighted(solution_source(name), title=f"solution: {name}")
