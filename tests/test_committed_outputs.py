"""What a reader of a committed chapter sees (GitHub, the book, no kernel): no lint noise in code cells and
no progress bar frozen at 0 %."""

from __future__ import annotations

import re

import nbformat
import pytest

from tests.conftest import CHAPTERS
from tools.nbtools import clean_outputs

_FROZEN = re.compile(r"(^|\s)0%\|")


def _bar_notebook(value: float, total: float) -> nbformat.NotebookNode:
    """A notebook holding one tqdm.auto bar as execution stores it: a view output + the widget state."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("for _ in tqdm(range(200), desc='train'): pass")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        "text/plain": "train:   0%|          | 0/200 [00:00<?, ?it/s]",
        "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0, "model_id": "box"}})]
    nb.cells.append(cell)
    state = {
        "box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_pre", "IPY_MODEL_bar", "IPY_MODEL_post"]}},
        "pre": {"model_name": "HTMLModel", "state": {"value": "train:\u2007100%"}},
        "bar": {"model_name": "FloatProgressModel", "state": {"value": value, "max": total}},
        "post": {"model_name": "HTMLModel", "state": {"value": "\u2007200/200\u2007[00:41&lt;00:00,\u20074.9it/s]"}},
    }
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": state}}
    return nb


def test_a_progress_bar_is_committed_in_its_final_state_not_at_zero():
    nb = _bar_notebook(200, 200)
    clean_outputs(nb)
    text = nb.cells[0].outputs[0]["data"]["text/plain"]
    assert text == "train: 100%|██████████| 200/200 [00:41<00:00, 4.9it/s]"
    assert "widgets" not in nb.metadata  # the widget state itself is still never committed


def test_a_bar_stopped_early_shows_where_it_stopped():
    nb = _bar_notebook(50, 200)
    clean_outputs(nb)
    assert "|██        |" in nb.cells[0].outputs[0]["data"]["text/plain"]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_committed_chapter_has_no_lint_comments_and_no_frozen_progress_bars(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert "# noqa" not in cell.source, f"{path.name} cell {cell.id}: lint directive in a learner's code cell"
        for out in cell.get("outputs", []):
            texts = [out.get("text", "")] + [out.get("data", {}).get("text/plain", "")]
            for text in texts:
                text = "".join(text) if isinstance(text, list) else text
                assert not _FROZEN.search(text), f"{path.name} cell {cell.id}: a progress bar saved at 0 %: {text[:80]!r}"
