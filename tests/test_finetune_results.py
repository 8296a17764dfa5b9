"""The committed learning-curve results (``data/finetune_results.json``, written by ``python -m
bertlab.runs.learning_curves``) follow the contract chapter 06 reads, and show what the course claims (issue 15)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from bertlab import data, learners
from bertlab.finetuning import COLLAPSE_SHARE

RESULTS = json.loads((data.DATA_DIR / "finetune_results.json").read_text())
RUNS = RESULTS["runs"]
TABLE = learners.summarize(RUNS)
FINE_TUNED = set(learners.RECIPES)


def cell(learner: str, labels: str) -> dict:
    assert (learner, labels) in TABLE, f"no {learner} runs at {labels} labels in data/finetune_results.json"
    return TABLE[(learner, labels)]


def test_every_run_has_the_contract_fields_and_a_consistent_confusion_matrix():
    assert RUNS, "no runs recorded"
    for r in RUNS:
        assert r["learner"] in learners.LEARNERS
        assert r["labels"] == "all" or (isinstance(r["labels"], int) and r["labels"] > 0)
        assert isinstance(r["seed"], int)
        cm = np.array(r["confusion"])
        assert cm.shape == (2, 2) and cm.sum() == RESULTS["n_test"]
        assert r["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())


def test_a_run_is_flagged_collapsed_exactly_when_it_predicts_one_class():
    for r in RUNS:
        if r["learner"] in FINE_TUNED:
            share = np.array(r["confusion"]).sum(0).max() / RESULTS["n_test"]  # column sums: predictions per class
            assert r["collapsed"] == bool(share >= COLLAPSE_SHARE), r


def test_collapsed_runs_are_counted_apart_never_averaged():
    runs = [{"learner": "minilm", "labels": 250, "seed": s, "accuracy": a, "collapsed": c}
            for s, (a, c) in enumerate([(0.70, False), (0.72, False), (0.572, True)])]
    summary = learners.summarize(runs)[("minilm", "250")]
    assert summary["n"] == 2 and summary["collapsed"] == 1 and summary["mean"] == pytest.approx(0.71)


def test_a_difference_of_two_deterministic_learners_has_no_z_rather_than_an_infinite_one():
    runs = [{"learner": k, "labels": "all", "seed": s, "accuracy": a, "collapsed": False}
            for k, a in (("tfidf", 0.787), ("minilm-probe", 0.773)) for s in range(3)]
    table = learners.summarize(runs)
    d = learners.difference(table[("minilm-probe", "all")], table[("tfidf", "all")])
    assert d["deterministic"] and d["se"] == 0.0 and np.isnan(d["z"]) and d["diff"] == pytest.approx(-0.014)
    noisy = learners.difference({"mean": 0.66, "sd": 0.012, "n": 5}, {"mean": 0.665, "sd": 0.007, "n": 5})
    assert not noisy["deterministic"] and noisy["z"] == pytest.approx(-0.005 / np.sqrt(0.012**2 / 5 + 0.007**2 / 5))


def test_each_run_is_measured_once():
    keys = Counter((r["learner"], str(r["labels"]), r["seed"]) for r in RUNS)
    assert max(keys.values()) == 1, [k for k, n in keys.items() if n > 1]


def test_rows_that_take_under_five_minutes_have_at_least_three_seeds():
    for (learner, labels), c in TABLE.items():
        if c["seconds"] < 300:
            assert c["n"] + c["collapsed"] >= 3, f"{learner} at {labels} labels: {c['n']} runs of {c['seconds']:.0f} s"


def test_every_size_has_a_majority_baseline():
    sizes = {labels for _, labels in TABLE}
    assert sizes <= {labels for learner, labels in TABLE if learner == "majority"}


def test_the_record_says_how_it_was_made():
    assert RESULTS["commands"] and all(c.startswith("python -m bertlab.runs.learning_curves") for c in RESULTS["commands"])
    assert {"torch", "numpy", "sklearn", "python"} <= set(RESULTS["versions"])
    for r in RUNS:
        assert r["threads"] >= 1 and 0 <= r["command"] < len(RESULTS["commands"])


def test_course_bert_is_within_noise_of_random_init_at_1000_labels_as_chapters_05_and_06_say():
    """Issue 15 asked for +3 points; no recipe of the ladder reached it (data/course-bert/ladder.json), and the
    chapters teach that result. If new runs change it, this fails and the prose must change with them."""
    pre, rand = cell("course-bert", "1000"), cell("random-init", "1000")
    assert pre["n"] >= 5 and rand["n"] >= 5
    d = learners.difference(pre, rand)
    assert abs(d["z"]) < 2, d


def test_minilm_beats_its_random_init_architecture_by_10_points_at_1000_labels():
    d = learners.difference(cell("minilm", "1000"), cell("minilm-random-init", "1000"))
    assert d["diff"] >= 0.10, d


def test_minilm_fine_tuned_on_all_labels_reaches_83_percent():
    assert cell("minilm", "all")["mean"] >= 0.83
