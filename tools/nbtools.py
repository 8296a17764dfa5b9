"""Notebook tooling: build chapters from their sources, execute, and inject solutions.

Chapter notebooks are written as plain Python files in ``tools/notebooks/NN_topic.py`` (easy to
review and diff) and built into ``chapters/NN_topic.ipynb`` with executed outputs kept::

    python tools/nbtools.py build tools/notebooks/01_attention_numpy.py      # build + execute
    python tools/nbtools.py build --all                                        # every chapter

Source format (a subset of the "percent" format)::

    # %% [markdown]
    # Text lines start with "# ".
    # %%
    x = 1                      # a code cell
    # %% tags=["exercise:softmax"]
    def softmax(x, axis=-1):   # an exercise cell: replaced by solutions/ in the solved run
        raise NotImplementedError

Cells tagged ``live-view`` (bertviz and other JavaScript views) keep no outputs and no execution
count in the committed notebook: they only draw in a live kernel, and nbval then does not compare them.
Widget state is never saved.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "tools" / "notebooks"
CHAPTERS = ROOT / "chapters"
_CELL = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def parse_source(text: str) -> nbformat.NotebookNode:
    """Turn a percent-format source into an (unexecuted) notebook."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    cells: list[tuple[bool, list[str], list[str]]] = []
    for line in text.splitlines():
        m = _CELL.match(line)
        if m:
            tags = json.loads(m.group("tags")) if m.group("tags") else []
            cells.append((bool(m.group("md")), tags, []))
        elif cells:
            cells[-1][2].append(line)
        elif line.strip():
            raise ValueError(f"text before the first '# %%' marker: {line!r}")
    for is_md, tags, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if is_md:
            body = "\n".join(ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in lines)
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):  # stable ids keep diffs small
        cell.id = f"c{i:03d}"
    return nb


def kernel_env(strict: bool = False) -> dict[str, str]:
    """Environment for executing chapters: offline guard in the kernel, fixed threads, optional strict checks."""
    env = dict(os.environ)
    ipdir = Path(tempfile.mkdtemp(prefix="bertlab-ipython-"))
    atexit.register(shutil.rmtree, ipdir, True)  # removed when this process exits
    startup = ipdir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-bertlab-offline.py").write_text("import bertlab._offline as _o\n_o.install()\ndel _o\n")
    env["IPYTHONDIR"] = str(ipdir)
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env["PYTHONHASHSEED"] = "0"
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    if strict:
        env["BERTLAB_STRICT_CHECKS"] = "1"
    else:
        env.pop("BERTLAB_STRICT_CHECKS", None)
    return env


def execute(nb: nbformat.NotebookNode, strict: bool = False, timeout: int = 600) -> float:
    """Execute ``nb`` in place in ``chapters/`` and return the wall time in seconds."""
    from nbclient import NotebookClient

    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(kernel_env(strict))  # the kernel inherits this process's environment
    try:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(CHAPTERS)}}
        )
        t0 = time.perf_counter()
        client.execute()
        return time.perf_counter() - t0
    finally:
        os.environ.clear()
        os.environ.update(old)


def _progress_bar_texts(nb: nbformat.NotebookNode) -> dict[str, str]:
    """The final state of every tqdm widget bar, as text ("train: 100%|██████████| 200/200 [00:41<00:00]").

    A tqdm.auto bar is an ipywidgets HBox(prefix HTML, FloatProgress, suffix HTML); the text/plain its
    output carries was captured when it was first displayed (0 %). Read its last state from the widget
    state that execution stored, so a reader of the committed notebook sees where the bar ended.
    """
    import html

    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    texts = {}
    for model_id, model in state.items():
        children = model.get("state", {}).get("children", [])
        if model.get("model_name") != "HBoxModel" or len(children) != 3:
            continue
        parts = [state.get(c.removeprefix("IPY_MODEL_"), {}) for c in children]
        if [p.get("model_name") for p in parts] != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
            continue
        value, total = parts[1]["state"].get("value", 0), parts[1]["state"].get("max", 0) or 1
        filled = max(0, min(10, int(10 * value / total)))
        prefix, suffix = (html.unescape(p["state"].get("value", "")).replace("\u2007", " ") for p in (parts[0], parts[2]))
        texts[model_id] = f"{prefix}|{'█' * filled}{' ' * (10 - filled)}|{suffix}"
    return texts


def clean_outputs(nb: nbformat.NotebookNode) -> None:
    """Drop what must not be committed: live-view outputs, widget state, volatile metadata.

    Progress bars keep a text copy of their final state (see ``_progress_bar_texts``).
    """
    bars = _progress_bar_texts(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if "live-view" in cell.metadata.get("tags", []):
            cell.outputs = []
            cell.execution_count = None
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            data.pop("application/vnd.jupyter.widget-state+json", None)
            view = data.get("application/vnd.jupyter.widget-view+json", {})
            if view.get("model_id") in bars:
                data["text/plain"] = bars[view["model_id"]]


def inject_solutions(nb: nbformat.NotebookNode) -> list[str]:
    """Replace every ``exercise:NAME`` cell's source with the stored solution; return the names."""
    sys.path.insert(0, str(ROOT))
    from bertlab._solutions import solution_source

    done = []
    for cell in nb.cells:
        for tag in cell.metadata.get("tags", []):
            if tag.startswith("exercise:"):
                name = tag.split(":", 1)[1]
                cell.source = solution_source(name)
                done.append(name)
    return done


def build(source: Path, run: bool = True) -> Path:
    """Build ``chapters/<name>.ipynb`` from ``source`` (executing it unless ``run`` is False)."""
    nb = parse_source(source.read_text(encoding="utf-8"))
    target = CHAPTERS / (source.stem + ".ipynb")
    if run:
        seconds = execute(nb)
        print(f"{target.name}: executed in {seconds:.1f} s")
    clean_outputs(nb)
    nbformat.validate(nb)
    target.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    size = target.stat().st_size
    print(f"{target.name}: {size / 1024:.0f} kB written")
    return target


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "build":
        print(__doc__)
        return 2
    run = "--no-run" not in argv
    args = [a for a in argv[1:] if not a.startswith("--")]
    sources = sorted(SOURCES.glob("[0-9][0-9]_*.py")) if "--all" in argv else [Path(a) for a in args]
    for src in sources:
        build(src.resolve(), run=run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
