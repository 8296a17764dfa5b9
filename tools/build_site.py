"""Build the course as a static, offline HTML book: ``make site`` → ``site/index.html``.

The committed chapters are the content: nothing is executed, the outputs stored in
``chapters/NN_topic.ipynb`` are shown as they are. Each chapter becomes one page rendered by
nbconvert's JupyterLab template (so cells, outputs and the checks' ✅/❌ boxes look as they do in
JupyterLab), inside a small book frame (``tools/site/``): a table of contents in the sidebar, the
chapter's sections, previous/next links, a contents page and a glossary page (the bilingual
EN/中文 glossary extracted from chapter 00).

Offline by construction: formulas are typeset by MathJax 2.7.9 copied from the installed PyPI package
``jupyter-server-mathjax`` into ``site/_static/mathjax`` (never a CDN); nbconvert's own CDN scripts
(require.js, mermaid, the widget manager) are left out; figures are the PNGs embedded in the notebooks.
Views that draw only in a live kernel (bertviz, ipywidgets, tqdm bars) get a static stand-in that says so.

    python tools/build_site.py                 # all chapters → site/
    python tools/build_site.py --out /tmp/book chapters/01_attention_numpy.ipynb
"""

from __future__ import annotations

import argparse
import ast
import copy
import html
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "tools" / "site"
CHAPTERS = ROOT / "chapters"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
LIVE_NOTE = "it draws in a live kernel: run this chapter in JupyterLab (<code>make lab</code>)."
_TQDM = re.compile(r"^(?P<label>.*?):?\s*\d+%\|.*?\|\s*\d+/(?P<total>\d+)")
_H2 = re.compile(r'<h2 id="(?P<id>[^"]+)">(?P<text>.*?)<a class="anchor-link"', re.S)


@dataclass
class Chapter:
    """One chapter of the book: where it comes from and where its page goes."""

    path: Path
    number: str  # "01"
    stem: str  # "01_attention_numpy"
    title: str  # "01 · Attention in NumPy"
    short_title: str  # "Attention in NumPy"
    intro_md: str  # the opening cell's first paragraphs: what you will build

    @property
    def page(self) -> str:
        return f"{self.stem}.html"


def read_chapter(path: Path) -> Chapter:
    """Title and introduction of a chapter, from its first markdown cell ("# NN · Title")."""
    nb = nbformat.read(path, as_version=4)
    first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    lines = (first.source if first else "").splitlines()
    heading = next((ln for ln in lines if ln.startswith("# ")), f"# {path.stem}")
    title = heading[2:].strip()
    short = re.sub(r"^\d\d\s*[·.:-]\s*", "", title)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", "\n".join(ln for ln in lines if ln != heading)) if p.strip()]
    intro = []
    for p in paragraphs:  # what you will build: up to "You need", a list or a heading
        if p.startswith(("#", "- ", "* ", "**You need", "**How")):
            break
        intro.append(p)
    return Chapter(path, path.stem[:2], path.stem, title, short, "\n\n".join(intro))


# -- glossary ---------------------------------------------------------------------------------------
def extract_glossary(welcome: Path) -> list[tuple[str, str, str, str]]:
    """The ``glossary = [(english, 中文, chapters, meaning), …]`` list of chapter 00, read without running it."""
    nb = nbformat.read(welcome, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code" or "glossary" not in cell.source:
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "glossary" for t in node.targets):
                rows = ast.literal_eval(node.value)
                if not rows or any(len(r) != 4 for r in rows):
                    raise ValueError(f"{welcome.name}: glossary entries must be (english, 中文, chapters, meaning)")
                return [tuple(str(x) for x in r) for r in rows]
    raise ValueError(f"{welcome.name}: no `glossary = [...]` cell found")


# -- static stand-ins for live views ----------------------------------------------------------------
def _live_box(title: str, detail: str = "") -> dict:
    body = f'<div class="book-live"><b>{title}</b> — <span class="book-live-note">{LIVE_NOTE}</span>{detail}</div>'
    return nbformat.v4.new_output("display_data", data={"text/html": body, "text/plain": title})


def widget_fallback(text_plain: str) -> dict:
    """The static stand-in for an ipywidgets output, described from the widget's text form."""
    m = _TQDM.match(text_plain.strip())
    if m:
        label = html.escape(m.group("label").strip() or "progress")
        return _live_box(f"Progress bar “{label}” ({int(m.group('total')):,} steps)")
    controls = re.findall(r"(\w+)\((?:value=[^,]*, )?description='([^']*)'", text_plain)
    names = ", ".join(f"{html.escape(d)} ({html.escape(kind)})" for kind, d in controls if d)
    detail = f"<br>Controls: {names}. The static figure beside it shows the same idea." if names else ""
    return _live_box("Interactive widget", detail)


_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)(?:\\.|[^$\\])+?(?<!\\)\$", re.S)


def keep_math_whole(markdown: str) -> str:
    """Inline ``$…$`` formulas on one line, as JupyterLab sees them.

    JupyterLab takes the math out before it parses the markdown; nbconvert's parser does not, so a
    formula that wraps onto a line starting with ``+`` or ``-`` became a list item. TeX reads a
    newline as a space, so joining the formula's lines changes nothing else. Code is left alone.
    """
    parts = _CODE.split(markdown)
    for i in range(0, len(parts), 2):  # even parts are outside code
        parts[i] = _INLINE_MATH.sub(lambda m: re.sub(r"\s*\n\s*", " ", m.group(0)), parts[i])
    return "".join(parts)


def prepare(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` ready for the page: formulas kept whole, live views and widgets replaced by static stand-ins."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = keep_math_whole(cell.source)
        if cell.cell_type != "code":
            continue
        if "live-view" in cell.metadata.get("tags", []):
            kind = "Interactive attention view (bertviz)" if re.search(r"\b(head|model|neuron)_view\(", cell.source) \
                else "Interactive view"
            cell.outputs = [_live_box(kind, "<br>The static matplotlib view beside it shows the same attention.")]
            continue
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_MIME in data:
                outputs.append(widget_fallback(str(data.get("text/plain", ""))))
            else:
                outputs.append(out)
        cell.outputs = outputs
    return nb


# -- pages ------------------------------------------------------------------------------------------
def _markdown(text: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(text)


def _env():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=False)


def _book(chapters: list[Chapter], current: str, i: int | None = None) -> dict:
    return {
        "chapters": chapters, "current": current, "sections": [],
        "chapter": chapters[i] if i is not None else None,
        "prev": chapters[i - 1] if i is not None and i > 0 else None,
        "next": chapters[i + 1] if i is not None and i + 1 < len(chapters) else None,
    }


def _sections_html(page_html: str) -> str:
    items = [
        f'<li><a href="#{m.group("id")}">{re.sub(r"<[^>]+>", "", m.group("text")).strip()}</a></li>'
        for m in _H2.finditer(page_html)
    ]
    return f'<ul class="book-sections">{"".join(items)}</ul>' if items else ""


def render_chapter(chapters: list[Chapter], i: int) -> str:
    """The HTML page of ``chapters[i]``."""
    from nbconvert import HTMLExporter

    ch = chapters[i]
    exporter = HTMLExporter(template_name="lab", extra_template_paths=[str(TEMPLATES)],
                            template_file="book_chapter.html.j2")
    exporter.exclude_anchor_links = False
    nb = prepare(nbformat.read(ch.path, as_version=4))
    nb.metadata["title"] = f"{ch.title} — bertlab"
    body, _ = exporter.from_notebook_node(nb, resources={"book": _book(chapters, ch.page, i)})
    body = body.replace("<!--BOOK-SECTIONS-->", _sections_html(body), 1)
    # links between chapters point at their pages
    return re.sub(r'href="(?:\.\./chapters/|\./)?(\d\d_[\w-]+)\.ipynb(#[^"]*)?"', r'href="\1.html\2"', body)


def render_index(chapters: list[Chapter]) -> str:
    items = "".join(
        f'<li><h2><a href="{c.page}">{html.escape(c.title)}</a></h2>'
        f'<div class="book-summary">{_markdown(c.intro_md)}</div></li>'
        for c in chapters
    )
    body = (
        "<h1>bertlab — BERT and what came after it</h1>"
        "<p>The course as a book: every chapter with the outputs it was committed with. Nothing here runs; "
        "to run the code and do the exercises, use <code>make lab</code> (your notebooks live in "
        "<code>workspace/</code>, and <code>python -m bertlab.progress</code> shows which exercises you have "
        "solved). Formulas, figures and the checks' messages are shown as in JupyterLab; interactive views "
        "(attention views, sliders) draw only in a live kernel and have a static stand-in here.</p>"
        f'<ol class="book-chapters">{items}</ol>'
        '<p><a href="glossary.html">Glossary · 术语表</a>: the course\'s terms in English and Chinese.</p>'
    )
    return _env().get_template("book_page.html.j2").render(
        title="bertlab — contents", body=body, book=_book(chapters, "index"), current="index")


def render_glossary(chapters: list[Chapter], rows: list[tuple[str, str, str, str]]) -> str:
    pages = {c.number: c for c in chapters}

    def chapter_links(spec: str) -> str:
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        return ", ".join(
            f'<a href="{pages[p].page}" title="{html.escape(pages[p].title)}">{p}</a>' if p in pages else html.escape(p)
            for p in parts
        )

    def inline(text: str) -> str:  # `code` spans, as in the notebook's markdown
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))

    body_rows = "".join(
        f'<tr><td>{inline(en)}</td><td class="zh" lang="zh">{html.escape(zh)}</td>'
        f"<td>{chapter_links(ch)}</td><td>{inline(meaning)}</td></tr>"
        for en, zh, ch, meaning in rows
    )
    body = (
        "<h1>Glossary · 术语表</h1>"
        f"<p>The {len(rows)} terms the course uses, in English and Chinese, with the chapter that builds each "
        '(from <a href="00_welcome.html">chapter 00</a>).</p>'
        '<table class="book-glossary"><thead><tr><th>English</th><th>中文</th><th>chapter</th><th>meaning</th>'
        f"</tr></thead><tbody>{body_rows}</tbody></table>"
    )
    return _env().get_template("book_page.html.j2").render(
        title="Glossary · 术语表 — bertlab", body=body, book=_book(chapters, "glossary.html"),
        current="glossary.html")


# The book's own few style rules (no third-party front-end code is committed; JupyterLab's cell styles come from
# nbconvert's "lab" template, MathJax from the installed jupyter-server-mathjax package).
BOOK_CSS = """\
/* The book's own layout around JupyterLab's cell styles (those come from nbconvert's "lab" template). */
:root { --book-sidebar: 17rem; --book-accent: #1a73e8; --book-muted: #57606a; }
html, body.book-page { margin: 0; padding: 0; }
body.book-page {
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC", sans-serif;
  color: #1f2328; background: #fff; line-height: 1.5;
}
.book-sidebar {
  position: fixed; top: 0; bottom: 0; left: 0; width: var(--book-sidebar); overflow-y: auto;
  box-sizing: border-box; padding: 1.2rem 1rem; background: #f6f8fa; border-right: 1px solid #d0d7de;
  font-size: 0.92rem;
}
.book-home { font-weight: 700; font-size: 1.3rem; color: #1f2328; text-decoration: none; }
.book-subtitle { color: var(--book-muted); margin-bottom: 1rem; }
.book-toc, .book-sections { list-style: none; margin: 0; padding: 0; }
.book-toc > li { margin: 0.15rem 0; }
.book-toc a { display: block; padding: 0.2rem 0.4rem; border-radius: 4px; color: #1f2328; text-decoration: none; }
.book-toc a:hover { background: #eaeef2; }
.book-toc > li.book-current > a { background: #ddf4ff; font-weight: 600; }
.book-num { display: inline-block; min-width: 1.6rem; color: var(--book-muted); font-variant-numeric: tabular-nums; }
.book-sections { margin: 0.1rem 0 0.4rem 1.6rem; border-left: 2px solid #d0d7de; }
.book-sections a { font-size: 0.85rem; padding: 0.1rem 0.5rem; color: var(--book-muted); }
.book-main { margin-left: var(--book-sidebar); padding: 1rem 2.5rem 3rem; max-width: 62rem; box-sizing: border-box; }
body.book-chapter.jp-Notebook { overflow: visible; padding: 0; }
.book-prevnext { display: flex; justify-content: space-between; align-items: center; gap: 1rem;
  margin: 0.5rem 0 1rem; font-size: 0.95rem; }
.book-prevnext-bottom { margin-top: 2.5rem; padding-top: 1rem; border-top: 1px solid #d0d7de; }
.book-prevnext a { color: var(--book-accent); text-decoration: none; }
.book-prevnext a:hover { text-decoration: underline; }
.book-banner { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 0.5rem 0.8rem;
  font-size: 0.9rem; color: var(--book-muted); }
/* exercise cells, marked as in the notebooks by their `exercise:<name>` tag */
.jp-CodeCell[class*="celltag_exercise:"] { border-left: 4px solid #9a6700; padding-left: 4px; margin-top: 0.6rem; }
.jp-CodeCell[class*="celltag_exercise:"]::before {
  content: "✏️ Exercise — write your code here in the notebook"; display: block;
  font: 600 0.85rem system-ui, sans-serif; color: #9a6700; margin: 0 0 0.2rem 0.4rem;
}
/* static stand-ins for views that draw only in a live kernel (bertviz, ipywidgets, progress bars) */
.book-live { border: 1px dashed #8c959f; border-radius: 6px; padding: 0.5rem 0.8rem; background: #f6f8fa;
  font-family: system-ui, sans-serif; font-size: 0.9rem; color: #1f2328; }
.book-live .book-live-note { color: var(--book-muted); font-style: italic; }
.book-live pre { margin: 0.3rem 0 0; white-space: pre-wrap; }
.book-live code { white-space: nowrap; }
/* contents and glossary pages */
.book-chapters { list-style: none; padding: 0; }
.book-chapters > li { margin: 0 0 1.2rem; }
.book-chapters h2 { font-size: 1.15rem; margin: 0 0 0.2rem; }
.book-chapters h2 a { color: #1f2328; text-decoration: none; }
.book-chapters h2 a:hover { color: var(--book-accent); }
.book-chapters .book-summary { color: #333; font-size: 0.95rem; }
.book-chapters .book-summary p { margin: 0.2rem 0; }
table.book-glossary { border-collapse: collapse; width: 100%; font-size: 0.95rem; }
table.book-glossary th, table.book-glossary td { border-bottom: 1px solid #d0d7de; padding: 0.35rem 0.6rem;
  text-align: left; vertical-align: top; }
table.book-glossary th { background: #f6f8fa; }
table.book-glossary td.zh { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC",
  "Microsoft YaHei", sans-serif; white-space: nowrap; }
code { font-size: 0.9em; background: #f6f8fa; padding: 0.05em 0.3em; border-radius: 4px; }
@media (max-width: 800px) {
  .book-sidebar { position: static; width: auto; border-right: 0; border-bottom: 1px solid #d0d7de; }
  .book-main { margin-left: 0; padding: 1rem; }
}
"""


def copy_static(out: Path) -> None:
    """book.css (:data:`BOOK_CSS`) and MathJax (from the installed jupyter-server-mathjax package) into ``out/_static``."""
    import jupyter_server_mathjax

    static = out / "_static"
    static.mkdir(parents=True, exist_ok=True)
    (static / "book.css").write_text(BOOK_CSS)
    mathjax = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (mathjax / "MathJax.js").is_file():
        raise FileNotFoundError(f"MathJax not found in {mathjax}: run `make setup` (requirements.txt pins it)")
    shutil.rmtree(static / "mathjax", ignore_errors=True)
    shutil.copytree(mathjax, static / "mathjax")


def build(out: Path = ROOT / "site", sources: list[Path] | None = None) -> list[Path]:
    """Write the book to ``out`` (replacing what was there); return the pages written."""
    sources = sorted(sources or CHAPTERS.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no chapters found in {CHAPTERS}")
    chapters = [read_chapter(p) for p in sources]
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    copy_static(out)
    pages = []
    for i, ch in enumerate(chapters):
        pages.append(out / ch.page)
        pages[-1].write_text(render_chapter(chapters, i), encoding="utf-8")
    (out / "index.html").write_text(render_index(chapters), encoding="utf-8")
    pages.insert(0, out / "index.html")
    welcome = next((c.path for c in chapters if c.number == "00"), CHAPTERS / "00_welcome.ipynb")
    (out / "glossary.html").write_text(render_glossary(chapters, extract_glossary(welcome)), encoding="utf-8")
    pages.append(out / "glossary.html")
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", type=Path, help="notebooks to include (default: chapters/*.ipynb)")
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="output folder (default: site/)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    pages = build(args.out.resolve(), [p.resolve() for p in args.chapters] or None)
    print(f"site: {len(pages)} pages in {time.perf_counter() - t0:.1f} s → {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
