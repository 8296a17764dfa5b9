"""`make lab`, as a newcomer runs it: the server starts, serves the course, and the URL is the last line.

The README's first command runs here for real (the Makefile's own recipe, in a copy of the course so the
repository's `workspace/` is left alone, with this checkout's set-up venv): as the current user — root in
CI and in Docker / cloud notebook machines, where JupyterLab refuses to start without `--allow-root` —
and, when the tests run as root, once more as an unprivileged user (uid 65534). No token is passed:
the test takes the URL from the last line printed, the way a newcomer copies it, and lists the course
through the server's /api/contents with it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import CHAPTERS, ROOT

# the venv running the tests (make test's .venv); BERTLAB_TEST_VENV names another set-up venv
VENV = Path(os.environ.get("BERTLAB_TEST_VENV", sys.prefix))
NOBODY = 65534
COPIED = ["Makefile", "requirements.txt", "pyproject.toml", "jupyter", "chapters", "bertlab"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _course_copy(tmp_path: Path) -> Path:
    """The files `make lab` reads, copied with their times (so the venv's set-up stamp stays valid)."""
    course = tmp_path / "course"
    course.mkdir()
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, course / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, course / name)
    return course


def _make_lab(course: Path, home: Path, user: int | None) -> tuple[list[str], dict, str]:
    """Run `make lab` until the server answers; return (lines printed, /api/contents, URL)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("`make` is not installed: `make lab` cannot be tested here")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "BERTLAB_STRICT"))}
    env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               PYTHONDONTWRITEBYTECODE="1")
    cmd = [make, "--no-print-directory", "-C", str(course), "lab", f"VENV={VENV}",
           f"LAB_ARGS=--no-browser --ServerApp.port={port} --ServerApp.port_retries=0"]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    # the stamp of this venv's set-up must be current, or `make lab` would start installing
    if subprocess.run([make, "-q", "-C", str(course), "setup", f"VENV={VENV}"], env=env).returncode != 0:
        pytest.fail(f"{VENV} is not set up for this checkout's requirements: run `make setup` first")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    url_re = re.compile(rf"http://127\.0\.0\.1:{port}/lab\?token=(\w+)")
    try:
        deadline = time.time() + 120
        while not any(url_re.search(ln) for ln in lines):
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail("`make lab` did not print the URL:\n" + "".join(lines)[-3000:])
            time.sleep(0.25)
        token = next(url_re.search(ln) for ln in lines if url_re.search(ln)).group(1)
        contents = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=30))
        time.sleep(1.0)  # anything printed after the URL (while the course was listed) would now be in `lines`
        return list(lines), contents, url_re.search("".join(lines)).group(0)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Stop make and the JupyterLab it started (their own process group)."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _unprivileged_cannot_run_the_venv() -> str | None:
    """Why the unprivileged case cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "the tests run as a regular user: the current-user case is the non-root one"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    probe = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "/bin/sh", "-c",
                            f"'{VENV}/bin/python' -c pass"], capture_output=True, text=True)
    if probe.returncode != 0:
        return (f"uid {NOBODY} cannot run {VENV}/bin/python, which resolves to {os.path.realpath(VENV / 'bin/python')} "
                f"({probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else 'exit ' + str(probe.returncode)})")
    return None


def _users() -> list:
    users = [pytest.param(None, id=f"current-user-uid{os.geteuid()}")]
    reason = _unprivileged_cannot_run_the_venv()
    users.append(pytest.param(NOBODY, id=f"unprivileged-uid{NOBODY}",
                              marks=[pytest.mark.skipif(reason is not None, reason=reason or "")]))
    return users


@pytest.fixture
def scratch():
    """A folder under /tmp (pytest's own is readable by its user only, and one case runs as another user)."""
    path = Path(tempfile.mkdtemp(prefix="bertlab-make-lab-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("user", _users())
def test_make_lab_serves_the_course_and_ends_with_the_url(scratch, user):
    course = _course_copy(scratch)
    home = scratch / "home"
    home.mkdir()
    if user is not None:
        for path in [scratch, *scratch.rglob("*")]:
            os.chown(path, user, user)
    lines, contents, url = _make_lab(course, home, user)
    listed = {item["name"] for item in contents["content"]}
    assert {p.name for p in CHAPTERS} <= listed, f"the server lists {sorted(listed)}"
    assert (course / "workspace" / CHAPTERS[0].name).is_file(), "make lab did not make the learner's workspace"
    printed = [ln.rstrip() for ln in lines if ln.strip()]
    assert url in printed[-1], "the URL to open is not the last line printed:\n" + "\n".join(printed[-8:])
    assert not any("Traceback" in ln for ln in printed), "\n".join(printed)
