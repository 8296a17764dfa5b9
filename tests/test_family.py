"""Unit tests of bertlab.family (chapter 09, after BERT): each names the property it proves."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bertlab import data
from bertlab.family import albert, distillation, efficiency, electra, objectives, pruning, quantization
from bertlab.family.map import FAMILY, KINDS, family_map
from bertlab.finetuning import encode_sentences, fine_tune, mean_pooled_features, predict_logits
from bertlab.model import BertConfig, BertForSequenceClassification, BertModel, count_parameters, explicit_attention
from bertlab.pretraining import tiny_config


def small_config(**kw) -> BertConfig:
    return BertConfig(**{**dict(vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=4,
                                intermediate_size=32, max_position_embeddings=32, hidden_dropout_prob=0.0,
                                attention_probs_dropout_prob=0.0), **kw})


# ------------------------------------------------------------------------------------------ ALBERT
def test_albert_embedding_count_is_VE_plus_EH_and_matches_the_module():
    assert albert.albert_embedding_params(30000, 128, 768) == 30000 * 128 + 128 * 768 == 3_938_304
    assert albert.bert_embedding_params(30000, 768) == 23_040_000
    emb = albert.FactorizedEmbedding(30000, 128, 768)
    assert count_parameters(emb) == albert.albert_embedding_params(30000, 128, 768)
    assert emb(torch.tensor([[1, 2, 3]])).shape == (1, 3, 768)


def test_albert_embedding_count_rejects_bad_sizes():
    with pytest.raises(ValueError, match="embedding_size"):
        albert.albert_embedding_params(100, 0, 8)


def test_shared_layers_are_counted_once_and_compute_layer0_applied_L_times():
    torch.manual_seed(0)
    model = BertModel(small_config()).eval()
    layer_params = count_parameters(model.encoder.layer[0])
    before = count_parameters(model)
    albert.share_layers(model)
    assert count_parameters(model) == before - 2 * layer_params
    assert all(layer is model.encoder.layer[0] for layer in model.encoder.layer)
    ids = torch.randint(5, 50, (2, 7))
    x = model.embeddings(ids, torch.zeros_like(ids))
    for _ in range(3):
        x = model.encoder.layer[0](x)
    torch.testing.assert_close(model(ids).last_hidden_state, x)


def test_parameter_table_rows_agree_with_the_formulas():
    rows = {r["model"].split(" (")[0]: r for r in albert.albert_parameter_table(30000, 768, 12, 128)}
    bert, both = rows["BERT"], rows["ALBERT: both"]
    assert bert["token embedding"] == 30000 * 768
    assert both["token embedding"] == 30000 * 128 + 128 * 768
    assert both["encoder layers"] * 12 == bert["encoder layers"]  # one layer's parameters instead of 12
    assert 108e6 < bert["total"] < 111e6 and 11e6 < both["total"] < 13e6  # BERT-base 110 M, ALBERT-base 12 M


def test_factorised_classifier_runs_forward_and_backward():
    clf = BertForSequenceClassification(small_config(), 2)
    albert.factorize_embeddings(clf.bert, 4)
    out = clf(torch.randint(5, 50, (3, 6))).logits
    out.sum().backward()
    assert out.shape == (3, 2) and clf.bert.embeddings.word_embeddings.table.weight.grad is not None


def test_factorised_token_vectors_start_at_berts_scale_not_squared_initializer_range():
    """std(table @ projection) ≈ 0.02, like BERT's V×H table — not 0.02² · √E, which drowns in the positions."""
    m = BertModel(BertConfig(vocab_size=4000, hidden_size=128, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=64))
    albert.factorize_embeddings(m, 32)
    vectors = m.embeddings.word_embeddings(torch.arange(1, 4000))  # (V-1, H), padding row left out
    assert 0.015 < vectors.std().item() < 0.025


# ------------------------------------------------------------------------------------------ ELECTRA
def test_rtd_labels_mark_only_changed_tokens_and_ignore_padding_and_specials():
    original = torch.tensor([[2, 10, 11, 12, 3, 0]])
    corrupted = torch.tensor([[2, 20, 11, 12, 3, 0]])
    chosen = torch.tensor([[False, True, True, False, False, False]])  # position 2: the original sampled back
    labels = electra.rtd_labels(original, corrupted, chosen, (original != 0).long(), [0, 2, 3])
    assert labels.tolist() == [[-100, 1, 0, 0, -100, -100]]
    assert labels.dtype == torch.long


def test_rtd_labels_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="chosen"):
        electra.rtd_labels(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long),
                      torch.zeros(2, 4, dtype=torch.bool))


def test_electra_step_trains_the_generator_only_through_its_mlm_loss():
    torch.manual_seed(0)
    model = electra.Electra(small_config(), small_config(hidden_size=8, num_attention_heads=2, num_hidden_layers=1))
    original = torch.randint(5, 50, (4, 12))
    original[:, 0], original[:, -1] = 2, 3
    masked = original.clone()
    labels = torch.full_like(original, -100)
    labels[:, 3:6] = original[:, 3:6]
    masked[:, 3:6] = 4
    batch = {"input_ids": masked, "token_type_ids": torch.zeros_like(original), "attention_mask": torch.ones_like(original),
             "labels": labels}
    out = model(batch, original, [0, 1, 2, 3, 4], torch.Generator().manual_seed(0))
    assert torch.isfinite(out["loss"]) and 0 <= out["replaced_share"] <= 1
    out["disc_loss"].backward()
    assert all(p.grad is None for p in model.generator.parameters())  # sampling is not differentiated
    assert model.discriminator.embeddings.word_embeddings.weight.grad is not None


# --------------------------------------------------------------------------------------- DistilBERT
def test_distillation_loss_is_cross_entropy_when_alpha_is_zero_and_zero_when_student_equals_teacher():
    g = torch.Generator().manual_seed(0)
    s, y = torch.randn(8, 3, generator=g), torch.randint(0, 3, (8,), generator=g)
    torch.testing.assert_close(distillation.distillation_loss(s, s * 5, y, 4.0, alpha=0.0), F.cross_entropy(s, y))
    assert distillation.distillation_loss(s, s.clone(), y, 3.0, alpha=1.0).abs() < 1e-6


def test_distillation_soft_gradient_is_T_times_probability_gap_over_batch():
    """d/ds [T² · KL(p_t^T ‖ p_s^T)] = T (softmax(s/T) − softmax(t/T)) / B: the T² keeps it O(1) as T grows."""
    g = torch.Generator().manual_seed(1)
    s, t, y = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g), torch.zeros(5, dtype=torch.long)
    for T in (1.0, 4.0):
        s_ = s.clone().requires_grad_(True)
        distillation.distillation_loss(s_, t, y, T, alpha=1.0).backward()
        expected = T * (F.softmax(s / T, -1) - F.softmax(t / T, -1)) / 5
        torch.testing.assert_close(s_.grad, expected)


def test_student_from_teacher_keeps_the_chosen_layers():
    torch.manual_seed(0)
    teacher = BertForSequenceClassification(small_config(num_hidden_layers=4), 2).eval()
    student = distillation.student_from_teacher(teacher, [0, 2])
    assert len(student.bert.encoder.layer) == 2 and student.config.num_hidden_layers == 2
    torch.testing.assert_close(student.bert.encoder.layer[1].ffn.w1.weight, teacher.bert.encoder.layer[2].ffn.w1.weight)
    assert len(teacher.bert.encoder.layer) == 4  # the teacher is untouched


def _toy_sentences(n: int = 48) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 50, (n, 8), generator=g)
    return {"input_ids": ids, "token_type_ids": torch.zeros_like(ids), "attention_mask": torch.ones_like(ids),
            "labels": (ids[:, 1] > 27).long()}


def test_distil_with_alpha_zero_is_plain_fine_tuning_and_with_alpha_one_moves_toward_the_teacher():
    train = _toy_sentences()
    torch.manual_seed(0)
    teacher = BertForSequenceClassification(small_config(), 2).eval()
    student = distillation.student_from_teacher(teacher, [0])
    twin = distillation.student_from_teacher(teacher, [0])
    hard = distillation.distil(student, teacher, train, alpha=0.0, epochs=1, lr=1e-3, seed=0)
    plain = fine_tune(twin, train, epochs=1, lr=1e-3, seed=0)
    assert hard.losses == pytest.approx(plain.losses, rel=1e-5)
    torch.manual_seed(1)
    student = BertForSequenceClassification(small_config(num_hidden_layers=1), 2)  # starts far from the teacher
    with torch.no_grad():  # a confident teacher
        teacher.classifier.weight *= 5
        teacher.classifier.bias *= 5
    t_logits = predict_logits(teacher, train)
    gap_before = F.kl_div(predict_logits(student, train).log_softmax(-1), t_logits.softmax(-1), reduction="batchmean")
    distillation.distil(student, teacher, train, alpha=1.0, temperature=2.0, epochs=3, lr=1e-3, seed=0)
    gap_after = F.kl_div(predict_logits(student, train).log_softmax(-1), t_logits.softmax(-1), reduction="batchmean")
    assert gap_after < gap_before


def test_distil_on_an_unlabelled_transfer_set_reads_only_the_given_teacher_logits():
    train = _toy_sentences()
    torch.manual_seed(0)
    teacher = BertForSequenceClassification(small_config(), 2).eval()
    t_logits = predict_logits(teacher, train)
    scrambled = {**train, "labels": 1 - train["labels"]}  # with alpha = 1 the labels must not matter
    runs = []
    for data_ in (train, scrambled):
        student = distillation.student_from_teacher(teacher, [0])
        runs.append(distillation.distil(student, teacher, data_, alpha=1.0, teacher_logits=t_logits, epochs=1,
                                        lr=1e-3, seed=0).losses)
    assert runs[0] == pytest.approx(runs[1], rel=1e-6)
    with pytest.raises(ValueError, match="teacher_logits has 3 rows"):
        distillation.distil(distillation.student_from_teacher(teacher, [0]), teacher, train, teacher_logits=t_logits[:3])


# ------------------------------------------------------------------------------------------ pruning
def test_pruned_heads_compute_exactly_what_masked_heads_compute():
    torch.manual_seed(0)
    model = BertModel(small_config()).eval()
    ids = torch.randint(5, 50, (2, 9))
    heads = [(0, 1), (0, 3), (2, 0)]
    with pruning.masked_heads(model, heads):
        masked = model(ids).last_hidden_state
    unmasked = model(ids).last_hidden_state  # the hooks are gone after the block
    pruning.prune_heads(model, heads)
    torch.testing.assert_close(model(ids).last_hidden_state, masked, atol=1e-5, rtol=1e-5)
    assert model.encoder.layer[0].attention.num_heads == 2 and model.encoder.layer[0].attention.query.out_features == 8
    assert not torch.allclose(unmasked, masked)


def test_head_importance_is_the_score_drop_of_masking_each_head():
    torch.manual_seed(0)
    model = BertModel(small_config()).eval()
    ids = torch.randint(5, 50, (2, 9))
    ref = model(ids).last_hidden_state
    with torch.no_grad():
        imp = pruning.head_importance(model, lambda: -float((model(ids).last_hidden_state - ref).abs().mean()))
    assert imp.shape == (3, 4) and (imp > 0).all()  # masking any head moves the output


def test_gradient_head_importance_is_the_loss_derivative_by_each_heads_gate():
    train = _toy_sentences(16)
    torch.manual_seed(0)
    clf = BertForSequenceClassification(small_config(), 2).eval()
    imp = pruning.head_importance_gradient(clf, train, batch_size=64, normalize_layers=False)  # one batch
    assert imp.shape == (3, 4)

    def loss_with_gate(layer: int, head: int, value: float) -> float:
        attn = clf.bert.encoder.layer[layer].attention
        scale = torch.ones(attn.num_heads * attn.head_size)
        scale[head * attn.head_size:(head + 1) * attn.head_size] = value
        hook = attn.output.register_forward_pre_hook(lambda m, args: (args[0] * scale,))
        with torch.no_grad():
            loss = F.cross_entropy(clf(train["input_ids"], train["token_type_ids"], train["attention_mask"]).logits,
                                   train["labels"])
        hook.remove()
        return float(loss)

    eps = 1e-2
    for layer, head in [(0, 0), (1, 2), (2, 3)]:
        numeric = abs(loss_with_gate(layer, head, 1 + eps) - loss_with_gate(layer, head, 1 - eps)) / (2 * eps)
        assert imp[layer, head] == pytest.approx(numeric, rel=1e-2, abs=1e-6)
    normalised = pruning.head_importance_gradient(clf, train, batch_size=5)
    assert np.allclose(np.linalg.norm(normalised, axis=1), 1.0)  # each layer's scores on the unit sphere
    assert all(p.grad is None for p in clf.parameters())  # only the gates were differentiated


def test_prune_refuses_to_remove_every_head_of_a_layer():
    model = BertModel(small_config())
    with pytest.raises(ValueError, match="keep at least one"):
        pruning.prune_heads(model, [(1, h) for h in range(4)])


# ------------------------------------------------------------------------------------- quantisation
@pytest.fixture(scope="module")
def finetuned_tiny():
    """The shipped pre-trained tiny BERT with a sentiment head fitted on its frozen mean-pooled features
    (a linear probe: seconds, and it predicts both classes)."""
    from bertlab.weights import load_pretrained

    model, tok = load_pretrained(data.DATA_DIR / "tiny-bert", BertForSequenceClassification, num_labels=2,
                                 pooling="mean")
    texts, labels = data.load_sentiment("train")
    enc = encode_sentences(tok, texts[:2000], labels[:2000], 48)
    feats, y = mean_pooled_features(model.bert, enc), enc["labels"]  # the same mean pooling as the classifier
    opt = torch.optim.Adam(model.classifier.parameters(), lr=0.05)
    for _ in range(300):
        loss = F.cross_entropy(model.classifier(feats), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), tok


def test_int8_model_agrees_with_float_on_95_percent_of_the_test_set_and_is_smaller(finetuned_tiny):
    model, tok = finetuned_tiny
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        q = quantization.quantize_int8(model)
    assert not caught, [str(w.message)[:80] for w in caught]  # the deprecation noise is filtered
    test = encode_sentences(tok, *data.load_sentiment("test"), max_length=48)
    labels = test["labels"].numpy()
    p_float = predict_logits(model, test).argmax(-1).numpy()
    p_int8 = predict_logits(q, test).argmax(-1).numpy()
    print(f"agreement {(p_float == p_int8).mean():.3f}, accuracy {(p_float == labels).mean():.3f}, "
          f"share fresh {p_float.mean():.2f}")
    assert (p_float == p_int8).mean() >= 0.95
    # not a trivial agreement: the float model predicts both classes and beats chance
    assert 0.1 < p_float.mean() < 0.9 and (p_float == labels).mean() > 0.55
    assert quantization.state_size_mb(q) < quantization.state_size_mb(model)
    assert type(model.bert.encoder.layer[0].ffn.w1).__name__ == "Linear"  # the original is not modified


# ------------------------------------------------------------------------------------ attention cost
def test_explicit_attention_equals_sdpa_and_latency_rows_are_positive():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 10, 8, generator=g) for _ in range(3))
    torch.testing.assert_close(explicit_attention(q, k, v)[0], F.scaled_dot_product_attention(q, k, v),
                               atol=1e-5, rtol=1e-5)
    rows = efficiency.attention_latency([16, 32], batch=1, heads=2, head_dim=8, repeats=1)
    assert [r["seq_len"] for r in rows] == [16, 32] and all(r["explicit_ms"] > 0 and r["sdpa_ms"] > 0 for r in rows)


def test_latency_table_times_every_entry_in_interleaved_rounds():
    calls: list[str] = []
    ms = efficiency.latency_table({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=3, warmup=1)
    assert calls == ["a", "b"] * 4 and set(ms) == {"a", "b"} and all(v >= 0 for v in ms.values())


# -------------------------------------------------------------------------------------- pre-training
@pytest.mark.parametrize("objective", ["mlm+nsp", "mlm", "static", "electra"])
def test_each_pretraining_objective_runs_and_returns_a_usable_encoder(objective):
    from bertlab.course_vocab import course_tokenizer
    from bertlab.pretraining import make_nsp_pairs, tokenize_documents

    tok = course_tokenizer()
    docs = tokenize_documents(data.load_pretraining_corpus("train")[:6], tok)
    pairs = make_nsp_pairs(docs, tok, 32, random.Random(0))
    cfg = tiny_config(len(tok), num_hidden_layers=1)
    gen = tiny_config(len(tok), hidden_size=32, num_attention_heads=1, intermediate_size=64, num_hidden_layers=1)
    run = objectives.pretrain(objective, cfg, pairs, tok, seconds=30, batch_size=8, max_steps=3, generator_config=gen)
    assert run.steps == 3 and all(np.isfinite(run.losses))
    assert isinstance(run.encoder, BertModel)


def test_pretrain_rejects_unknown_objective():
    with pytest.raises(ValueError, match="unknown objective"):
        objectives.pretrain("sop", small_config(), [], None, 1)


# ------------------------------------------------------------------------------------------ family
def test_family_map_covers_every_kind_and_draws():
    import matplotlib

    matplotlib.use("Agg")
    assert {m["kind"] for m in FAMILY} == set(KINDS)
    assert all(2017 <= m["year"] <= 2025 and m["idea"] for m in FAMILY)
    ax = family_map()
    assert len(ax.texts) == len(FAMILY) + len(KINDS)
