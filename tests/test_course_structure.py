"""The course's parts fit together: sources and notebooks in sync, every exercise has a check and a
solution, every check has an exercise, notebooks stay small."""

from __future__ import annotations

import nbformat
import pytest

from bertlab import checks
from bertlab._solutions import all_solutions
from tests.conftest import CHAPTERS, ROOT
from tools.nbtools import SOURCES, parse_source

SOURCE_FILES = sorted(SOURCES.glob("[0-9][0-9]_*.py"))


def _exercise_tags(nb) -> list[str]:
    return [t.split(":", 1)[1] for c in nb.cells for t in c.metadata.get("tags", []) if t.startswith("exercise:")]


def test_every_source_has_a_built_chapter_and_back():
    assert [p.stem for p in SOURCE_FILES] == [p.stem for p in CHAPTERS]
    assert CHAPTERS and CHAPTERS[0].name == "00_welcome.ipynb"


@pytest.mark.parametrize("src", SOURCE_FILES, ids=[p.stem for p in SOURCE_FILES])
def test_committed_notebook_matches_its_source(src):
    """chapters/X.ipynb was built from tools/notebooks/X.py (run `make notebooks` after editing)."""
    built = parse_source(src.read_text(encoding="utf-8"))
    committed = nbformat.read(ROOT / "chapters" / (src.stem + ".ipynb"), as_version=4)
    assert [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in committed.cells] == [
        (c.cell_type, c.source, c.metadata.get("tags", [])) for c in built.cells
    ]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_committed_notebook_is_executed_small_and_clean(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and "live-view" not in c.metadata.get("tags", [])]
    assert all(c.execution_count is not None for c in code), "commit the executed notebook (make notebooks)"
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    assert path.stat().st_size < 1_200_000, f"{path.name} is {path.stat().st_size/1e6:.1f} MB (keep it ≲ 1 MB)"
    assert "widgets" not in nb.metadata, "widget state must not be committed"
    assert "cdn.jsdelivr" not in path.read_text() and "cdnjs" not in path.read_text()


def test_exercises_checks_and_solutions_pair_up():
    tags = [t for p in CHAPTERS for t in _exercise_tags(nbformat.read(p, as_version=4))]
    assert len(tags) == len(set(tags)), "an exercise name is used twice"
    sols = all_solutions()
    assert sorted(tags) == sorted(sols), "each exercise cell needs exactly one solution section"
    assert sorted(tags) == checks.names(), "each exercise needs exactly one check, and vice versa"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_each_exercise_is_followed_by_its_check(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        names = [t.split(":", 1)[1] for t in cell.metadata.get("tags", []) if t.startswith("exercise:")]
        for name in names:
            later = "\n".join(c.source for c in nb.cells[i + 1: i + 4] if c.cell_type == "code")
            assert f"check.{name}(" in later, f"{path.name}: exercise {name} has no check cell right after it"
            assert "raise NotImplementedError" in cell.source, f"{name}: the student version is a stub"
