"""The offline book in a real browser: every page of `make site` opened from file:// in headless Chromium.

The whole book is built from the committed chapters (timed: ≤ 3 min on 2 cores), then each page is
opened with every request intercepted: anything that is not file://, data:, about: or loopback is
blocked and fails the test. On each page MathJax must finish typesetting with no error and its web
fonts loaded (from site/_static), and every figure must have decoded. Screenshots of the contents page
and of a chapter go to test-artifacts/screenshots/. Skipped with a reason when `chromium` is not installed.
"""

from __future__ import annotations

import time
from urllib.parse import urlparse

import nbformat
import pytest

from tests.browser_utils import chromium_path, launch
from tests.conftest import ROOT
from tools import build_site

pytestmark = pytest.mark.browser
SHOTS = ROOT / "test-artifacts" / "screenshots"
BUILD_BUDGET_S = 180
LOCAL_SCHEMES = {"file", "data", "about", "blob"}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

_STATE = r"""() => ({
  typeset: document.documentElement.getAttribute('data-math-typeset') === 'done',
  math: document.querySelectorAll('.MathJax, .MathJax_Display').length,
  mathErrors: document.querySelectorAll('.MathJax_Error, merror, .merror').length
              + [...document.querySelectorAll('.MathJax')].filter(e => /\\[a-zA-Z]/.test(e.textContent)).length,
  rawTex: [...document.querySelectorAll('.jp-RenderedMarkdown, .book-summary')]
          .filter(e => /\$\$|\\(frac|sqrt|text|top)\b/.test(e.innerText)).map(e => e.innerText.slice(0, 80)),
  stixFonts: [...document.fonts].filter(f => f.family.startsWith('STIXMathJax') && f.status === 'loaded').length,
  images: document.images.length,
  brokenImages: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 60)),
  title: document.title,
})"""


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    chromium_path()  # skip early, with the reason, when there is no browser
    out = tmp_path_factory.mktemp("site")
    t0 = time.perf_counter()
    pages = build_site.build(out)
    seconds = time.perf_counter() - t0
    print(f"\nsite: {len(pages)} pages built in {seconds:.1f} s")
    assert seconds <= BUILD_BUDGET_S, f"make site took {seconds:.0f} s (budget {BUILD_BUDGET_S} s)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        yield browser, out, pages
        browser.close()


def _is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in LOCAL_SCHEMES or (parsed.scheme in {"http", "https", "ws", "wss"}
                                              and parsed.hostname in LOOPBACK)


def _expected(page_name: str) -> tuple[int, bool]:
    """(figures, has formulas) of the notebook behind a chapter page; (0, True) for the contents page."""
    source = ROOT / "chapters" / page_name.replace(".html", ".ipynb")
    if not source.exists():
        return 0, page_name == "index.html"
    nb = nbformat.read(source, as_version=4)
    pngs = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    return pngs, any("$" in c.source for c in nb.cells if c.cell_type == "markdown")


def test_every_page_opens_offline_with_formulas_typeset_and_figures_drawn(book):
    browser, out, pages = book
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []
    requested: list[str] = []

    def guard(route):
        url = route.request.url
        requested.append(url)
        if _is_local(url):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", guard)
    context.on("request", lambda r: None if _is_local(r.url) else blocked.append(r.url))
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    SHOTS.mkdir(parents=True, exist_ok=True)
    report = []
    for path in pages:
        page.goto(path.as_uri())
        page.wait_for_function("document.documentElement.getAttribute('data-math-typeset') === 'done'",
                               timeout=60_000)
        state = page.evaluate(_STATE)
        figures, has_math = _expected(path.name)
        report.append(f"{path.name}: {state['math']} formulas, {state['images']} figures")
        assert not state["brokenImages"], f"{path.name}: images did not load: {state['brokenImages']}"
        assert state["images"] == figures, f"{path.name}: {state['images']} images, expected {figures}"
        if has_math:
            assert state["math"] > 0, f"{path.name}: no formula was typeset"
            assert state["stixFonts"] > 0, f"{path.name}: MathJax's web fonts did not load from _static"
        assert state["mathErrors"] == 0, f"{path.name}: MathJax reported errors"
        assert not state["rawTex"], f"{path.name}: TeX left untypeset: {state['rawTex'][:2]}"
        if path.name in {"index.html", "01_attention_numpy.html"}:
            page.screenshot(path=str(SHOTS / f"site-{path.stem}.png"))
    page.goto((out / "glossary.html").as_uri())
    assert page.locator("table.book-glossary tbody tr").count() >= 15
    context.close()
    print("\n" + "\n".join(report))
    assert requested, "the request guard saw nothing: it is not in place"
    assert not blocked, f"requests left file:// and loopback: {sorted(set(blocked))[:5]}"
    assert not page_errors, page_errors[:3]


def test_chapter_navigation_works_by_clicking(book):
    browser, out, pages = book
    chapters = [p for p in pages if p.name[:2].isdigit()]
    page = browser.new_page()
    page.goto((out / "index.html").as_uri())
    page.click(f"main a[href='{chapters[0].name}']")
    for nxt in chapters[1:]:
        page.click("nav.book-prevnext-bottom a[rel='next']")
        page.wait_for_load_state()
        assert page.url.endswith(nxt.name)
    assert page.locator("nav.book-prevnext-bottom a[rel='next']").count() == 0
    page.click("nav.book-sidebar a[href='glossary.html']")
    assert page.url.endswith("glossary.html")
    page.close()
