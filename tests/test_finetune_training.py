"""Fine-tuning machinery (chapter 06): encoding, the training loop with early stopping, the NER set."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bertlab import learners
from bertlab.finetuning import (
    _length_grouped_batches,
    encode_sentences,
    encode_tagged,
    fine_tune,
    freeze_encoder,
    mean_pooled_features,
    predict_logits,
    word_predictions,
)
from bertlab.model import BertConfig, BertForSequenceClassification
from bertlab.ner_data import TAGS, is_held_out, load_ner, mine_gazetteer, split_words, tag_words
from bertlab.pretraining import IGNORE_INDEX
from bertlab.runs import learning_curves
from bertlab.tokenizer import WordPieceTokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film", "the", "patri", "##arch", "##s", "slept",
         "very", "."]


@pytest.fixture(scope="module")
def tok():
    return WordPieceTokenizer(VOCAB)


def small_classifier(seed=0):
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    return BertForSequenceClassification(config, num_labels=2, pooling="mean")


def toy_data(tok, n=64, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    texts = [" ".join(["the film"] + ["very"] * int(rng.integers(0, 3)) + ["good" if y else "bad"]) for y in labels]
    return encode_sentences(tok, texts, labels)


def test_encode_tagged_labels_only_the_first_piece_of_each_word(tok):
    enc = encode_tagged(tok, [["the", "patriarchs", "slept"]], [[0, 1, 0]])
    pieces = tok.convert_ids_to_tokens(enc["input_ids"][0].tolist())
    assert pieces == ["[CLS]", "the", "patri", "##arch", "##s", "slept", "[SEP]"]
    assert enc["labels"][0].tolist() == [IGNORE_INDEX, 0, 1, IGNORE_INDEX, IGNORE_INDEX, 0, IGNORE_INDEX]


def test_word_predictions_read_the_first_piece(tok):
    enc = encode_tagged(tok, [["the", "patriarchs", "slept"]], [[0, 1, 0]])
    logits = torch.zeros(1, 7, 2)
    logits[0, 2, 1] = 5.0  # first piece of "patriarchs" says class 1
    logits[0, 3, 0] = 9.0  # a continuation piece disagrees: ignored
    assert word_predictions(logits, enc["word_ids"]) == [[0, 1, 0]]


def test_encode_rejects_mismatched_lengths(tok):
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        encode_sentences(tok, ["good", "bad"], [1])
    with pytest.raises(ValueError, match="sentence 0 has 2 words but 1 tags"):
        encode_tagged(tok, [["the", "film"]], [[0]])


def test_fine_tune_learns_a_separable_toy_task_and_restores_the_best_weights(tok):
    train, val = toy_data(tok, 96, 0), toy_data(tok, 32, 1)
    model = small_classifier()
    res = fine_tune(model, train, val, epochs=6, lr=3e-3, batch_size=16, patience=None)
    assert res.best_score == max(s for _, s in res.val_scores) >= 0.95
    final = float((predict_logits(model, val).argmax(-1) == val["labels"]).float().mean())
    assert final == pytest.approx(res.best_score)  # the best checkpoint is what the model holds now
    assert not model.training


def test_early_stopping_stops_after_patience_evaluations_without_improvement(tok):
    train, val = toy_data(tok, 96, 0), toy_data(tok, 32, 1)
    model = small_classifier()
    res = fine_tune(model, train, val, epochs=40, lr=3e-3, batch_size=16, patience=2)
    assert res.stopped_early and res.steps < 40 * 6
    counted = [s for step, s in res.val_scores if step > max(res.best_step, res.patience_from)]
    assert len(counted) == 2 and all(s <= res.best_score for s in counted)


def test_patience_counts_only_evaluations_after_warm_up_and_min_epochs(tok):
    train, val = toy_data(tok, 64, 0), toy_data(tok, 32, 1)  # 4 steps per epoch
    falling = iter(range(0, -1000, -1))  # every evaluation worse than the first: the first stays best
    res = fine_tune(small_classifier(), train, val, epochs=10, lr=1e-3, batch_size=16, patience=1, min_epochs=3,
                    warmup=0.5, score=lambda logits, data: float(next(falling)))
    assert res.patience_from == 20  # warm-up: half of 40 steps, later than 3 epochs (12 steps)
    assert res.best_step == 4 and res.stopped_early
    assert [step for step, _ in res.val_scores] == [4, 8, 12, 16, 20, 24]  # stopped at the first counted one


def test_a_model_that_predicts_one_class_is_flagged_collapsed(tok):
    train, val = toy_data(tok, 64, 0), toy_data(tok, 32, 1)
    model = small_classifier()
    with torch.no_grad():
        model.classifier.bias[:] = torch.tensor([0.0, 50.0])  # always "1"
    res = fine_tune(model, train, val, epochs=1, lr=0.0, batch_size=16)  # lr 0: the weights stay as they are
    assert res.collapsed and res.val_class_share == 1.0
    res = fine_tune(small_classifier(), toy_data(tok, 96, 0), val, epochs=6, lr=3e-3, batch_size=16, patience=None)
    assert not res.collapsed and res.best_score > 0.9  # the same toy task learned: both classes predicted


def test_collapse_counts_only_scored_positions():
    from bertlab.finetuning import is_collapsed, predicted_class_share

    pred = torch.tensor([[0, 0, 1, 1], [0, 1, 0, 0]])
    labels = torch.tensor([[0, 0, IGNORE_INDEX, IGNORE_INDEX], [0, IGNORE_INDEX, 0, 1]])
    assert predicted_class_share(pred, labels) == 1.0 and is_collapsed(pred, labels)  # scored: 0 0 0 0 0
    assert predicted_class_share(pred) == 5 / 8 and not is_collapsed(pred)
    assert is_collapsed(np.array([1] * 995 + [0] * 5)) and not is_collapsed(np.array([1] * 985 + [0] * 15))


def test_fine_tune_is_deterministic_for_a_seed(tok):
    train = toy_data(tok, 64, 0)
    a, b = small_classifier(), small_classifier()
    ra, rb = fine_tune(a, train, epochs=1, lr=1e-3, seed=3), fine_tune(b, train, epochs=1, lr=1e-3, seed=3)
    assert ra.losses == rb.losses


def test_length_sorted_prediction_returns_each_rows_own_logits_in_the_original_order(tok):
    data = toy_data(tok, 40, 2)  # lengths 4..6 pieces, shuffled
    model = small_classifier().eval()
    one_by_one = torch.cat([model(**{k: data[k][i:i + 1, :int(data["attention_mask"][i].sum())]
                                     for k in ("input_ids", "token_type_ids", "attention_mask")}).logits
                            for i in range(40)])
    assert torch.allclose(predict_logits(model, data, batch_size=8), one_by_one, atol=1e-5)
    features = mean_pooled_features(model.bert, data, batch_size=8)
    assert features.shape == (40, 16) and torch.allclose(features[3], mean_pooled_features(
        model.bert, {k: v[3:4] for k, v in data.items()})[0], atol=1e-5)


def test_length_grouped_batches_cover_the_epoch_once_with_similar_lengths(tok):
    texts = [" ".join(["very"] * k) + " good" for k in range(1, 25)] * 4  # 96 sentences, 24 lengths
    data = encode_sentences(tok, texts, [1] * 96)
    batches = _length_grouped_batches(data, 8, torch.Generator().manual_seed(0))
    assert sorted(torch.cat(batches).tolist()) == list(range(96))  # every example exactly once
    lengths = data["attention_mask"].sum(1)
    spread = [int(lengths[b].max() - lengths[b].min()) for b in batches]
    assert max(spread) <= 2  # random batches of 8 from 24 lengths would spread ~18
    model = small_classifier()
    res = fine_tune(model, data, epochs=2, lr=1e-3, batch_size=8, group_by_length=True)
    assert res.steps == 24 and all(np.isfinite(res.losses))


def test_linear_probe_changes_only_the_classifier(tok):
    model = freeze_encoder(small_classifier())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fine_tune(model, toy_data(tok), epochs=1, lr=1e-2)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"classifier.weight", "classifier.bias"}


def test_learning_curve_subsets_are_nested():
    texts, labels = [f"s{i}" for i in range(100)], np.arange(100)
    small, big = learners.subset(texts, labels, 10), learners.subset(texts, labels, 40)
    assert small[0] == big[0][:10] and len(learners.subset(texts, labels, None)[0]) == 100


def test_finetune_command_records_runs_once_and_resumes(tmp_path):
    out = tmp_path / "results.json"
    learning_curves.main(["--learners", "majority", "tfidf", "--sizes", "250", "--seeds", "0", "1", "--out", str(out),
                   "--no-progress"])
    learning_curves.main(["--learners", "majority", "tfidf", "--sizes", "250", "--seeds", "0", "1", "2", "--out", str(out),
                   "--no-progress"])
    import json

    results = json.loads(out.read_text())
    keys = [(r["learner"], r["labels"], r["seed"]) for r in results["runs"]]
    assert sorted(keys) == sorted((m, 250, s) for m in ("majority", "tfidf") for s in (0, 1, 2))  # none repeated
    assert len(results["commands"]) == 2 and [r["command"] for r in results["runs"]].count(1) == 2  # seed 2 only
    table = out.with_suffix(".md").read_text()
    assert "| majority | 57.2 ± 0.0 (n = 3)" in table and "| tfidf |" in table


def test_finetune_command_rejects_bad_sizes(capsys):
    with pytest.raises(SystemExit):
        learning_curves.main(["--sizes", "ten"])
    assert "neither a positive number nor 'all'" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the KJV name set
def test_gazetteer_rule_persons_places_and_ordinary_words():
    verses = ["And Enos begat Cainan.", "Cainan begat Mahalaleel.", "the son of Enos went into the land of Nod.",
              "And they dwelt in the land of Nod.", "And said unto them, Go.", "And Mahalaleel begat Jared.",
              "and the land of Nod was far."]
    g = mine_gazetteer(verses)
    assert g["Enos"] == "PER" and g["Cainan"] == "PER" and g["Nod"] == "LOC"
    assert "And" not in g  # capitalised at the start of a verse, but also an ordinary word
    assert tag_words(split_words("Then Enos went to Nod."), g) == ["O", "B-PER", "O", "O", "B-LOC", "O"]
    assert tag_words(split_words("Then Enos met Jabal."), g) is None  # an unlabelable name drops the verse


def test_hyphenated_names_are_one_entity():
    g = {"Beer-sheba": "LOC"}
    assert tag_words(split_words("he went to Beer-sheba ."), g) == ["O", "O", "O", "B-LOC", "I-LOC", "I-LOC", "O"]


@pytest.fixture(scope="module")
def ner():
    return load_ner()


def test_held_out_names_never_occur_in_training(ner):
    train_names = {w for words, tags in zip(ner["train"].words, ner["train"].tags)
                   for w, t in zip(words, tags) if t != "O"}
    assert ner["held_out"] and not (train_names & ner["held_out"])
    assert all(any(w in ner["held_out"] for w in words) for words in ner["test_unseen"].words)
    assert not any(w in ner["held_out"] for words in ner["test_seen"].words for w in words)


def test_ner_splits_are_sizeable_disjoint_and_deterministic(ner):
    assert len(ner["train"]) > 2000 and len(ner["test_unseen"]) == 600 and len(ner["test_seen"]) > 200
    train = {" ".join(w) for w in ner["train"].words}
    assert not train & {" ".join(w) for w in ner["test_seen"].words}
    assert all(t in TAGS for row in ner["train"].tags for t in row)
    assert is_held_out("Abinoam") == is_held_out("Abinoam")
    assert ner["stats"]["persons"] > 400 and ner["stats"]["places"] > 50
