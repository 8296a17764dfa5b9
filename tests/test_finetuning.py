"""Chapter 06 helpers: metrics, no-decay groups, warm-up schedule, label alignment, save/load round trip."""
import numpy as np
import pytest
import torch
from sklearn.metrics import precision_recall_fscore_support

from bertlab.finetuning import align_labels
from bertlab.model import BertConfig, BertForSequenceClassification
from bertlab.pretraining import IGNORE_INDEX
from bertlab.training.metrics import confusion_matrix, entity_f1, entity_spans, f1_from_confusion
from bertlab.training.param_groups import no_decay_groups
from bertlab.training.schedule import warmup_linear_lambda, warmup_linear_schedule


def test_confusion_rows_are_truth_columns_are_predictions():
    cm = confusion_matrix([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], num_classes=2)
    assert cm.tolist() == [[1, 1], [1, 2]]


def test_f1_from_confusion_matches_sklearn_macro():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    m = f1_from_confusion(confusion_matrix(y, p, 3))
    P, R, F, _ = precision_recall_fscore_support(y, p, average=None, zero_division=0)
    np.testing.assert_allclose(m["precision"], P)
    np.testing.assert_allclose(m["recall"], R)
    np.testing.assert_allclose(m["f1"], F)
    assert m["macro_f1"] == pytest.approx(F.mean())
    assert m["accuracy"] == pytest.approx((y == p).mean())


def test_f1_from_confusion_empty_class_scores_zero_not_nan():
    m = f1_from_confusion(np.array([[5, 0], [0, 0]]))  # class 1 never present and never predicted
    assert m["f1"].tolist() == [1.0, 0.0] and not np.isnan(m["macro_f1"])


def test_f1_from_confusion_rejects_non_square():
    with pytest.raises(ValueError, match="square"):
        f1_from_confusion(np.zeros((2, 3)))


def test_entity_spans_and_entity_level_f1():
    assert entity_spans(["B-PER", "I-PER", "O", "I-PER", "B-PER"]) == {(0, 2, "PER"), (3, 4, "PER"), (4, 5, "PER")}
    truth = [["B-PER", "I-PER", "O", "B-PER"]]
    pred = [["B-PER", "O", "O", "B-PER"]]  # first entity cut short: wrong span counts as both FP and FN
    m = entity_f1(truth, pred)
    assert (m["tp"], m["n_true"], m["n_pred"]) == (1, 2, 2) and m["f1"] == pytest.approx(0.5)


def _tiny_classifier():
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=16)
    return BertForSequenceClassification(cfg, num_labels=2)


def test_no_decay_groups_cover_every_parameter_once_and_skip_norms_and_biases():
    model = _tiny_classifier()
    decay, no_decay = no_decay_groups(model, 0.01)
    ids = [id(p) for g in (decay, no_decay) for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    decayed = {id(p) for p in decay["params"]}
    for name, p in model.named_parameters():
        is_norm_or_bias = name.endswith("bias") or "norm" in name
        assert (id(p) in decayed) != is_norm_or_bias, name


def test_no_decay_groups_leave_out_frozen_parameters():
    model = _tiny_classifier()
    for p in model.bert.parameters():
        p.requires_grad_(False)
    groups = no_decay_groups(model)
    assert sum(len(g["params"]) for g in groups) == 2  # classifier weight + bias only


def test_warmup_then_linear_decay_shape():
    f = warmup_linear_lambda(warmup_steps=4, total_steps=12)
    values = [f(s) for s in range(13)]
    assert values[:4] == [0.25, 0.5, 0.75, 1.0]           # linear warm-up, peak at the end of warm-up
    assert values[4] == 1.0 and values[8] == pytest.approx(0.5) and values[12] == 0.0
    assert all(a >= b for a, b in zip(values[3:], values[4:]))  # never increases after warm-up
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = warmup_linear_schedule(opt, 4, 12)
    assert opt.param_groups[0]["lr"] == pytest.approx(2.5e-4)
    for _ in range(4):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-3)
    with pytest.raises(ValueError):
        warmup_linear_lambda(5, 3)


def test_align_labels_first_piece_only_and_specials_ignored():
    # [CLS] jes ##us wept [SEP] [PAD]
    word_ids = [None, 0, 0, 1, None, None]
    assert align_labels(word_ids, [1, 0]) == [IGNORE_INDEX, 1, IGNORE_INDEX, 0, IGNORE_INDEX, IGNORE_INDEX]
    with pytest.raises(ValueError, match="out of range"):
        align_labels([None, 2], [1, 0])


def test_finetuned_classifier_saved_with_bertlab_loads_back_and_predicts_the_same(tmp_path):
    from bertlab.tokenizer import WordPieceTokenizer
    from bertlab.weights import load_pretrained, save_pretrained
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(25)]
    tok = WordPieceTokenizer(vocab)
    model = _tiny_classifier()
    opt = torch.optim.AdamW(no_decay_groups(model), lr=1e-2)
    ids = torch.randint(5, 30, (4, 8))
    loss = torch.nn.functional.cross_entropy(model(ids).logits, torch.tensor([0, 1, 0, 1]))
    loss.backward()
    opt.step()  # a "fine-tuned" model: weights differ from init
    model.eval()
    save_pretrained(model, tok, tmp_path / "ft")
    loaded, tok2 = load_pretrained(tmp_path / "ft", model_class=BertForSequenceClassification)
    assert tok2.vocab == tok.vocab
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, model(ids).logits)
