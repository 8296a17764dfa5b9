"""The package's architecture holds: text → model → training → views, commands apart.

Proven from the import statements themselves (ast), so a new module cannot quietly break it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "bertlab"
LIBRARY = sorted(p for p in PACKAGE.rglob("*.py") if "runs" not in p.relative_to(PACKAGE).parts)
NOTEBOOK_SOURCES = sorted((ROOT / "tools" / "notebooks").glob("[0-9][0-9]_*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
    return found


def _touches(names: set[str], prefix: str) -> bool:
    return any(n == prefix or n.startswith(prefix + ".") for n in names)


@pytest.mark.parametrize("path", LIBRARY, ids=[_module_name(p) for p in LIBRARY])
def test_no_library_module_imports_a_command(path):
    assert not _touches(imports_of(path), "bertlab.runs"), f"{path.name} imports bertlab.runs (commands stay apart)"


@pytest.mark.parametrize("path", NOTEBOOK_SOURCES, ids=[p.stem for p in NOTEBOOK_SOURCES])
def test_no_notebook_imports_a_command(path):
    assert not _touches(imports_of(path), "bertlab.runs"), f"{path.name} imports bertlab.runs"


def test_every_argparse_command_lives_in_runs():
    for path in LIBRARY:
        text = path.read_text(encoding="utf-8")
        assert "argparse.ArgumentParser" not in text or path.name in {"workspace.py", "progress.py"}, \
            f"{path.relative_to(ROOT)} builds a command line: move it to bertlab/runs/"


@pytest.mark.parametrize("name", ["attention", "positional"])
def test_numpy_foundations_never_import_torch(name):
    assert not _touches(imports_of(PACKAGE / f"{name}.py"), "torch")


@pytest.mark.parametrize("name", ["model", "weights", "tokenizer", "pooling"])
def test_model_and_text_layers_never_import_training_views_or_checks(name):
    names = imports_of(PACKAGE / f"{name}.py")
    for upper in ("bertlab.training", "bertlab.finetuning", "bertlab.pretraining", "bertlab.viz", "bertlab.checks"):
        assert not _touches(names, upper), f"bertlab/{name}.py imports {upper}"


def test_nothing_in_the_library_imports_the_checks():
    for path in LIBRARY:
        if "checks" in path.relative_to(PACKAGE).parts or path.name in {"progress.py", "__init__.py"}:
            continue
        assert not _touches(imports_of(path), "bertlab.checks"), f"{path.relative_to(ROOT)} imports the checks"


def test_no_two_modules_share_an_idea_by_name():
    """No pretrain.py beside pretraining.py, anywhere in the package (commands in runs/ included): module and
    package names differ by more than an ending ("finetune" / "finetuning" / "finetuner" are one idea). A plural
    is a twin only inside one folder: `fusion/models.py` (the fusion models) may sit below `model.py` (BERT)."""

    def root(stem: str, plural: bool) -> str:
        for ending in ("_experiments", "ing", "er") + (("s",) if plural else ()) + ("e",):
            stem = stem.removesuffix(ending)
        return stem

    paths = [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts and not p.stem.startswith("_")]
    names = {p.relative_to(ROOT): p.stem for p in paths} | {
        d.relative_to(ROOT): d.name for d in PACKAGE.rglob("*") if (d / "__init__.py").is_file()}
    twins = [f"{a} / {b}" for a in names for b in names
             if str(a) < str(b) and names[a] != names[b]
             and root(names[a], a.parent == b.parent) == root(names[b], a.parent == b.parent)]
    assert folder_count() > 1 and len(names) > 20 and twins == [], twins


def folder_count() -> int:
    return len({p.parent for p in LIBRARY})
