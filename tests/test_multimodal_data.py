"""The chapter-08 data: the both-modalities task is balanced by construction; scenes are what they say."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from bertlab import multimodal_data as md


@pytest.fixture(scope="module")
def train():
    return md.digit_claims("train")


@pytest.fixture(scope="module")
def test():
    return md.digit_claims("test")


def test_answers_are_the_truth_of_the_claim_about_the_digit(train):
    for text, digit, label in zip(train.texts, train.classes, train.labels):
        assert label == int(digit in md.CLAIMS[text])


def test_text_alone_is_at_chance_by_construction(train, test):
    # every claim is true for exactly half of its examples: P(yes | text) = 1/2 for every text
    for data in (train, test):
        by_text = collections.defaultdict(list)
        for t, y in zip(data.texts, data.labels):
            by_text[t].append(y)
        assert set(by_text) == set(md.CLAIMS)
        assert all(np.mean(ys) == 0.5 for ys in by_text.values())


def test_image_alone_is_at_chance_by_construction(train, test):
    # every image comes with two true and two false claims: P(yes | image) = 1/2 for every image
    for data in (train, test):
        yes = np.bincount(data.image_ids, weights=data.labels)
        seen = np.bincount(data.image_ids)
        assert np.all(yes[seen > 0] == 2) and np.all(seen[seen > 0] == 4)


def test_every_digit_equally_often_and_the_three_splits_share_no_image(train, test):
    val = md.digit_claims("validation")
    for data in (train, val, test):
        assert len(set(np.bincount(data.classes, minlength=10))) == 1
    assert not set(train.image_ids) & set(test.image_ids)
    assert not set(val.image_ids) & (set(train.image_ids) | set(test.image_ids))
    assert len(test) == 4 * 10 * 35 and len(val) == 4 * 10 * 17 and len(train) == 4 * 10 * 122


def test_validation_split_is_balanced_like_the_others():
    val = md.digit_claims("validation")
    assert all(np.mean(val.labels[np.array(val.texts) == claim]) == 0.5 for claim in md.CLAIMS)
    yes = np.bincount(val.image_ids, weights=val.labels)
    assert set(yes[np.bincount(val.image_ids) > 0]) == {2.0}


def test_same_images_as_the_digits_data_set(train):
    from sklearn.datasets import load_digits

    raw = load_digits()
    i = train.image_ids[0]
    images, digits = md.balanced_digits()
    assert np.array_equal(train.images[0], images[i]) and train.classes[0] == digits[i]
    match = np.flatnonzero(np.all(raw.images / 16.0 == images[i], axis=(1, 2)))
    assert len(match) >= 1 and raw.target[match[0]] == digits[i]


def test_digit_claims_is_deterministic():
    a, b = md.digit_claims("test", seed=0), md.digit_claims("test", seed=0)
    assert np.array_equal(a.image_ids, b.image_ids) and a.texts == b.texts


def test_bad_split_and_fractions_are_named():
    with pytest.raises(ValueError, match="split"):
        md.digit_claims("dev")
    with pytest.raises(ValueError, match="sum < 1"):
        md.digit_claims("train", test_fraction=0.6, validation_fraction=0.5)


def test_digit_captions_one_per_image():
    caps = md.digit_captions("test")
    assert len(caps) == 350 and len(set(caps.image_ids)) == 350
    assert caps.texts[0] == md.digit_prompt(caps.classes[0]) and md.digit_prompt(7) == "a handwritten seven"
    assert md.digit_prompt(7, "a picture of a {}") == "a picture of a seven"


def test_chapter_vocab_covers_claims_prompts_in_every_wording_and_scenes():
    from bertlab.tokenizer import WordPieceTokenizer

    tok = WordPieceTokenizer(md.chapter_vocab())
    texts = list(md.CLAIMS) + md.make_scenes(50).texts + [
        md.digit_prompt(d, t) for t in (md.CAPTION_TEMPLATE, *md.HELD_OUT_TEMPLATES) for d in range(10)]
    assert all(tok.unk_id not in tok.encode(t)["input_ids"] for t in texts)
    train_words = {w for d in range(10) for w in md.digit_prompt(d).split()}
    for template in md.HELD_OUT_TEMPLATES:  # a held-out wording shares only the digit word and "a"
        assert set(template.format("").split()) - train_words


def test_scene_objects_are_drawn_where_and_in_the_colour_the_caption_says():
    scenes = md.make_scenes(50, size=16, seed=3)
    for img, cap in zip(scenes.images, scenes.texts):
        w = cap.split()
        first, second = (w[1], w[2]), (w[6], w[7])
        left, right = (first, second) if w[3] == "left" else (second, first)
        for (colour, _), half in ((left, img[:, :, :8]), (right, img[:, :, 8:])):
            rgb = np.array(md.COLOURS[colour], dtype=np.float32)[:, None, None]
            assert np.all(half == rgb, axis=0).sum() >= 6, cap  # the named colour is painted in that half


def test_draw_shape_areas_differ_by_shape():
    areas = {}
    for shape in md.SHAPES:
        canvas = np.zeros((3, 16, 16), np.float32)
        md.draw_shape(canvas, shape, "red", 8, 8, 4)
        areas[shape] = int((canvas[0] > 0).sum())
    assert areas["triangle"] < areas["square"] and areas["triangle"] < areas["circle"]
    with pytest.raises(ValueError, match="shape"):
        md.draw_shape(np.zeros((3, 16, 16)), "hexagon", "red", 8, 8, 4)


def test_scene_relations_same_words_same_image_only_the_relation_differs():
    rel = md.scene_relations(20, seed=1)
    assert np.array_equal(rel.labels, np.tile([1, 0], 20))
    for k in range(0, 40, 2):
        assert sorted(rel.texts[k].split()) == sorted(rel.texts[k + 1].split())  # a bag of words can't tell
        assert np.array_equal(rel.images[k], rel.images[k + 1])  # the image alone can't tell
        assert rel.texts[k] != rel.texts[k + 1]
    assert md.swap_objects("a red circle left of a blue square") == "a blue square left of a red circle"


def test_word_vocab_covers_all_texts_with_specials_first():
    from bertlab.tokenizer import WordPieceTokenizer

    texts = list(md.CLAIMS) + md.make_scenes(20).texts
    tok = WordPieceTokenizer(md.word_vocab(texts))
    assert tok.ids_to_tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert all(tok.unk_id not in tok.encode(t)["input_ids"] for t in texts)
