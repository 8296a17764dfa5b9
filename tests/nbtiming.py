"""pytest plugin for the nbval stage: print each notebook's execution time, fail over budget.

Loaded with ``-p tests.nbtiming``. The budget (COURSE.md) is 120 s per notebook on 2 cores.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

BUDGET_S = float(os.environ.get("BERTLAB_NOTEBOOK_BUDGET_S", "120"))
_times: dict[str, float] = defaultdict(float)


def pytest_configure(config):
    from tools.nbtools import kernel_env

    os.environ.update(kernel_env(strict=False))  # offline guard in every kernel nbval starts


def pytest_runtest_logreport(report):
    path = str(report.nodeid).split("::")[0]
    if path.endswith(".ipynb"):
        _times[path] += report.duration  # setup (kernel start) + call of every cell


def pytest_terminal_summary(terminalreporter):
    if not _times:
        return
    tr = terminalreporter
    tr.section(f"notebook execution times (budget {BUDGET_S:.0f} s each)")
    for path, t in sorted(_times.items()):
        flag = "  OVER BUDGET" if t > BUDGET_S else ""
        tr.write_line(f"{t:7.1f} s  {Path(path).name}{flag}")
    tr.write_line(f"{sum(_times.values()):7.1f} s  whole course (budget 600 s)")


def pytest_sessionfinish(session, exitstatus):
    over = [p for p, t in _times.items() if t > BUDGET_S]
    if over and session.exitstatus == 0:
        session.exitstatus = 1
