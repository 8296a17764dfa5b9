"""Every chapter in a real browser: JupyterLab on loopback, driven by Playwright with Debian's Chromium.

For each chapter: open it, run all cells, wait until every code cell has run, then assert there is no
error output, images drew, widgets rendered (chapters that use ipywidgets) and bertviz views drew their
SVG (chapters with live views). A screenshot per chapter goes to test-artifacts/screenshots/. The
course's JupyterLab settings (jupyter/overrides.json) turn off the "news" pop-up, which would reach
for the network. Skipped with a reason when `chromium` is not installed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from tests.browser_utils import chromium_path, launch
from tests.conftest import CHAPTERS, ROOT
from tools.nbtools import kernel_env

pytestmark = pytest.mark.browser
SHOTS = ROOT / "test-artifacts" / "screenshots"


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
        cmd.append("--allow-root")
    log = open(root / "jupyter.log", "w")
    env = kernel_env(strict=False)
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
    import json

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


# ipywidgets controls the chapters use: sliders (temperature, positions, …) and text boxes (classify a sentence)
WIDGET_CONTROLS = ".jupyter-widgets.widget-slider, .jupyter-widgets .widget-slider, .jupyter-widgets.widget-text"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_in_jupyterlab_and_draws(lab, chapter):
    browser, base, token = lab
    nb = nbformat.read(chapter, as_version=4)
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    uses_widgets = any("ipywidgets" in c.source for c in nb.cells if c.cell_type == "code")
    live_views = sum("live-view" in c.metadata.get("tags", []) for c in nb.cells)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    t0 = time.time()
    # a workspace of its own (reset) per chapter, so JupyterLab does not restore the previous chapter's tabs
    page.goto(f"{base}/lab/workspaces/t{chapter.stem[:2]}/tree/{chapter.name}?reset&token={token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    page.wait_for_function(_KERNEL_IDLE, timeout=60_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(_ALL_RUN, arg=n_code, timeout=240_000, polling=500)
    page.wait_for_function(_KERNEL_IDLE, timeout=60_000)
    page.wait_for_timeout(1500)  # let widgets and bertviz finish drawing
    seconds = time.time() - t0
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    errors = panel.locator("[data-mime-type='application/vnd.jupyter.error']")
    error_text = errors.all_inner_texts()[:2] if errors.count() else []
    images = panel.locator(".jp-OutputArea-output img").count()
    expects_images = any(o.get("data", {}).get("image/png") for c in nb.cells if c.cell_type == "code"
                         for o in c.get("outputs", []))
    widgets = panel.locator(WIDGET_CONTROLS).count()
    svg_drawn = panel.locator(".jp-OutputArea-output svg line, .jp-OutputArea-output svg rect").count()
    SHOTS.mkdir(parents=True, exist_ok=True)
    if live_views:
        panel.locator(".jp-OutputArea-output svg").first.scroll_into_view_if_needed()
    elif uses_widgets:
        panel.locator(WIDGET_CONTROLS).first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"{chapter.stem}.png"))
    page.close()
    _shutdown_kernels(base, token)
    print(f"\n{chapter.name}: ran {n_code} cells in {seconds:.0f} s in the browser; {images} images, "
          f"{widgets} widget controls, {svg_drawn} bertviz SVG marks")
    assert not error_text, error_text
    if expects_images:
        assert images > 0, "no figure rendered"
    if uses_widgets:
        assert widgets > 0, "the ipywidgets controls did not render"
    if live_views:
        assert svg_drawn > 10, "the bertviz views did not draw"
    assert not [e for e in page_errors if "bertviz" in e or "require" in e], page_errors
