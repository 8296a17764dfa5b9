"""Where each exercise stands: ✅ passed, ❌ failed (with the check's one-line reason), ✏️ not attempted.

In a notebook::

    bertlab.progress()          # every exercise of the course, by chapter (a table; plain text without HTML)
    bertlab.progress("04")      # chapter 04's line

In a terminal: ``python -m bertlab.progress`` (or ``python -m bertlab.progress 04``).

**What is recorded, and where.** Each check you run remembers its latest result in your workspace, in
``workspace/.bertlab-progress.json`` (``workspace/`` is git-ignored: the record stays on your machine, and
it survives kernel restarts). A check records only when

- it runs in a notebook opened from a workspace — a folder made by ``python -m bertlab.workspace``
  (``make lab``), recognised by its ``.bertlab-manifest.json``; the committed chapters in ``chapters/``
  are never a workspace, so building or testing them records and reads nothing;
- neither ``BERTLAB_NO_PROGRESS`` nor ``BERTLAB_STRICT_CHECKS`` is set (the test suite sets them);
- it is not a deliberate demonstration inside ``with checks.demo():``.

A missing record means "nothing attempted yet"; a damaged one is rebuilt (what can be read is kept),
never an error. Which exercises exist comes from the chapters' ``exercise:<name>`` cell tags and from
the checks themselves (``bertlab/checks/chNN_*.py``), so a new exercise appears without any list to edit.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import html
import json
import os
import re
import sys
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .workspace import MANIFEST  # written by bertlab.workspace.sync: it marks a learner's workspace

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
CHECKS = Path(__file__).resolve().parent / "checks"
RECORD = ".bertlab-progress.json"
PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"  # as in bertlab.checks._core
ICON = {PASSED: "✅", FAILED: "❌", NOT_ATTEMPTED: "✏️"}
COLOUR = {PASSED: "#1a7f37", FAILED: "#cf222e", NOT_ATTEMPTED: "#9a6700"}  # the checks' own colours
_REASON_MAX = 110
_CHECK_DECORATOR = re.compile(r"""@exercise\(\s*["']([^"']+)["']""")


# -- when and where to record -----------------------------------------------------------------------
def _env_on(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in {"", "0", "false", "no"}


def recording_enabled() -> bool:
    """False under the test suite: when ``BERTLAB_NO_PROGRESS`` or ``BERTLAB_STRICT_CHECKS`` is set."""
    return not (_env_on("BERTLAB_NO_PROGRESS") or _env_on("BERTLAB_STRICT_CHECKS"))


def find_workspace(start: Path | None = None) -> Path | None:
    """The workspace containing ``start`` (default: the current folder, i.e. the notebook's), or None."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MANIFEST).is_file():
            return folder
    return None


def _one_line(text: str) -> str:
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    return line if len(line) <= _REASON_MAX else line[: _REASON_MAX - 1] + "…"


def load_record(workspace: Path) -> tuple[dict[str, dict[str, str]], bool]:
    """``({exercise: {"status", "reason", "time"}}, damaged)`` from the workspace's record file.

    A missing file is an empty record; an unreadable file or malformed entries are dropped and
    ``damaged`` is True (the caller rebuilds the file). Never raises.
    """
    path = Path(workspace) / RECORD
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, False
    except (OSError, UnicodeDecodeError):
        return {}, True
    try:
        data = json.loads(raw)
    except ValueError:
        return {}, True
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict):
        return {}, True
    clean: dict[str, dict[str, str]] = {}
    for name, entry in results.items():
        if isinstance(entry, dict) and entry.get("status") in ICON:
            clean[str(name)] = {"status": entry["status"], "reason": str(entry.get("reason", "")),
                                "time": str(entry.get("time", ""))}
    return clean, len(clean) != len(results)


def _write_record(workspace: Path, results: dict[str, dict[str, str]]) -> Path:
    path = Path(workspace) / RECORD
    text = json.dumps({"version": 1, "results": dict(sorted(results.items()))}, indent=1, ensure_ascii=False)
    fd, tmp = tempfile.mkstemp(prefix=".bertlab-progress.", suffix=".tmp", dir=workspace)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.replace(tmp, path)  # atomic: a reader never sees half a file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def record(result: Any, workspace: Path | None = None) -> Path | None:
    """Remember ``result`` (a CheckResult) as its exercise's latest result; return the file, or None.

    Called by every check (``bertlab.checks._core``). Does nothing when recording is off or the
    notebook is not in a workspace; a damaged record file is rebuilt; file-system errors are ignored.
    """
    if not recording_enabled():
        return None
    workspace = workspace or find_workspace()
    if workspace is None:
        return None
    results, _ = load_record(workspace)
    results[str(result.name)] = {
        "status": result.status if result.status in ICON else FAILED,
        "reason": "" if result.status == PASSED else _one_line(result.message),
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        return _write_record(workspace, results)
    except OSError:
        return None


# -- which exercises exist --------------------------------------------------------------------------
@dataclass
class ChapterExercises:
    """A chapter's number, title and exercises in the order the notebook asks for them."""

    number: str
    title: str
    exercises: list[str] = field(default_factory=list)


def _notebook_exercises(path: Path) -> tuple[str, list[str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    title, names = path.stem, []
    for cell in nb.get("cells", []):
        source = "".join(cell.get("source", []))
        if cell.get("cell_type") == "markdown" and title == path.stem:
            heading = next((ln[2:].strip() for ln in source.splitlines() if ln.startswith("# ")), None)
            title = heading or title
        for tag in cell.get("metadata", {}).get("tags", []):
            if tag.startswith("exercise:") and tag[9:] not in names:
                names.append(tag[9:])
    return title, names


def catalogue(chapters: Path = CHAPTERS, checks: Path = CHECKS) -> list[ChapterExercises]:
    """Every exercise by chapter: the notebooks' ``exercise:<name>`` tags, then any check not tagged yet.

    The checks are read from their source (``@exercise("name")`` in ``checks/chNN_*.py``) so that this
    is quick and needs no import of torch; a test proves it equals ``bertlab.checks.REGISTRY``.
    """
    found: dict[str, ChapterExercises] = {}
    seen: set[str] = set()
    for path in sorted(Path(chapters).glob("[0-9][0-9]_*.ipynb")):
        try:
            title, names = _notebook_exercises(path)
        except (OSError, ValueError):
            continue
        entry = found.setdefault(path.stem[:2], ChapterExercises(path.stem[:2], title))
        entry.exercises += [n for n in names if n not in seen]
        seen.update(names)
    for path in sorted(Path(checks).glob("ch[0-9][0-9]_*.py")):
        number = path.stem[2:4]
        for name in _CHECK_DECORATOR.findall(path.read_text(encoding="utf-8")):
            if name not in seen:
                topic = path.stem[5:].replace("_", " ")
                found.setdefault(number, ChapterExercises(number, f"{number} · {topic}")).exercises.append(name)
                seen.add(name)
    return [found[k] for k in sorted(found)]


# -- the table ----------------------------------------------------------------------------------------
@dataclass
class Row:
    name: str
    status: str
    reason: str = ""


@dataclass
class ChapterLine:
    """One chapter's exercises and where each stands (``bertlab.progress("04")``)."""

    number: str
    title: str
    rows: list[Row]

    @property
    def passed(self) -> int:
        return sum(r.status == PASSED for r in self.rows)

    def summary(self) -> str:
        if not self.rows:
            return "no exercises"
        failed = sum(r.status == FAILED for r in self.rows)
        return f"{self.passed}/{len(self.rows)} passed" + (f", {failed} failed" if failed else "")

    def __str__(self) -> str:
        items = "   ".join(f"{ICON[r.status]} {r.name}" + (f" — {r.reason}" if r.reason else "") for r in self.rows)
        return f"{self.title} — {self.summary()}" + (f":  {items}" if items else "")

    __repr__ = __str__

    def _repr_html_(self) -> str:
        items = " · ".join(_html_item(r) for r in self.rows) or "no exercises in this chapter"
        return (f'<div class="bertlab-progress" style="border-left:4px solid #8c959f;padding:4px 10px;'
                f'font-family:sans-serif"><b>Your progress in {html.escape(self.title)}: {self.summary()}</b>'
                f"<br>{items}</div>")


def _html_item(r: Row) -> str:
    reason = f' <span style="color:{COLOUR[FAILED]}">— {html.escape(r.reason)}</span>' if r.reason else ""
    return f"{ICON[r.status]} <code>{html.escape(r.name)}</code>{reason}"


@dataclass
class Progress:
    """Every exercise by chapter with its latest result (``bertlab.progress()``)."""

    chapters: list[ChapterLine]
    workspace: Path | None
    note: str = ""

    def rows(self) -> list[Row]:
        return [r for ch in self.chapters for r in ch.rows]

    def names(self) -> list[str]:
        return [r.name for r in self.rows()]

    def status(self, name: str) -> str:
        """The status of exercise ``name`` ("passed", "failed" or "not attempted")."""
        for r in self.rows():
            if r.name == name:
                return r.status
        raise KeyError(f"no exercise named {name!r}; exercises are: {', '.join(self.names())}")

    def counts(self) -> dict[str, int]:
        rows = self.rows()
        return {s: sum(r.status == s for r in rows) for s in (PASSED, FAILED, NOT_ATTEMPTED)}

    def headline(self) -> str:
        c = self.counts()
        return (f"{c[PASSED]} of {len(self.rows())} exercises passed · {c[FAILED]} failed · "
                f"{c[NOT_ATTEMPTED]} not attempted yet")

    def __str__(self) -> str:
        where = f"workspace: {self.workspace}" if self.workspace else "not in a workspace"
        lines = [f"Your progress — {self.headline()}  ({where})"]
        if self.note:
            lines.append(self.note)
        for ch in self.chapters:
            lines.append(f"{ch.title}  ({ch.summary()})")
            lines.append("   " + "   ".join(f"{ICON[r.status]} {r.name}" for r in ch.rows))
            lines += [f"      ❌ {r.name} — {r.reason}" for r in ch.rows if r.reason]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = f"<b>Your progress</b> — {html.escape(self.headline())}"
        note = f"<br><i>{html.escape(self.note)}</i>" if self.note else ""
        body = []
        for ch in self.chapters:
            items = " &ensp; ".join(f'<span style="white-space:nowrap">{ICON[r.status]} <code>{html.escape(r.name)}'
                                    "</code></span>" for r in ch.rows)
            reasons = "".join(f'<div style="color:{COLOUR[FAILED]}">❌ <code>{html.escape(r.name)}</code> — '
                              f"{html.escape(r.reason)}</div>" for r in ch.rows if r.reason)
            body.append(f'<tr><td style="text-align:left;vertical-align:top"><b>{html.escape(ch.title)}</b><br>'
                        f'<span style="color:#57606a">{ch.summary()}</span></td>'
                        f'<td style="text-align:left;vertical-align:top">{items}{reasons}</td></tr>')
        return (f'<div class="bertlab-progress" style="border-left:4px solid #8c959f;padding:4px 10px;'
                f'font-family:sans-serif">{head}{note}<table style="border-collapse:collapse;margin-top:4px">'
                f"{''.join(body)}</table></div>")

    def chapter(self, number: str) -> ChapterLine:
        """One chapter's line; ``number`` like "04" (or 4)."""
        key = f"{int(number):02d}" if str(number).strip().isdigit() else str(number)
        for ch in self.chapters:
            if ch.number == key:
                return ch
        known = ", ".join(ch.number for ch in self.chapters)
        raise ValueError(f"no chapter {number!r}; chapters with exercises are {known}")


_NOT_IN_WORKSPACE = ("Made outside a workspace, so no results are shown: run the chapters from workspace/ "
                     "(`make lab`); each check you run there is remembered and appears when you run this again.")


def progress(chapter: str | int | None = None, workspace: Path | str | None = None) -> Progress | ChapterLine:
    """The learner's progress (every chapter), or one chapter's line when ``chapter`` is given.

    ``workspace`` defaults to the workspace the current notebook is in; outside a workspace every
    exercise shows ✏️ (nothing is read, so the committed chapters never show anyone's results).
    """
    ws = find_workspace(Path(workspace)) if workspace is not None else find_workspace()
    table = _table(ws)
    return table.chapter(chapter) if chapter is not None else table


def _table(ws: Path | None) -> Progress:
    results: dict[str, dict[str, str]] = {}
    note = "" if ws is not None else _NOT_IN_WORKSPACE
    if ws is not None:
        results, damaged = load_record(ws)
        if damaged:
            note = f"The record {RECORD} was damaged; it has been rebuilt from what could be read."
            if recording_enabled():
                try:
                    _write_record(ws, results)
                except OSError:
                    pass
    lines = []
    for ch in catalogue():
        rows = []
        for name in ch.exercises:
            entry = results.get(name, {})
            status = entry.get("status", NOT_ATTEMPTED)
            rows.append(Row(name, status, entry.get("reason", "") if status == FAILED else ""))
        lines.append(ChapterLine(ch.number, ch.title, rows))
    return Progress(lines, ws, note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Show which exercises you have solved (✅), failed (❌) or "
                                                 "not attempted (✏️).")
    parser.add_argument("chapter", nargs="?", help="one chapter, e.g. 04 (default: all)")
    parser.add_argument("--workspace", type=Path, help="the workspace folder (default: the one you are in, "
                                                       "else the course's workspace/)")
    args = parser.parse_args(argv)
    ws = find_workspace(args.workspace or find_workspace() or ROOT / "workspace")
    if ws is None:
        print(f"No workspace at {args.workspace or ROOT / 'workspace'} yet (`make lab` makes it).")
    table = _table(ws)
    try:
        print(table.chapter(args.chapter) if args.chapter else table)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    return 0


class _CallableModule(types.ModuleType):
    """Lets ``bertlab.progress()`` and ``bertlab.progress("04")`` call :func:`progress` on this module."""

    def __call__(self, chapter: str | int | None = None, workspace: Path | str | None = None):
        return progress(chapter, workspace)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    sys.exit(main())
