"""The solved replay of `make test` (tests/nbval_course.py) is the whole solved course.

The notebook stage runs each chapter once as committed and then replays, in the same kernel, each
exercise cell with its stored solution, its check cell, and the cells tagged ``uses-exercises``. That
equals running the solved notebook only if no *other* cell reads what an exercise cell defines before the
chapter rebinds that name to the package's reference (COURSE.md: "later cells never depend on the
learner's answer"). This test proves it statically for every chapter, so a chapter that starts using a
learner's function elsewhere must tag that cell ``uses-exercises`` (and it is then replayed).
"""

from __future__ import annotations

import ast

import nbformat
import pytest

from tests.conftest import CHAPTERS


def _defined(tree: ast.AST) -> set[str]:
    """Top-level names a cell binds (def, class, import, assignment)."""
    names: set[str] = set()
    for node in getattr(tree, "body", []):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def _read_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _parse(source: str) -> ast.AST:
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]  # IPython magics
    return ast.parse("\n".join(lines))


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_only_check_and_uses_exercises_cells_read_a_learners_answer(path):
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    trees = [_parse(c.source) for c in code]
    offenders = []
    for i, cell in enumerate(code):
        if not any(t.startswith("exercise:") for t in _tags(cell)):
            continue
        learner = _defined(trees[i])  # what the learner's cell defines (a function, a class, …)
        for j in range(i + 1, len(code)):
            if not learner:
                break
            replayed = j == i + 1 or "uses-exercises" in _tags(code[j]) or any(
                t.startswith("exercise:") for t in _tags(code[j]))
            used = (_read_names(trees[j]) & learner) - _defined(trees[j])  # a cell that re-imports reads its own
            if used and not replayed:
                offenders.append(f"code cell {j} reads {sorted(used)} from exercise cell {i}")
            learner -= _defined(trees[j])  # rebound to the package's reference: no longer the learner's
    assert not offenders, (f"{path.name}: cells that read a learner's answer must be the check cell or be tagged "
                           "uses-exercises (so the solved replay runs them): " + "; ".join(offenders))
