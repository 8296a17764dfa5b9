"""bertlab.qa_data: the KJV reading set is deterministic, its test names are unseen, and it is a reading task."""

from __future__ import annotations

import re
import statistics

import pytest

from bertlab import qa_data
from bertlab.qa import squad_scores


@pytest.fixture(scope="module")
def qs():
    return qa_data.load_qa()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]+(?:-[a-z]+)*", text))


def test_held_out_names_never_occur_anywhere_in_training(qs):
    held = qs.held_out["test"] | qs.held_out["validation"]
    assert len(qs.held_out["test"]) > 100
    for ex in qs.train:
        seen = _words(ex.question + " " + ex.context + " " + " ".join(ex.answers))
        assert not seen & held, (ex.id, seen & held)


def test_every_test_question_is_about_a_held_out_name(qs):
    for ex in qs.test:
        key = ex.meta["subject"] if ex.meta["answer_type"] == "number" else ex.answers[0]
        assert key in qs.held_out["test"], ex.id
    for ex in qs.validation:
        assert not _words(ex.context + " " + ex.question) & qs.held_out["test"], ex.id


def test_the_answer_sits_at_its_character_position(qs):
    for ex in qs.train + qs.validation + qs.test:
        for a, s in zip(ex.answers, ex.answer_starts):
            assert ex.context[s:s + len(a)] == a


def test_same_set_on_every_load():
    a, b = qa_data.load_qa(), qa_data.load_qa()
    assert [(e.id, e.question, e.answers) for e in a.test] == [(e.id, e.question, e.answers) for e in b.test]
    assert [e.id for e in a.train] == [e.id for e in b.train]


def test_sizes_and_answer_types(qs):
    assert len(qs.train) > 3000 and len(qs.validation) > 200 and len(qs.test) > 800
    for split in (qs.train, qs.test):
        kinds = {ex.meta["answer_type"] for ex in split}
        assert kinds == {"name", "place", "number"}


def test_each_fact_is_asked_several_ways_active_and_passive(qs):
    assert all(len(t) >= 3 for t in qa_data.TEMPLATES.values())
    assert any("Whose son was" in t for t in qa_data.TEMPLATES["parent"])
    assert any("fathered" in t for t in qa_data.TEMPLATES["father"])
    assert any("begotten by whom" in t for t in qa_data.TEMPLATES["father"])  # passive
    by_context: dict[str, set[str]] = {}
    for ex in qs.train:
        by_context.setdefault(ex.context + ex.meta["relation"] + ex.meta["subject"], set()).add(ex.question)
    assert statistics.mean(len(v) for v in by_context.values()) > 2


def test_contexts_span_several_verses_with_several_candidate_names(qs):
    names = [len(set(re.findall(rf"\b{qa_data.NAME}\b", ex.context))) for ex in qs.test]
    assert statistics.median(names) >= 4
    assert all(ex.meta["source"].count("-") == 1 for ex in qs.test)


def test_patterns_find_known_facts_and_not_lists_of_kings():
    chapters = [["And Seth lived an hundred and five years, and begat Enos:",
                 "Joshua the son of Nun said unto them.",
                 "the king of Jerusalem, the king of Hebron, the king of Lachish, the king of Eglon."]]
    facts = qa_data.mine_facts(chapters, {"Seth", "Enos", "Joshua", "Nun", "Lachish", "Eglon", "Hebron"})
    got = {(f.relation, f.subject, f.answer) for f in facts}
    assert ("age_begat", "Seth", "an hundred and five") in got
    assert ("parent", "Joshua", "Nun") in got and ("son", "Nun", "Joshua") in got
    assert not any(f.relation in ("king", "kingdom") for f in facts)


def test_he_in_the_regnal_formula_is_the_king_of_the_previous_verse():
    chapters = [["In the twelfth year of Joram did Ahaziah the son of Jehoram king of Judah begin to reign.",
                 "Two and twenty years old was he when he began to reign; and he reigned one year in Jerusalem."]]
    facts = qa_data.mine_facts(chapters, {"Joram", "Ahaziah", "Jehoram", "Judah", "Jerusalem"})
    got = {(f.relation, f.subject, f.answer, f.needs) for f in facts}
    assert ("age_reign", "Ahaziah", "Two and twenty", (0, 1)) in got
    assert ("reign_city", "Ahaziah", "Jerusalem", (0, 1)) in got


def test_heuristic_answers_are_context_substrings_and_stay_well_below_perfect(qs):
    preds = [qa_data.heuristic_answer(ex.question, ex.context) for ex in qs.test]
    assert all(p in ex.context for p, ex in zip(preds, qs.test))
    f1 = squad_scores(preds, [ex.answers for ex in qs.test])["f1"]
    assert 20 < f1 < 70
