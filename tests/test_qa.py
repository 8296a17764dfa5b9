"""bertlab.qa and the tokenizer's character offsets: SQuAD metrics, windows, decoding, the span head."""

from __future__ import annotations

import random

import pytest
import torch

from bertlab import data, qa
from bertlab.tokenizer import WordPieceTokenizer, basic_tokenize, basic_tokenize_with_offsets
from bertlab.weights import minilm_path
from tests.test_tokenizer import HARD_CASES


@pytest.fixture(scope="module")
def toks():
    from transformers import BertTokenizer

    return WordPieceTokenizer.from_file(minilm_path() / "vocab.txt"), BertTokenizer.from_pretrained(str(minilm_path()))


@pytest.fixture(scope="module")
def course_texts():
    """KJV verses (every 7th), every 5th review sentence and the tokenizer's hard cases."""
    verses = [v for _, vs in data.load_bible_chapters() for v in vs][::7]
    return verses + data.load_sentiment("train")[0][::5] + HARD_CASES


# ---- character offsets ------------------------------------------------------------------------
def test_offsets_match_transformers_on_the_course_texts(toks, course_texts):
    ours, hf = toks
    enc = hf(course_texts, add_special_tokens=False, return_offsets_mapping=True)
    mismatches = []
    for text, ids, offsets in zip(course_texts, enc["input_ids"], enc["offset_mapping"]):
        tokens, mine = ours.tokenize_with_offsets(text)
        if ours.convert_tokens_to_ids(tokens) != ids or mine != [tuple(o) for o in offsets]:
            mismatches.append(text)
    assert len(course_texts) > 6000 and not mismatches, mismatches[:3]


def test_tokens_with_offsets_are_the_tokens_and_words_of_the_plain_tokenizer(toks, course_texts):
    ours, _ = toks
    for text in course_texts[::3]:
        assert ours.tokenize_with_offsets(text)[0] == ours.tokenize(text)
        assert [w for w, _, _ in basic_tokenize_with_offsets(text)] == basic_tokenize(text)


def test_each_piece_offset_points_at_the_characters_it_came_from(toks):
    ours, _ = toks
    text = "And Mahalaleel begat Jared; Beer-sheba's wells."
    tokens, offsets = ours.tokenize_with_offsets(text)
    assert [text[s:e] for s, e in offsets if True][:1] == ["And"]
    assert "".join(text[s:e] for s, e in offsets).lower() == "".join(t.replace("##", "") for t in tokens)


def test_pair_encoding_offsets_truncation_and_padding_match_transformers(toks, course_texts):
    ours, hf = toks
    rng = random.Random(0)
    for _ in range(150):
        a, b = rng.choice(course_texts), rng.choice(course_texts)
        for length in (16, 48):
            mine = ours.encode(a, b, max_length=length, padding=True, return_offsets=True)
            theirs = hf(a, b, max_length=length, truncation="longest_first", padding="max_length",
                        return_offsets_mapping=True)
            assert mine["input_ids"] == theirs["input_ids"]
            assert mine["offset_mapping"] == [tuple(o) for o in theirs["offset_mapping"]], (a, b, length)


def test_encode_without_offsets_is_unchanged(toks):
    ours, _ = toks
    assert "offset_mapping" not in ours.encode("Who begat Enos?", "Seth begat Enos.")


# ---- SQuAD v1.1 metrics --------------------------------------------------------------------------
@pytest.mark.parametrize("raw, normalised", [
    ("The Son of Nun.", "son of nun"), ("Beer-sheba", "beersheba"), ("  an   hundred  and thirty ", "hundred and thirty"),
    ("Anathoth", "anathoth"), ("A, an; THE!", ""), ("Esau's wife", "esaus wife"), ("“Zion”", "“zion”"),
])
def test_normalize_answer_lowercases_deletes_ascii_punctuation_drops_whole_word_articles(raw, normalised):
    assert qa.normalize_answer(raw) == normalised


@pytest.mark.parametrize("prediction, truth, em, f1", [
    ("Joshua the son of Nun", "Nun", False, 0.4),
    ("an hundred and thirty", "hundred and thirty years", False, 2 * 1 * 0.75 / 1.75),
    ("Abi Abi", "Abi", False, 2 / 3),  # a bag of words, not a set
    ("the Jordan", "Jordan", True, 1.0),
    ("Jared", "Jarah", False, 0.0),  # words, not characters
    ("the", "a", True, 0.0),  # both empty after normalisation: EM 1, F1 0 in v1.1
    ("", "Nun", False, 0.0),
])
def test_exact_match_and_f1_on_tricky_strings(prediction, truth, em, f1):
    assert qa.exact_match_score(prediction, truth) is em
    assert qa.f1_score(prediction, truth) == pytest.approx(f1)


def test_scores_take_the_best_reference_and_average_in_percent():
    s = qa.squad_scores(["Nun", "Joshua son"], [["Joshua", "Nun"], ["Joshua"]])
    assert s["exact_match"] == pytest.approx(50.0) and s["f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    with pytest.raises(ValueError, match="reference"):
        qa.metric_max_over_ground_truths(qa.f1_score, "x", [])


# ---- windows ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, cap, stride, starts", [(10, 4, 1, [0, 3, 6]), (11, 4, 1, [0, 3, 6, 9]), (3, 4, 1, [0]),
                                                    (5, 4, 2, [0, 2]), (100, 50, 0, [0, 50])])
def test_window_starts_overlap_cover_everything_and_stop_at_the_end(n, cap, stride, starts):
    assert qa.window_starts(n, cap, stride) == starts


def test_window_starts_rejects_a_stride_that_would_never_advance():
    with pytest.raises(ValueError, match="stride"):
        qa.window_starts(10, 4, 4)


@pytest.fixture(scope="module")
def qa_set():
    from bertlab.qa_data import load_qa

    return load_qa()


def test_windows_equal_transformers_overflowing_tokens_with_stride(toks, qa_set):
    ours, hf = toks
    for ex in qa_set.test[:60]:
        for length, stride in ((40, 8), (64, 16)):
            windows = qa.encode_qa(ours, ex.question, ex.context, max_length=length, stride=stride)
            theirs = hf(ex.question, ex.context, truncation="only_second", max_length=length, stride=stride,
                        return_overflowing_tokens=True, return_offsets_mapping=True)
            assert [w.input_ids for w in windows] == theirs["input_ids"]
            assert [w.token_type_ids for w in windows] == theirs["token_type_ids"]
            for w, seq, offs in zip(windows, (theirs.sequence_ids(i) for i in range(len(windows))),
                                    theirs["offset_mapping"]):
                assert w.offsets == [tuple(o) if s == 1 else None for s, o in zip(seq, offs)]


@pytest.mark.parametrize("length, stride", [(48, 12), (128, 32)])
def test_every_answer_is_recoverable_exactly_from_some_window(toks, qa_set, length, stride):
    ours, _ = toks
    examples = qa_set.train[:800] + qa_set.test
    feats = qa.encode_examples(ours, examples, max_length=length, stride=stride)
    found = set()
    for w in feats["windows"]:
        assert len(w.input_ids) <= length
        if w.start_position:
            ex = examples[w.example]
            assert qa.span_to_text(ex.context, w.offsets, w.start_position, w.end_position) == ex.answers[0]
            found.add(w.example)
    assert found == set(range(len(examples)))
    assert len(feats["windows"]) > len(examples)  # some contexts did need several windows


def test_only_the_context_is_truncated_and_the_question_is_in_every_window(toks, qa_set):
    ours, _ = toks
    ex = max(qa_set.test, key=lambda e: len(e.context))
    windows = qa.encode_qa(ours, ex.question, ex.context, max_length=40, stride=10)
    q = ours.convert_tokens_to_ids(ours.tokenize(ex.question))
    assert len(windows) > 2
    for w in windows:
        assert w.input_ids[1:1 + len(q)] == q and w.token_type_ids[len(q) + 2] == 1
        assert w.offsets[:len(q) + 2] == [None] * (len(q) + 2) and w.offsets[-1] is None


def test_a_window_without_the_whole_answer_points_at_cls(toks):
    ours, _ = toks
    context = " ".join(["And Adam begat Seth."] * 8) + " And Seth begat Enos."
    start = context.rindex("Enos")
    windows = qa.encode_qa(ours, "Whom did Seth beget?", context, start, "Enos", max_length=24, stride=4)
    assert windows[0].start_position == windows[0].end_position == 0
    assert windows[-1].start_position > 0


# ---- decoding ----------------------------------------------------------------------------------------
def _brute_force(s, e, mask, max_len):
    best = None
    for i in range(len(s)):
        for j in range(i, min(len(s), i + max_len)):
            if mask[i] and mask[j] and (best is None or s[i] + e[j] > best[0]):
                best = (float(s[i] + e[j]), i, j)
    return best[1], best[2]


def test_best_span_is_the_constrained_joint_maximum_on_random_logits():
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        t = int(torch.randint(4, 30, (1,), generator=g))
        s, e = torch.randn(t, generator=g), torch.randn(t, generator=g)
        mask = torch.rand(t, generator=g) > 0.4
        if not mask.any():
            continue
        k = int(torch.randint(1, 6, (1,), generator=g))
        got = qa.best_span(s, e, mask, k)
        assert got == _brute_force(s.tolist(), e.tolist(), mask.tolist(), k)
        assert mask[got[0]] and mask[got[1]] and 0 <= got[1] - got[0] < k


def test_independent_argmaxes_can_give_an_end_before_the_start():
    s = torch.tensor([0.0, 0.1, 0.2, 3.0, 0.1])
    e = torch.tensor([0.0, 2.5, 0.1, 0.2, 0.3])
    mask = torch.tensor([False, True, True, True, True])
    assert int(s.argmax()) > int(e.argmax())
    assert qa.best_span(s, e, mask, 30) in {(1, 1), (3, 4)}


def test_decode_takes_the_best_window_and_returns_the_exact_substring(toks):
    ours, _ = toks
    context = "Cainan lived seventy years, and begat Mahalaleel. " * 4 + "And Mahalaleel begat Jared."
    ex = qa.QAExample("Whom did Mahalaleel beget?", context, ["Jared"], [context.rindex("Jared")])
    feats = qa.encode_examples(ours, [ex], max_length=32, stride=8)
    logits = torch.zeros(len(feats["windows"]), feats["input_ids"].shape[1], 2)
    last = feats["windows"][-1]
    logits[-1, last.start_position, 0] = logits[-1, last.end_position, 1] = 5.0
    logits[0, 6, 0] = logits[0, 6, 1] = 2.0  # a weaker span in the first window
    pred = qa.decode(logits, feats, [ex])[0]
    assert pred.text == "Jared" and pred.window == len(feats["windows"]) - 1 and pred.score == pytest.approx(10.0)


# ---- the head and its loss ----------------------------------------------------------------------------
def test_span_head_and_loss_equal_transformers_bert_for_question_answering(toks):
    from transformers import BertForQuestionAnswering as HFQA

    ours_tok, _ = toks
    model, _ = qa.qa_model(minilm_path(), seed=0)
    model.eval()
    hf = HFQA.from_pretrained(str(minilm_path())).eval()
    with torch.no_grad():
        hf.qa_outputs.weight.copy_(model.classifier.weight)
        hf.qa_outputs.bias.copy_(model.classifier.bias)
    enc = ours_tok.encode_batch(["Who begat Enos?", "Whose son was Joshua?"],
                                ["And Seth begat Enos.", "Joshua the son of Nun, Moses' minister."])
    starts, ends = torch.tensor([5, 8]), torch.tensor([5, 10])
    out = model(**enc)
    ref = hf(**enc, start_positions=starts, end_positions=ends)
    torch.testing.assert_close(out.start_logits, ref.start_logits, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out.end_logits, ref.end_logits, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(qa.qa_loss(out.logits, starts, ends), ref.loss, atol=1e-5, rtol=1e-4)


def test_training_lowers_the_loss_and_learns_a_tiny_set():
    from bertlab.model import BertConfig
    from bertlab.tokenizer import SPECIAL_TOKENS

    contexts = ["And Seth begat Enos.", "And Enos begat Cainan.", "And Cainan begat Mahalaleel."]
    words = sorted({w for c in contexts for w in basic_tokenize(c + " whom did beget?")})
    ours = WordPieceTokenizer(list(SPECIAL_TOKENS) + words)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(ours), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    model = qa.BertForQuestionAnswering(config)
    examples = [qa.QAExample(f"Whom did {c.split()[1]} beget?", c, [c.split()[3][:-1]], [c.index(c.split()[3])])
                for c in contexts]
    feats = qa.encode_examples(ours, examples * 8, max_length=32)
    res = qa.train_qa(model, feats, epochs=12, lr=5e-3, batch_size=8)
    assert res.losses[-1] < res.losses[0] / 3
    assert qa.evaluate(model, qa.encode_examples(ours, examples), examples)["exact_match"] == 100.0


def test_bad_inputs_give_clear_errors(toks):
    ours, _ = toks
    with pytest.raises(ValueError, match="not at character"):
        qa.QAExample("q", "Seth begat Enos", ["Enos"], [0])
    with pytest.raises(ValueError, match="no room"):
        qa.encode_qa(ours, "Whom " * 30, "context", max_length=20, max_query_length=64)
    with pytest.raises(ValueError, match="selects no token"):
        qa.best_span(torch.zeros(3), torch.zeros(3), torch.zeros(3, dtype=torch.bool))
