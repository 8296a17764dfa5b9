"""The learner's workspace: edits survive course updates byte for byte; new and untouched chapters update."""

from __future__ import annotations

import json
import shutil

import pytest

from bertlab import workspace as W
from tests.conftest import ROOT


@pytest.fixture
def course(tmp_path):
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    for name in ("00_welcome.ipynb", "01_attention_numpy.ipynb"):
        shutil.copy(ROOT / "chapters" / name, chapters / name)
    return chapters, tmp_path / "workspace"


def test_first_run_copies_every_chapter(course):
    chapters, ws = course
    report = W.sync(chapters, ws)
    assert report["added"] == ["00_welcome.ipynb", "01_attention_numpy.ipynb"]
    assert (ws / "01_attention_numpy.ipynb").read_bytes() == (chapters / "01_attention_numpy.ipynb").read_bytes()


def test_learner_edit_survives_a_course_update_byte_for_byte(course):
    chapters, ws = course
    W.sync(chapters, ws)
    mine = ws / "01_attention_numpy.ipynb"
    nb = json.loads(mine.read_text())
    nb["cells"][0]["source"] = "my notes, my solution"
    mine.write_text(json.dumps(nb))
    before = mine.read_bytes()
    # the course updates chapter 01 and adds chapter 02
    upd = json.loads((chapters / "01_attention_numpy.ipynb").read_text())
    upd["cells"][0]["source"] += "\nA course correction."
    (chapters / "01_attention_numpy.ipynb").write_text(json.dumps(upd))
    shutil.copy(ROOT / "chapters" / "02_positional_encoding.ipynb", chapters)
    report = W.sync(chapters, ws)
    assert mine.read_bytes() == before
    assert report["kept"] == ["01_attention_numpy.ipynb"] and report["added"] == ["02_positional_encoding.ipynb"]
    # and it is still kept on the next run
    assert W.sync(chapters, ws)["kept"] == ["01_attention_numpy.ipynb"] and mine.read_bytes() == before


def test_untouched_notebook_is_updated_silently(course):
    chapters, ws = course
    W.sync(chapters, ws)
    upd = json.loads((chapters / "00_welcome.ipynb").read_text())
    upd["cells"][0]["source"] += "\nNew text."
    (chapters / "00_welcome.ipynb").write_text(json.dumps(upd))
    assert W.sync(chapters, ws)["updated"] == ["00_welcome.ipynb"]
    assert (ws / "00_welcome.ipynb").read_bytes() == (chapters / "00_welcome.ipynb").read_bytes()


def test_fresh_copy_goes_next_to_the_learners_notebook(course, capsys):
    chapters, ws = course
    W.sync(chapters, ws)
    path = W.fresh_copy("01", chapters, ws)
    assert path.name == "01_attention_numpy.fresh.ipynb" and path.read_bytes() == (chapters / path.name.replace(
        ".fresh", "")).read_bytes()
    with pytest.raises(ValueError, match="no single chapter"):
        W.fresh_copy("99", chapters, ws)


def test_notebook_of_unknown_origin_is_never_overwritten(course):
    chapters, ws = course
    ws.mkdir()
    (ws / "00_welcome.ipynb").write_text("{}")  # there before any manifest
    assert W.sync(chapters, ws)["kept"] == ["00_welcome.ipynb"]
    assert (ws / "00_welcome.ipynb").read_text() == "{}"


def test_renumbered_chapter_keeps_the_learners_edits_under_its_new_number(tmp_path):
    """QA joined as chapter 07: a learner's edited 07_multimodal_fusion becomes 08_multimodal_fusion, byte for byte,
    and the new 07 arrives beside it."""
    chapters, ws = tmp_path / "chapters", tmp_path / "workspace"
    chapters.mkdir()
    ws.mkdir()
    for name in ("07_question_answering.ipynb", "08_multimodal_fusion.ipynb", "09_after_bert.ipynb"):
        (chapters / name).write_text(json.dumps({"cells": [], "name": name}))
    # the learner's workspace from before the renumbering: both old chapters edited
    (ws / "07_multimodal_fusion.ipynb").write_text("my fusion notes")
    (ws / "08_after_bert.ipynb").write_text("my after-BERT notes")
    (ws / W.MANIFEST).write_text(json.dumps({"07_multimodal_fusion.ipynb": "old", "08_after_bert.ipynb": "old"}))
    report = W.sync(chapters, ws)
    assert (ws / "08_multimodal_fusion.ipynb").read_text() == "my fusion notes"
    assert (ws / "09_after_bert.ipynb").read_text() == "my after-BERT notes"
    assert not (ws / "07_multimodal_fusion.ipynb").exists() and not (ws / "08_after_bert.ipynb").exists()
    assert report["added"] == ["07_question_answering.ipynb"]
    assert sorted(report["kept"]) == ["08_multimodal_fusion.ipynb", "09_after_bert.ipynb"]
    assert len(report["renamed"]) == 2
