"""Chapter 09's results file: every section names the command that measured it, and the tables are rebuilt from it."""

import json

import pytest

from bertlab.runs import after_bert

RESULTS = after_bert.RESULTS_JSON
SECTIONS = ("pretraining", "albert", "distillation", "quantization", "pruning", "latency")


@pytest.fixture(scope="module")
def results() -> dict:
    if not RESULTS.is_file():
        pytest.skip("data/after_bert_results.json not written yet")
    return json.loads(RESULTS.read_text())


@pytest.mark.parametrize("section", SECTIONS)
def test_each_section_records_its_command(results, section):
    assert section in results, f"{section} missing: run python -m bertlab.runs.after_bert --sections …"
    assert results[section]["command"].startswith("python -m bertlab."), results[section].get("command")


def test_rows_over_seeds_keep_their_per_seed_accuracies(results):
    for section in ("pretraining", "distillation"):
        for name, row in results[section]["rows"].items():
            if "test_accs" in row:
                assert len(row["test_accs"]) >= 3, (section, name)
                assert len(row["collapsed"]) == len(row["test_accs"]), (section, name)


def test_pruning_has_a_random_order_baseline_and_the_same_teacher(results):
    pr = results["pruning"]
    steps = [c["heads_removed"] for c in pr["curve"]]
    assert steps[0] == 0 and len(steps) >= 5
    assert len(pr["random_orders"]) >= 3
    assert pr["same_teacher_as_distillation"] is True
    assert pr["curve"][0]["test_acc"] == pytest.approx(pr["teacher_test_acc"])


def test_latency_covers_every_timed_model(results):
    ms = results["latency"]["ms_per_64_sentences"]
    assert {"teacher (6 layers)", "student (3 layers)", "int8_per_tensor", "int8_per_channel"} <= set(ms)
    assert all(v > 0 for v in ms.values())


def test_markdown_is_rebuilt_from_the_json(results):
    md = after_bert.to_markdown(results)
    for section in SECTIONS:
        assert results[section]["command"] in md
    assert "nan" not in md
