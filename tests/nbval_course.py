"""pytest plugin for the notebook stage of `make test`: each chapter executes once and proves three things.

Loaded next to nbval: ``pytest --nbval chapters -p tests.nbval_course``. For every chapter, in one kernel:

1. **As committed (nbval, strict).** Every code cell runs in a fresh kernel and its output must equal the
   committed output (made earlier, in another process, by ``tools/nbtools.py build``). That is the
   determinism property too: a second run prints the same numbers, in every cell not declared
   machine-dependent with ``# NBVAL_IGNORE_OUTPUT`` (nbval coalesces stream outputs before comparing, so
   a print split across two stream messages is not a difference).
2. **Solved (after the last cell, same kernel).** With ``BERTLAB_STRICT_CHECKS=1`` each ``exercise:NAME``
   cell is replayed with its stored solution (``solutions/NN_topic.py``) followed by the chapter's own check
   cell, in notebook order; cells tagged ``uses-exercises`` (which assemble the learner's pieces, e.g.
   chapter 04's encoder built from your layers) are replayed in their place. A failing or unattempted
   check raises; each replayed check must show ✅. Later cells never depend on the learner's answer
   (COURSE.md: they continue with the package's reference), so replaying the exercise, its check and
   the cells that *do* use the learner's pieces is the whole solved course without a second execution.
3. **Budget.** Each chapter's time (kernel start + every cell) is printed, with the replay beside it;
   a chapter whose run + replay (an upper bound of its solved run) exceeds the budget fails the session.

Every kernel gets the offline guard (``tools.nbtools.kernel_env``: an IPython start-up file that makes
any non-loopback connection raise), and each chapter's last item proves it is active in that chapter's
kernel; kernels never record learner progress. ``--no-solved`` skips part 2.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from nbval.plugin import IPyNbCell

BUDGET_S = float(os.environ.get("BERTLAB_NOTEBOOK_BUDGET_S", "120"))
_run_s: dict[str, float] = defaultdict(float)
_solved_s: dict[str, float] = defaultdict(float)
_GUARD_PROBE = """\
import socket
try:
    socket.getaddrinfo("pypi.org", 443)
except Exception as e:
    assert type(e).__name__ == "NetworkBlocked", f"not the offline guard: {e!r}"
else:
    raise AssertionError("the offline guard is not active in this kernel: a name lookup went out")
"""
_STRICT_ON = '__import__("os").environ["BERTLAB_STRICT_CHECKS"] = "1"  # solved replay: every check must pass\n'


def pytest_addoption(parser):
    parser.addoption("--no-solved", action="store_true", help="bertlab: skip the solved replay after each chapter")


def pytest_configure(config):
    import bertlab._offline
    from tools.nbtools import kernel_env

    bertlab._offline.install()  # this test process too: any non-loopback connection raises
    env = kernel_env(strict=False)  # offline guard in every kernel nbval starts (IPYTHONDIR start-up file)
    env["BERTLAB_NO_PROGRESS"] = "1"  # checks run by the tests never record a learner's progress
    os.environ.update(env)
    os.environ.pop("BERTLAB_STRICT_CHECKS", None)  # the committed run is the learner's view: not strict


def _solved_items(nbfile) -> list:
    """The replay items of one chapter: (solution + check) per exercise and every uses-exercises cell."""
    from nbformat import NotebookNode

    from bertlab._solutions import solution_source

    items, first = [], True
    code = [c for c in nbfile.nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        tags = cell.metadata.get("tags", [])
        exercises = [t.split(":", 1)[1] for t in tags if t.startswith("exercise:")]
        if exercises:
            name = exercises[0]
            check_cell = code[i + 1].source if i + 1 < len(code) else ""
            if f"check.{name}(" in check_cell:
                source = solution_source(name) + "\n\n# -- the chapter's check cell --\n" + check_cell
            else:  # the contract (AUTHORING.md) is broken: say so as this item's failure
                source = f"raise AssertionError('the code cell after exercise:{name} is not its check cell')"
            label = f"solved {name}"
        elif "uses-exercises" in tags:
            source, label = cell.source, f"solved uses-exercises cell {i}"
        else:
            continue
        if first:
            source, first = _STRICT_ON + source, False
        replay = NotebookNode(cell_type="code", source=source, execution_count=None, outputs=[], metadata={})
        items.append(SolvedCell.from_parent(nbfile, name=label, cell_num=i, cell=replay,
                                            options=defaultdict(bool, check=False), expects_pass=bool(exercises)))
    return items


def _guard_item(nbfile):
    from nbformat import NotebookNode

    probe = NotebookNode(cell_type="code", source=_GUARD_PROBE, execution_count=None, outputs=[], metadata={})
    return SolvedCell.from_parent(nbfile, name="offline guard active in this kernel", cell_num=-1, cell=probe,
                                  options=defaultdict(bool, check=False))


def pytest_collection_modifyitems(session, config, items):
    if not (config.option.nbval or config.option.nbval_lax):
        return
    out = []
    for i, item in enumerate(items):
        out.append(item)
        nxt = items[i + 1] if i + 1 < len(items) else None
        if isinstance(item, IPyNbCell) and (nxt is None or nxt.parent is not item.parent):
            if not config.getoption("no_solved"):
                out.extend(_solved_items(item.parent))
            out.append(_guard_item(item.parent))
    items[:] = out


class SolvedCell(IPyNbCell):
    """A cell run after the chapter in its kernel (nbval's executor, outputs not compared).

    An exercise's replay must also show ✅ (a check that returned without raising but did not pass)."""

    def __init__(self, *args, expects_pass: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.expects_pass = expects_pass

    def runtest(self):
        super().runtest()  # any exception in the kernel (a strict check that failed) fails here
        shown = " ".join(str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", ""))
                         for o in self.test_outputs or [])
        if self.expects_pass and "✅" not in shown:
            self.raise_cell_error("the check did not show ✅ for the stored solution", shown[-2000:])

    def reportinfo(self):
        return self.path, 0, f"{self.path.name}::{self.name}"


def pytest_runtest_logreport(report):
    path = str(report.nodeid).split("::")[0]
    if path.endswith(".ipynb"):
        target = _solved_s if "::solved " in report.nodeid else _run_s
        target[path] += report.duration  # setup (kernel start) + call of every cell


def pytest_terminal_summary(terminalreporter):
    if not _run_s:
        return
    tr = terminalreporter
    tr.section(f"notebook times: run as committed + solved replay (budget {BUDGET_S:.0f} s each)")
    for path in sorted(_run_s):
        run, solved = _run_s[path], _solved_s.get(path, 0.0)
        flag = "  OVER BUDGET" if run + solved > BUDGET_S else ""
        tr.write_line(f"{run:7.1f} s + {solved:5.1f} s  {Path(path).name}{flag}")
    total = sum(_run_s.values()) + sum(_solved_s.values())
    tr.write_line(f"{sum(_run_s.values()):7.1f} s + {sum(_solved_s.values()):5.1f} s  whole course ({total:.0f} s)")


def pytest_sessionfinish(session, exitstatus):
    over = [p for p in _run_s if _run_s[p] + _solved_s.get(p, 0.0) > BUDGET_S]
    if over and session.exitstatus == 0:
        session.exitstatus = 1
