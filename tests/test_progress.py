"""The learner's progress: every exercise by chapter (✅ / ❌ reason / ✏️), recorded only in a workspace.

Unit tests run checks in this process with the working folder set to a temporary workspace; the last
test drives checks in real Jupyter kernels (a chapter executed by nbclient, a kernel restart) and reads
the table the way a learner would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import numpy as np
import pytest

import bertlab
from bertlab import checks as check
from bertlab import progress as P
from bertlab import workspace as W
from tests.conftest import CHAPTERS, ROOT


def good_cosine(u, v):
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def plain_dot(u, v):  # the slip chapter 00 demonstrates: no division by the lengths
    return float(u @ v)


@pytest.fixture
def ws(tmp_path):
    """A learner's workspace made the way `make lab` makes it."""
    path = tmp_path / "workspace"
    W.sync(ROOT / "chapters", path)
    return path


@pytest.fixture
def learner(ws, monkeypatch):
    """This process behaves like a learner's kernel in ``ws``: recording on."""
    monkeypatch.chdir(ws)
    monkeypatch.delenv("BERTLAB_NO_PROGRESS", raising=False)
    monkeypatch.delenv("BERTLAB_STRICT_CHECKS", raising=False)
    return ws


def saved(ws) -> dict:
    return json.loads((ws / P.RECORD).read_text())["results"]


def test_catalogue_lists_every_registered_check_once_in_its_chapter():
    cat = P.catalogue()
    names = [n for ch in cat for n in ch.exercises]
    assert len(names) == len(set(names)), "an exercise is listed twice"
    where = {n: ch.number for ch in cat for n in ch.exercises}
    for name, fn in check.REGISTRY.items():  # the source scan agrees with the imported registry
        assert name in where, f"check {name} missing from the progress table"
        assert fn.__module__.split(".")[-1][2:4] == where[name], name
    tagged = {t[9:] for p in CHAPTERS for c in nbformat.read(p, as_version=4).cells
              for t in c.metadata.get("tags", []) if t.startswith("exercise:")}
    assert tagged <= set(names)


def test_fresh_workspace_shows_every_exercise_not_attempted(ws):
    out = subprocess.run([sys.executable, "-m", "bertlab.progress", "--workspace", str(ws)],
                         capture_output=True, text=True, timeout=60, cwd=ROOT, check=True)
    n = sum(len(ch.exercises) for ch in P.catalogue())
    assert out.stdout.count("✏️") == n and "✅" not in out.stdout and "❌" not in out.stdout
    assert f"0 of {n} exercises passed" in out.stdout
    assert out.stderr == "", out.stderr  # no RuntimeWarning from `-m` on a package-level name
    assert not (ws / P.RECORD).exists(), "reading the table must not create a record"


def test_a_check_in_the_workspace_records_its_latest_result(learner):
    assert check.cosine_similarity(good_cosine).passed
    assert saved(learner)["cosine_similarity"]["status"] == "passed"
    failed = check.cosine_similarity(plain_dot)
    entry = saved(learner)["cosine_similarity"]
    assert entry["status"] == "failed" and entry["reason"] == failed.message.splitlines()[0].strip()
    line = str(bertlab.progress("00"))
    assert "❌ cosine_similarity" in line and entry["reason"][:40] in line and "0/1 passed, 1 failed" in line
    check.cosine_similarity(good_cosine)  # the latest result wins
    assert bertlab.progress().status("cosine_similarity") == "passed"


def test_not_attempted_stays_a_pencil_and_other_exercises_are_untouched(learner):
    def stub(u, v):
        raise NotImplementedError

    check.cosine_similarity(stub)
    table = bertlab.progress()
    assert table.status("cosine_similarity") == "not attempted"
    assert table.counts()["passed"] == table.counts()["failed"] == 0


def test_demonstrations_inside_checks_demo_are_not_recorded(learner):
    check.cosine_similarity(good_cosine)
    with check.demo():
        check.cosine_similarity(plain_dot)  # chapter 00 shows this failure on purpose
    assert saved(learner)["cosine_similarity"]["status"] == "passed"


@pytest.mark.parametrize("setting", ["BERTLAB_NO_PROGRESS", "BERTLAB_STRICT_CHECKS", "outside a workspace",
                                     "in chapters/"])
def test_nothing_is_recorded_under_test_settings_or_outside_a_workspace(learner, tmp_path, monkeypatch, setting):
    if setting.startswith("BERTLAB"):
        monkeypatch.setenv(setting, "1")
    elif setting == "outside a workspace":
        monkeypatch.chdir(tmp_path)  # tmp_path holds the workspace but is not one itself
    else:
        monkeypatch.chdir(ROOT / "chapters")
    before = sorted(p.name for p in tmp_path.rglob(".bertlab-progress*"))
    assert check.cosine_similarity(good_cosine).passed
    assert sorted(p.name for p in tmp_path.rglob(".bertlab-progress*")) == before == []
    assert not (ROOT / "chapters" / P.RECORD).exists()


def test_the_committed_course_never_holds_a_record_or_a_result():
    assert P.find_workspace(ROOT / "chapters") is None, "chapters/ must never count as a workspace"
    ignored = subprocess.run(["git", "check-ignore", "-q", "workspace/.bertlab-progress.json"], cwd=ROOT)
    assert ignored.returncode == 0, "the record file must be git-ignored"
    assert not list(ROOT.glob("chapters/**/.bertlab-progress*"))
    for path in CHAPTERS:  # a progress cell in a committed chapter shows nobody's results
        for cell in nbformat.read(path, as_version=4).cells:
            for out in cell.get("outputs", []):
                text = json.dumps(out.get("data", {}), ensure_ascii=False)
                if "bertlab-progress" in text or "Your progress" in text:
                    assert " 0 of " in text or "0/" in text, f"{path.name}: a committed progress output has results"
                    assert "✅ <code>" not in text and "❌ <code>" not in text, path.name


@pytest.mark.parametrize("content", [b"\x00\xff not json", b"{", b"[]", b'{"results": 3}',
                                     b'{"results": {"softmax": "yes", "cosine_similarity": {"status": "passed"}}}'])
def test_a_corrupt_record_is_rebuilt_never_an_error(learner, content):
    (learner / P.RECORD).write_bytes(content)
    table = bertlab.progress()  # reading never raises
    assert "damaged" in table.note and "damaged" in str(table) and "damaged" in table._repr_html_()
    rebuilt = saved(learner)  # rewritten as a valid record, keeping what could be read
    assert "softmax" not in rebuilt
    keeps_cosine = b"cosine_similarity" in content
    assert ("cosine_similarity" in rebuilt) == keeps_cosine
    assert check.cosine_similarity(plain_dot).status == "failed"
    assert saved(learner)["cosine_similarity"]["status"] == "failed"
    assert bertlab.progress().note == ""


def test_a_missing_record_is_nothing_attempted(learner):
    assert bertlab.progress().counts()["passed"] == 0
    check.cosine_similarity(good_cosine)
    (learner / P.RECORD).unlink()
    assert bertlab.progress().status("cosine_similarity") == "not attempted"
    check.cosine_similarity(good_cosine)
    assert saved(learner)["cosine_similarity"]["status"] == "passed"


def test_one_chapter_line_and_a_clear_error_for_an_unknown_chapter(learner):
    line = bertlab.progress("01")
    assert line.title.startswith("01") and [r.name for r in line.rows][0] == "softmax"
    assert str(bertlab.progress(1)) == str(line)
    assert "Your progress in 01" in line._repr_html_()
    with pytest.raises(ValueError, match="chapters with exercises are 00, 01"):
        bertlab.progress("42")


def test_html_escapes_names_and_reasons(learner):
    (learner / P.RECORD).write_text(json.dumps({"results": {"softmax": {
        "status": "failed", "reason": "<script>x</script> got 1 < 2"}}}))
    html = bertlab.progress()._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


# -- in real kernels, as a learner runs them ---------------------------------------------------------------
def _learner_env():
    from tools.nbtools import kernel_env

    env = kernel_env(strict=False)
    env.pop("BERTLAB_NO_PROGRESS", None)
    return env


def _run(kc, code: str) -> str:
    out: list[str] = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("ERROR " + "\n".join(msg["content"]["traceback"]))

    reply = kc.execute_interactive(code, output_hook=hook, timeout=120)
    text = "".join(out)
    assert reply["content"]["status"] == "ok", text
    return text


@pytest.mark.slow
def test_checks_in_a_real_kernel_fill_the_table_and_survive_a_restart(ws, monkeypatch):
    from jupyter_client import KernelManager
    from nbclient import NotebookClient

    from tools.nbtools import inject_solutions

    env = _learner_env()
    for key, value in env.items():  # nbclient's kernel inherits this process's environment
        if os.environ.get(key) != value:
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("BERTLAB_NO_PROGRESS", raising=False)
    # 1. the learner solves chapter 00 in the workspace; its deliberate demo failures must not count
    nb = nbformat.read(ws / "00_welcome.ipynb", as_version=4)
    assert inject_solutions(nb) == ["cosine_similarity"]
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ws)}}).execute()
    assert saved(ws)["cosine_similarity"]["status"] == "passed"
    # 2. in another kernel: a wrong softmax, then a restart, then the table
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(ws), env=env)
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        _run(kc, "import numpy as np\nfrom bertlab import checks as check\n"
                 "check.softmax(lambda x, axis=-1: np.exp(x) / np.exp(x).sum(axis, keepdims=True))")
        kc.stop_channels()
        km.restart_kernel(now=True)
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        text = _run(kc, "import bertlab\nprint(bertlab.progress())\nprint(bertlab.progress('01'))")
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)
    assert "✅ cosine_similarity" in text
    assert "❌ softmax — softmax([[1000, 1001, 1002]]) contains NaN or inf" in text
    assert "01 · Attention in NumPy — 0/5 passed, 1 failed" in text
    # the terminal command reads the same record
    cli = subprocess.run([sys.executable, "-m", "bertlab.progress", "--workspace", str(ws)], capture_output=True,
                         text=True, timeout=60, cwd=ROOT, check=True).stdout
    assert "1 of" in cli and "❌ softmax" in cli and "✅ cosine_similarity" in cli
