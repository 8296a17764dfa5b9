"""The course in JupyterLab in a real browser: Playwright driving Debian's headless Chromium, loopback only.

What this stage proves (nbval already executed every chapter and compared its outputs; nothing here
re-runs the whole course):

- every chapter **opens** in JupyterLab and its committed outputs render as a reader sees them: every
  committed figure is drawn, formulas are typeset by JupyterLab's MathJax, no error output;
- a chapter **runs** in JupyterLab ("Run All" in the browser, the way a learner does it), and what only
  a live kernel draws does draw: the ipywidgets controls (the first chapter that uses ipywidgets) and
  the bertviz views, offline, from d3/jQuery inlined by ``bertlab.viz`` (the first chapter with
  ``live-view`` cells);
- the page never asks for anything outside loopback (JupyterLab's "news" check is off through the
  course's ``jupyter/overrides.json``, the same settings ``make setup`` installs).

A screenshot per chapter goes to test-artifacts/screenshots/. Skipped with a reason when `chromium` is not
installed (CI installs it in .ci/run).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlparse

import nbformat
import pytest

from tests.browser_utils import chromium_path, launch
from tests.conftest import CHAPTERS, ROOT
from tools.nbtools import kernel_env

pytestmark = pytest.mark.browser
SHOTS = ROOT / "test-artifacts" / "screenshots"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

# ipywidgets controls the chapters use: sliders (temperature, positions, …) and text boxes (classify a sentence)
WIDGET_CONTROLS = ".jupyter-widgets.widget-slider, .jupyter-widgets .widget-slider, .jupyter-widgets.widget-text"


def _code(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _uses_widgets(nb) -> bool:
    return any("ipywidgets" in c.source for c in _code(nb))


def _live_views(nb) -> int:
    return sum("live-view" in c.metadata.get("tags", []) for c in _code(nb))


def _read(path):
    return nbformat.read(path, as_version=4)


# The chapters run in the browser: the first that uses ipywidgets and the first with bertviz live views.
RUN_IN_BROWSER = sorted({next((p for p in CHAPTERS if _uses_widgets(_read(p))), None),
                         next((p for p in CHAPTERS if _live_views(_read(p))), None)} - {None})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    chromium_path()  # skip early, with the reason, when there is no browser
    root = tmp_path_factory.mktemp("lab")
    notebooks = root / "workspace"
    notebooks.mkdir()
    for nb in CHAPTERS:
        shutil.copy(nb, notebooks / nb.name)
    settings = root / "settings"
    settings.mkdir()
    shutil.copy(ROOT / "jupyter" / "overrides.json", settings / "overrides.json")
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           "--LabApp.expose_app_in_browser=True", f"--LabApp.app_settings_dir={settings}",
           f"--ServerApp.root_dir={notebooks}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")  # as `make lab` does for root (containers)
    log = open(root / "jupyter.log", "w")
    env = kernel_env(strict=False)  # the offline guard in every kernel the server starts
    env["BERTLAB_NO_PROGRESS"] = "1"
    env["JUPYTER_CONFIG_DIR"] = str(root / "jupyter-config")  # ignore the user's own configuration
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=notebooks)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("JupyterLab did not start:\n" + (root / "jupyter.log").read_text()[-3000:])
            time.sleep(0.5)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        yield browser, base, token
        browser.close()
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _shutdown_kernels(base: str, token: str) -> None:
    sessions = json.load(urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=10))
    for session in sessions:
        request = urllib.request.Request(f"{base}/api/sessions/{session['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(request, timeout=10)


_KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}"""
_ALL_RUN = """(n) => {
  const w = window.jupyterapp.shell.currentWidget;
  const code = w.content.widgets.filter(c => c.model.type === 'code');
  return code.length === n && code.every(c => c.model.executionCount !== null);
}"""
_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
_RENDERED = """([panel, images, math]) => {
  const p = document.querySelector(panel);
  if (!p) return false;
  const drawn = [...p.querySelectorAll('.jp-OutputArea-output img')].filter(i => i.complete && i.naturalWidth > 0);
  return drawn.length >= images && p.querySelectorAll('mjx-container').length >= math;
}"""


def _open(browser, base: str, token: str, chapter, workspace: str):
    """A page with ``chapter`` open in a JupyterLab workspace of its own, and the non-loopback requests it made."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if urlparse(r.url).scheme in {"http", "https", "ws", "wss"}
            and urlparse(r.url).hostname not in LOOPBACK else None)
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    # a workspace of its own (reset), so JupyterLab does not restore another test's tabs
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{chapter.name}?reset&token={token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    return page, outside, page_errors


@pytest.fixture(scope="module")
def reader(lab):
    """One JupyterLab page for reading: chapters are opened in it one after another (the app loads once)."""
    browser, base, token = lab
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if urlparse(r.url).scheme in {"http", "https", "ws", "wss"}
            and urlparse(r.url).hostname not in LOOPBACK else None)
    page.goto(f"{base}/lab/workspaces/read?reset&token={token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand('docmanager:open')",
                           timeout=60_000)
    page.evaluate("async () => { await window.jupyterapp.restored; return true; }")
    yield page, outside
    page.close()


_OPENED = """(name) => {
  const w = window.jupyterapp.shell.currentWidget;
  return !!w && !!w.context && w.context.path === name && !!w.node.querySelector('.jp-Cell');
}"""

_CLOSE = """() => {
  for (const w of [...window.jupyterapp.shell.widgets('main')]) {
    if (w.context) w.context.model.dirty = false;
    w.dispose();
  }
  return true;
}"""


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_opens_in_jupyterlab_with_its_committed_outputs_drawn(lab, reader, chapter):
    _, base, token = lab
    page, outside = reader
    outside.clear()
    nb = _read(chapter)
    images = sum(bool(o.get("data", {}).get("image/png")) for c in _code(nb) for o in c.get("outputs", []))
    has_math = any("$" in c.source for c in nb.cells if c.cell_type == "markdown")
    page.evaluate("async (name) => { await window.jupyterapp.commands.execute('docmanager:open', {path: name}); "
                  "return true; }", chapter.name)
    page.wait_for_function(_OPENED, arg=chapter.name, timeout=60_000)
    try:
        page.wait_for_function(_RENDERED, arg=[_PANEL, images, int(has_math)], timeout=60_000, polling=250)
    except Exception:
        pass  # the asserts below say what is missing
    panel = page.locator(_PANEL)
    drawn = page.evaluate("""(panel) => [...document.querySelector(panel).querySelectorAll('.jp-OutputArea-output img')]
                               .filter(i => i.complete && i.naturalWidth > 0).length""", _PANEL)
    math = panel.locator("mjx-container").count()
    math_errors = panel.locator("mjx-merror, .MathJax_Error").count()
    errors = panel.locator("[data-mime-type='application/vnd.jupyter.error']").count()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"open-{chapter.stem}.png"))
    page.evaluate(_CLOSE)  # the kernel's metadata marks the notebook changed: close without asking to save
    page.wait_for_function("() => !document.querySelector('.jp-NotebookPanel')", timeout=30_000)
    _shutdown_kernels(base, token)
    print(f"\n{chapter.name}: {drawn}/{images} committed figures drawn, {math} formulas typeset")
    assert drawn == images, f"{drawn} of the {images} committed figures drew"
    if has_math:
        assert math > 0, "the formulas in the markdown cells were not typeset"
    assert not math_errors, f"{math_errors} formulas failed to typeset"
    assert not errors, "a committed output is an error"
    assert not outside, f"the page asked for something outside loopback: {outside[:3]}"


@pytest.mark.parametrize("chapter", RUN_IN_BROWSER, ids=[p.stem for p in RUN_IN_BROWSER])
def test_chapter_runs_in_jupyterlab_and_its_live_views_draw(lab, chapter):
    browser, base, token = lab
    nb = _read(chapter)
    n_code = len(_code(nb))
    uses_widgets, live_views = _uses_widgets(nb), _live_views(nb)
    t0 = time.time()
    page, outside, page_errors = _open(browser, base, token, chapter, f"r{chapter.stem[:2]}")
    page.wait_for_function(_KERNEL_IDLE, timeout=60_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(_ALL_RUN, arg=n_code, timeout=240_000, polling=500)
    page.wait_for_function(_KERNEL_IDLE, timeout=60_000)
    page.wait_for_timeout(1500)  # let widgets and bertviz finish drawing
    seconds = time.time() - t0
    panel = page.locator(_PANEL)
    errors = panel.locator("[data-mime-type='application/vnd.jupyter.error']")
    error_text = errors.all_inner_texts()[:2] if errors.count() else []
    images = panel.locator(".jp-OutputArea-output img").count()
    widgets = panel.locator(WIDGET_CONTROLS).count()
    svg_drawn = panel.locator(".jp-OutputArea-output svg line, .jp-OutputArea-output svg rect").count()
    SHOTS.mkdir(parents=True, exist_ok=True)
    if live_views:
        panel.locator(".jp-OutputArea-output svg").first.scroll_into_view_if_needed()
    elif uses_widgets:
        panel.locator(WIDGET_CONTROLS).first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"run-{chapter.stem}.png"))
    page.close()
    _shutdown_kernels(base, token)
    print(f"\n{chapter.name}: ran {n_code} cells in {seconds:.0f} s in the browser; {images} images, "
          f"{widgets} widget controls, {svg_drawn} bertviz SVG marks")
    assert not error_text, error_text
    assert images > 0, "no figure rendered"
    if uses_widgets:
        assert widgets > 0, "the ipywidgets controls did not render"
    if live_views:
        assert svg_drawn > 10, "the bertviz views did not draw"
    assert not [e for e in page_errors if "bertviz" in e or "require" in e], page_errors
    assert not outside, f"the page asked for something outside loopback: {outside[:3]}"


def test_the_browser_stage_covers_widgets_and_live_views():
    """The chapters chosen to run in the browser include ipywidgets and bertviz (else the stage proves less)."""
    chosen = [_read(p) for p in RUN_IN_BROWSER]
    assert any(_uses_widgets(nb) for nb in chosen), "no chapter uses ipywidgets: the widget property is untested"
    assert any(_live_views(nb) for nb in chosen), "no chapter has live-view cells: the bertviz property is untested"
