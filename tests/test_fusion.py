"""bertlab.fusion: shapes, padding invariance, patch order, gating, ITM negatives, InfoNCE, training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bertlab import multimodal_data as md
from bertlab.finetuning import fine_tune, predict_logits
from bertlab.fusion import encoders, models, objectives, training
from bertlab.pooling import masked_mean
from bertlab.pretraining import tiny_config
from bertlab.tokenizer import WordPieceTokenizer
from bertlab.training.metrics import accuracy

torch.set_num_threads(1)
VOCAB = 30


def _cfg():
    return tiny_config(VOCAB, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=64)


def _models():
    cfg = _cfg()
    return {
        "text-only": models.TextOnly(cfg),
        "image-only (patch)": models.ImageOnly(cfg, 8, 2),
        "image-only (cnn)": models.ImageOnly(cfg, 8, 2, encoder="cnn"),
        "late concat": models.LateFusionConcat(cfg, 8, 2),
        "late concat (cnn)": models.LateFusionConcat(cfg, 8, 2, encoder="cnn"),
        "late concat ([CLS] text, mean image)": models.LateFusionConcat(cfg, 8, 2, encoder="cnn", text_pooling="cls",
                                                                         image_pooling="mean"),
        "late gated": models.LateFusionGated(cfg, 8, 2),
        "early": models.EarlyFusion(cfg, 8, 2),
        "cross-attention": models.CrossAttentionFusion(cfg, 8, 2),
    }


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, VOCAB, (3, 6), generator=g)
    ids[:, 0] = 2  # [CLS]
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]])
    ids = ids * mask  # padding id 0
    images = torch.rand(3, 8, 8, generator=g)
    return ids, mask, images


@pytest.mark.parametrize("name", list(_models()))
def test_every_model_gives_one_logit_row_per_example(name, batch):
    torch.manual_seed(0)
    model = _models()[name].eval()
    out = model(*batch)
    assert out.logits.shape == (3, 2) and torch.isfinite(out.logits).all()


@pytest.mark.parametrize("name", list(_models()))
def test_extra_padding_in_the_text_does_not_change_the_output(name, batch):
    torch.manual_seed(0)
    model = _models()[name].eval()
    ids, mask, images = batch
    padded_ids = torch.cat([ids, torch.zeros(3, 4, dtype=ids.dtype)], dim=1)  # 4 more [PAD] each
    padded_mask = torch.cat([mask, torch.zeros(3, 4, dtype=mask.dtype)], dim=1)
    garbage_ids = padded_ids.clone()
    garbage_ids[padded_mask == 0] = 7  # whatever sits under the padding mask must not matter either
    with torch.no_grad():
        a = model(ids, mask, images).logits
        b = model(padded_ids, padded_mask, images).logits
        c = model(garbage_ids, padded_mask, images).logits
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(a, c, atol=1e-5)


def test_patchify_is_row_major_and_non_overlapping():
    images = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(2, 4, 4)
    patches = encoders.patchify(images, 2)  # (2, 4, 4)
    assert patches.shape == (2, 4, 4)
    assert patches[0, 0].tolist() == [0, 1, 4, 5]  # top-left
    assert patches[0, 1].tolist() == [2, 3, 6, 7]  # top-right comes second (row-major)
    assert patches[0, 2].tolist() == [8, 9, 12, 13]  # bottom-left
    assert sorted(patches[1].flatten().tolist()) == list(range(16, 32))  # every pixel exactly once


def test_patchify_flattens_channels_first_for_colour_images():
    images = torch.arange(3 * 4 * 4, dtype=torch.float32).reshape(1, 3, 4, 4)
    first = encoders.patchify(images, 2)[0, 0]  # (3·2·2,)
    assert first.tolist() == [0, 1, 4, 5, 16, 17, 20, 21, 32, 33, 36, 37]
    with pytest.raises(ValueError, match="divisible"):
        encoders.patchify(torch.zeros(1, 6, 6), 4)


def test_patch_embedding_module_equals_the_formula():
    torch.manual_seed(0)
    pe = encoders.PatchEmbedding(8, 4, 1, 16)
    images = torch.rand(2, 8, 8)
    expected = encoders.patchify(images, 4) @ pe.projection.weight.T + pe.projection.bias + pe.position_embeddings
    assert torch.allclose(pe(images), expected)
    assert pe(images).shape == (2, 4, 16)


def test_position_embeddings_make_the_patch_order_matter():
    torch.manual_seed(0)
    pe = encoders.PatchEmbedding(4, 2, 1, 8)
    img = torch.rand(1, 4, 4)
    swapped = img.clone()
    swapped[:, :2, :2], swapped[:, :2, 2:] = img[:, :2, 2:], img[:, :2, :2]  # swap two patches
    out, out_swapped = pe(img), pe(swapped)
    assert not torch.allclose(out[0, 0], out_swapped[0, 1])  # same pixels, other position → other vector


def test_gated_fusion_weights_sum_to_one_and_pick_the_modality():
    v_t, v_i = torch.ones(2, 4), -torch.ones(2, 4)
    fused, w = models.gated_fusion(v_t, v_i, torch.tensor([[10.0, -10.0], [0.0, 0.0]]))
    assert torch.allclose(w.sum(-1), torch.ones(2))
    assert torch.allclose(fused[0], v_t[0], atol=1e-6)  # gate on text → the text vector
    assert torch.allclose(fused[1], torch.zeros(4), atol=1e-6)  # equal weights → the average


def test_gated_model_reports_its_gate_weights(batch):
    model = models.LateFusionGated(_cfg(), 8, 2).eval()
    w = model(*batch).gate_weights
    assert w.shape == (3, 2) and torch.allclose(w.sum(-1), torch.ones(3))


def test_cross_attention_weights_are_text_to_image_and_ignore_nothing_real(batch):
    model = models.CrossAttentionFusion(_cfg(), 8, 2).eval()
    out = model(*batch, output_attentions=True)
    (w,) = out.cross_attentions
    assert w.shape == (3, 2, 6, 16)  # (batch, heads, words, patches)
    assert torch.allclose(w.sum(-1), torch.ones(3, 2, 6), atol=1e-5)


def test_early_fusion_marks_the_image_tokens_with_token_type_one(batch):
    model = models.EarlyFusion(_cfg(), 8, 2).eval()
    with torch.no_grad():
        x, mask = model.embed(*batch)
        model.bert.embeddings.token_type_embeddings.weight[1] += 1.0  # change the image type embedding
        x2, _ = model.embed(*batch)
    assert x.shape == (3, 6 + 16, 32) and mask.shape == (3, 22) and mask[:, 6:].all()
    assert torch.equal(x[:, :6], x2[:, :6]) and not torch.allclose(x[:, 6:], x2[:, 6:])


def test_itm_negatives_never_the_true_pair_nor_the_same_label():
    labels = np.repeat(np.arange(10), 5)
    for seed in range(20):
        neg = objectives.itm_negatives(labels, np.random.default_rng(seed))
        assert neg.shape == (50,) and np.all(neg != np.arange(50))
        assert np.all(labels[neg] != labels)
    spread = {int(objectives.itm_negatives(labels, np.random.default_rng(s))[0]) for s in range(50)}
    assert len(spread) > 10  # random partners, not a fixed shift
    with pytest.raises(ValueError, match="different label"):
        objectives.itm_negatives(np.zeros(3), np.random.default_rng(0))


def test_itm_pairs_are_balanced_and_every_negative_shows_another_digit():
    caps = md.digit_captions("validation")
    pairs = objectives.itm_pairs(caps, np.random.default_rng(0))
    n = len(caps)
    assert len(pairs) == 2 * n and pairs.labels.sum() == n
    assert pairs.texts[:n] == caps.texts and pairs.texts[n:] == caps.texts  # every caption once with each label
    assert np.array_equal(pairs.images[:n], caps.images)  # positives: the caption's own image
    shown = pairs.classes[n:]  # negatives: the digit in the image differs from the caption's digit
    assert np.all(shown != caps.classes)


def test_info_nce_matches_a_hand_computed_value():
    img = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    txt = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    tau = 0.5
    # cosines: [[1, 1/√2], [0, 1/√2]] → logits = cos / τ = [[2, √2], [0, √2]]
    r = math.sqrt(2)
    i2t = (-math.log(math.exp(2) / (math.exp(2) + math.exp(r)))
           - math.log(math.exp(r) / (math.exp(0) + math.exp(r)))) / 2  # rows
    t2i = (-math.log(math.exp(2) / (math.exp(2) + math.exp(0)))
           - math.log(math.exp(r) / (math.exp(r) + math.exp(r)))) / 2  # columns
    assert objectives.info_nce(img, txt, tau).item() == pytest.approx((i2t + t2i) / 2, abs=1e-6)


def test_info_nce_is_symmetric_and_the_temperature_gets_a_gradient():
    torch.manual_seed(0)
    a, b = torch.randn(5, 8), torch.randn(5, 8)
    tau = torch.tensor(0.1, requires_grad=True)
    loss = objectives.info_nce(a, b, tau)
    assert torch.allclose(loss, objectives.info_nce(b, a, tau))
    loss.backward()
    assert tau.grad is not None and tau.grad.abs() > 0


def test_dual_encoder_loss_and_unit_embeddings(batch):
    model = models.DualEncoder(_cfg(), 8, 2, embed_dim=16).eval()
    ids, mask, images = batch
    t, i = model.encode_text(ids, mask), model.encode_image(images)
    assert t.shape == i.shape == (3, 16) and torch.allclose(t.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert model.temperature.item() == pytest.approx(0.07, rel=1e-5)
    assert torch.isfinite(model(ids, mask, images))


def test_retrieval_recall_counts_the_rank_of_the_match():
    sim = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.5, 0.7], [0.3, 0.2, 0.1]])
    # query 0: match first; query 1: match third (0.8, 0.7 above 0.5); query 2: match third
    assert objectives.retrieval_recall(sim, ks=(1, 2, 3)) == {1: pytest.approx(1 / 3), 2: pytest.approx(1 / 3), 3: 1.0}


def test_distinct_class_batches_cover_everything_once_without_repeated_classes():
    classes = np.repeat(np.arange(4), [3, 5, 2, 4])
    batches = objectives.distinct_class_batches(classes, np.random.default_rng(0))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(classes)))
    assert all(len(set(classes[b])) == len(b) for b in batches)


def test_text_pooling_options_mean_of_real_tokens_or_the_cls_pooler(batch):
    ids, mask, _ = batch
    torch.manual_seed(0)
    enc = encoders.TextEncoder(_cfg()).eval()
    cls = encoders.TextEncoder(_cfg(), pooling="cls").eval()
    cls.load_state_dict(enc.state_dict())
    out = enc.bert(ids, attention_mask=mask)
    torch.testing.assert_close(enc(ids, mask)[1], masked_mean(out.last_hidden_state, mask))
    torch.testing.assert_close(cls(ids, mask)[1], out.pooler_output)
    with pytest.raises(ValueError, match="text pooling"):
        encoders.TextEncoder(_cfg(), pooling="max")


@pytest.mark.parametrize("kind", ["cnn", "patch"])
def test_mean_pooled_image_ignores_where_a_feature_is_and_flatten_does_not(kind):
    torch.manual_seed(0)
    mean_enc = encoders.make_image_encoder(kind, _cfg(), 8, 4, pooling="mean").eval()
    tokens = torch.randn(1, 4 if kind == "patch" else 16, 32)
    if kind == "patch":  # pooling reads the tokens: permuting the patches leaves the mean unchanged
        flat_enc = encoders.ImageEncoder(_cfg(), 8, 4).eval()
        perm = tokens[:, torch.randperm(4)]
        torch.testing.assert_close(mean_enc.pool(tokens), mean_enc.pool(perm))
        assert not torch.allclose(flat_enc.pool(tokens), flat_enc.pool(perm))
    else:  # the CNN's pooled vector is one row of features per image
        assert mean_enc(torch.rand(3, 8, 8))[1].shape == (3, 32)
        assert mean_enc.pool.in_features == 16 and encoders.SmallCNN(1, 32).pool.in_features == 16 * 16
    with pytest.raises(ValueError, match="image pooling"):
        encoders.make_image_encoder(kind, _cfg(), 8, 4, pooling="max")


def test_masked_mean_ignores_padding():
    tokens = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert masked_mean(tokens, torch.tensor([[1, 1, 0]])).item() == 2.0


@pytest.fixture(scope="module")
def claims():
    tr, te = md.digit_claims("train"), md.digit_claims("test")
    tok = WordPieceTokenizer(md.word_vocab(list(md.CLAIMS)))
    return training.to_tensors(tr, tok), training.to_tensors(te, tok), len(tok)


def test_unimodal_baselines_are_exactly_at_chance_on_the_both_modalities_task(claims):
    dtr, dte, vocab = claims
    cfg = tiny_config(vocab, hidden_size=32, num_hidden_layers=1, max_position_embeddings=64)
    torch.manual_seed(0)
    image_only = models.ImageOnly(cfg, 8, 2, encoder="cnn")
    fine_tune(image_only, dtr, epochs=1, lr=3e-3, batch_size=64)
    text_only = models.TextOnly(cfg)
    # whatever a unimodal model predicts, each image has 2 yes + 2 no claims and each claim is
    # true for half of the images: its accuracy is exactly 1/2
    assert accuracy(predict_logits(image_only, dte), dte["labels"]) == 0.5
    assert accuracy(predict_logits(text_only, dte), dte["labels"]) == 0.5


def test_late_fusion_solves_the_both_modalities_task():
    from bertlab.runs.fusion import chapter_setup

    tok, cfg = chapter_setup()  # chapter 08's tokenizer and 1-layer config
    dtr, dte = (training.to_tensors(md.digit_claims(s), tok) for s in ("train", "test"))
    torch.manual_seed(0)
    model = models.LateFusionConcat(cfg, 8, 4, encoder="patch")  # the steadier encoder over seeds (chapter 08)
    history = fine_tune(model, dtr, epochs=4, lr=3e-3, batch_size=64)  # the course's recipe, clipping at 1.0
    assert np.mean(history.losses[-20:]) < np.mean(history.losses[:20])
    assert accuracy(predict_logits(model, dte), dte["labels"]) > 0.9


def test_the_fusion_command_chooses_the_learning_rate_on_validation_and_reports_sd_with_ddof_1():
    from bertlab.runs.fusion import summarize

    def run(lr, seed, val, test, collapsed=False):
        return {"section": "claims", "model": "m", "group": "fusion", "lr": lr, "seed": seed, "val": val,
                "test": test, "collapsed": collapsed, "seconds": 1.0, "best_step": 10, "steps_per_epoch": 10}

    runs = [run(1e-3, s, 0.90, t) for s, t in enumerate((0.80, 0.82, 0.84))]
    runs += [run(3e-3, s, 0.80, 0.99) for s in range(3)]  # best on test, worse on validation: not chosen
    runs += [run(1e-3, 3, 0.90, 0.50, collapsed=True)]  # a collapsed run is named, not averaged
    row = summarize(runs, "claims")["m"]
    assert row["lr"] == 1e-3 and row["n"] == 3 and row["collapsed_seeds"] == [3]
    assert row["test_mean"] == pytest.approx(0.82) and row["test_sd"] == pytest.approx(0.02)  # ddof = 1
