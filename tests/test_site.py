"""The offline book (`make site`): structure, navigation, glossary, static stand-ins, no network references.

Built here from a few committed chapters into a temporary folder (the browser stage,
tests/test_site_browser.py, builds every chapter and opens every page in Chromium).
"""

from __future__ import annotations

import ast
import functools
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from tests.conftest import ROOT
from tools import build_site as S

SAMPLE = ["00_welcome", "01_attention_numpy", "04_encoder_pytorch", "06_finetuning"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    sources = [ROOT / "chapters" / f"{s}.ipynb" for s in SAMPLE if (ROOT / "chapters" / f"{s}.ipynb").exists()]
    S.build(out, sources)
    return out, sources


class _Refs(HTMLParser):
    """Every URL the page would load (scripts, styles, images, frames) and every link."""

    def __init__(self):
        super().__init__()
        self.loads: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.rel: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag in {"script", "img", "iframe", "source", "audio", "video", "embed"} and a.get("src"):
            self.loads.append(a["src"])
        if tag == "link" and a.get("href"):
            self.loads.append(a["href"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
            if a.get("rel"):
                self.rel.setdefault(a["rel"], a["href"])


@functools.cache
def _refs(page: Path) -> _Refs:
    p = _Refs()
    p.feed(page.read_text(encoding="utf-8"))
    return p


def test_every_page_loads_only_local_files(site):
    out, _ = site
    pages = sorted(out.glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "glossary.html"}
    for page in pages:
        refs = _refs(page)
        for url in refs.loads:
            assert not re.match(r"^[a-z][a-z0-9+.-]*:", url) or url.startswith("data:"), f"{page.name} loads {url}"
            if not url.startswith("data:"):
                assert (out / url.split("?")[0]).is_file(), f"{page.name}: {url} is not in the site"
        text = page.read_text(encoding="utf-8")
        assert "cdnjs" not in text and "unpkg.com" not in text and "require.min.js" not in text, page.name


def test_links_between_pages_resolve(site):
    out, _ = site
    for page in out.glob("*.html"):
        refs = _refs(page)
        for href in refs.links:
            if href.startswith(("http://", "https://", "mailto:")):
                continue  # links a reader may follow (papers, docs), never loaded by the page
            target, _, anchor = href.partition("#")
            doc = out / target if target else page
            assert doc.is_file(), f"{page.name}: broken link {href}"
            if anchor:
                assert anchor in _refs(doc).ids, f"{page.name}: no #{anchor} in {doc.name}"


def test_contents_and_chapter_navigation(site):
    out, sources = site
    index = (out / "index.html").read_text(encoding="utf-8")
    pages = [f"{p.stem}.html" for p in sources]
    for page in pages:
        assert f'href="{page}"' in index
    for i, page in enumerate(pages):
        text = (out / page).read_text(encoding="utf-8")
        assert all(f'href="{p}"' in text for p in pages), f"{page}: the sidebar lists every chapter"
        rel = _refs(out / page).rel
        assert rel.get("prev") == (pages[i - 1] if i > 0 else None), page
        assert rel.get("next") == (pages[i + 1] if i + 1 < len(pages) else None), page
        headings = [ln for c in nbformat.read(sources[i], as_version=4).cells if c.cell_type == "markdown"
                    for ln in c.source.splitlines() if ln.startswith("## ")]
        sections = re.search(r'<ul class="book-sections">(.*?)</ul>', text, re.S)
        assert sections and len(re.findall("<li>", sections.group(1))) == len(headings), page


def test_glossary_page_is_the_bilingual_glossary_of_chapter_00(site):
    out, _ = site
    cell = next(c for c in nbformat.read(ROOT / "chapters" / "00_welcome.ipynb", as_version=4).cells
                if c.cell_type == "code" and "glossary = [" in c.source)
    expected = ast.literal_eval(cell.source.split("glossary = ", 1)[1].split("\n]\n", 1)[0] + "\n]")
    rows = S.extract_glossary(ROOT / "chapters" / "00_welcome.ipynb")
    assert [tuple(r) for r in expected] == rows and len(rows) >= 15
    page = (out / "glossary.html").read_text(encoding="utf-8")
    assert page.count("<tr>") == len(rows) + 1  # header + one row per term
    for en, zh, _, _ in rows:
        assert zh in page and re.sub(r"`([^`]+)`", r"<code>\1</code>", en).replace("&", "&amp;") in page
    assert re.search(r'<a href="01_attention_numpy.html"[^>]*>01</a>', page), "chapter numbers link to chapters"


def test_check_messages_keep_their_jupyterlab_styles(site):
    out, _ = site
    nb = nbformat.read(ROOT / "chapters" / "00_welcome.ipynb", as_version=4)
    boxes = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             if "border-left:4px solid" in o.get("data", {}).get("text/html", "")]
    assert boxes, "chapter 00 shows check results"
    page = (out / "00_welcome.html").read_text(encoding="utf-8")
    shown = BeautifulSoup(page, "html.parser")
    for box in boxes:  # the same element, inline styles and text as in JupyterLab
        div = BeautifulSoup(box, "html.parser").div
        same = [d for d in shown.find_all("div", style=div["style"]) if d.get_text() == div.get_text()]
        assert same, f"a check's message did not reach the page unchanged: {div.get_text()[:80]}"
    assert "#cf222e" in page and "❌" in page  # the deliberate failure chapter 00 demonstrates


def test_figures_and_formulas_are_on_the_pages(site):
    out, sources = site
    for src in sources:
        nb = nbformat.read(src, as_version=4)
        pngs = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
        page = (out / f"{src.stem}.html").read_text(encoding="utf-8")
        assert page.count('src="data:image/png;base64,') == pngs, src.name
        if any("$" in c.source for c in nb.cells if c.cell_type == "markdown"):
            assert "_static/mathjax/MathJax.js" in page and "$" in page, src.name
    assert (out / "_static" / "mathjax" / "MathJax.js").is_file()


def test_live_views_and_widgets_get_a_static_stand_in_that_says_so(site):
    out, sources = site
    for src in sources:
        nb = nbformat.read(src, as_version=4)
        live = sum("live-view" in c.metadata.get("tags", []) for c in nb.cells)
        widgets = sum(S.WIDGET_MIME in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])
                      if "live-view" not in c.metadata.get("tags", []))
        page = (out / f"{src.stem}.html").read_text(encoding="utf-8")
        assert page.count('class="book-live"') == live + widgets, src.name
        assert page.count("it draws in a live kernel") == live + widgets, src.name
        assert S.WIDGET_MIME not in page, src.name
    ch04 = (out / "04_encoder_pytorch.html").read_text(encoding="utf-8")
    assert "Interactive attention view (bertviz)" in ch04


def test_widget_stand_ins_name_the_controls_and_progress_bars():
    bar = S.widget_fallback("fine-tuning:   0%|          | 0/160 [00:00<?, ?it/s]")["data"]["text/html"]
    assert "“fine-tuning” (160 steps)" in bar and "live kernel" in bar
    slider = S.widget_fallback("interactive(children=(IntSlider(value=10, description='pos', max=199), "
                               "IntSlider(value=4, description='dim', max=63), Output()))")["data"]["text/html"]
    assert "pos (IntSlider), dim (IntSlider)" in slider
