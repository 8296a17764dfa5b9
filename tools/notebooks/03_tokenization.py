# %% [markdown]
# # 03 · Tokenization: from text to BERT's input ids
#
# **What you will build:** BERT's tokenizer — the *basic* tokenizer (clean-up, accents, punctuation,
# Chinese characters) and *WordPiece* (greedy longest-match-first subwords with `##` continuations) —
# then the encoding of sentence pairs (`[CLS] A [SEP] B [SEP]`, segment ids, attention mask), and the
# training of a WordPiece vocabulary on the course's corpus. With the real bert-base-uncased vocabulary it
# agrees with `transformers.BertTokenizer` on every sentence we have (measured below).
#
# **You need:** chapter 02 (segment ids and positions index the embedding tables). Three exercises:
# WordPiece for one word, building a sentence pair, the attention mask.

# %%
import time
import unicodedata

import matplotlib.pyplot as plt
import numpy as np

import bertlab
from bertlab import checks as check
from bertlab import data
from bertlab import tokenizer as T

plt.rcParams["figure.dpi"] = 80

# %% [markdown]
# ## 1. Why subwords?
# A word-level vocabulary must stop somewhere: every word outside it becomes "unknown". Characters never
# miss but make sequences long and each symbol meaningless. Subwords sit between: frequent words stay
# whole, rare words are split into known pieces. How many distinct words does our corpus have, and how
# many appear only once?

# %%
bible = data.load_pretraining_corpus("train")
reviews, labels = data.load_sentiment("train")
words = [w for doc in bible for verse in doc for w in T.basic_tokenize(verse)]
words += [w for s in reviews for w in T.basic_tokenize(s)]
counts = {}
for w in words:
    counts[w] = counts.get(w, 0) + 1
once = sum(1 for c in counts.values() if c == 1)
print(f"{len(words):,} words, {len(counts):,} distinct; {once:,} ({once / len(counts):.0%}) of the distinct words occur once")

# %% [markdown]
# ## 2. The basic tokenizer, step by step
# **Clean-up:** control characters are removed and every kind of whitespace (tab, newline, no-break
# space, ideographic space …) becomes a plain space.

# %%
raw = "Tab\there,\x07bell\x00 and a no\u00a0break space."
print(repr(raw), "→", repr(T.clean_text(raw)))

# %% [markdown]
# **Lower-casing and accent stripping** (for "uncased" models): decompose each character (Unicode NFD),
# which splits `é` into `e` + a combining acute accent (category *Mn*), and drop the combining marks.

# %%
word = "Café"
nfd = unicodedata.normalize("NFD", word)
print([f"{ch!r} {unicodedata.category(ch)}" for ch in nfd])
print(T.strip_accents(word).lower(), T.basic_tokenize("Crème BRÛLÉE, naïve résumé"))

# %% [markdown]
# **Punctuation** is split off into tokens of its own, and **CJK characters** each become a token
# (Chinese is written without spaces, so each character is treated as a word). Whether a character then
# has an id depends on the vocabulary: the English uncased vocabulary used in this course has only a few
# hundred Chinese characters, and the others become `[UNK]` (section 4 counts them):

# %%
print(T.basic_tokenize("Hello!!! It's $3.50, isn't it?"))
print(T.basic_tokenize("我爱自然语言处理。BERT也是。"))

# %% [markdown]
# ## 3. WordPiece: greedy longest-match-first
# For each word: take the **longest** vocabulary entry that starts it; then the longest entry of the
# form `##rest` for what remains, and so on. If at some point nothing matches, the **whole word** becomes
# `[UNK]` (not just the unmatched tail). Words longer than 100 characters are `[UNK]` directly.
#
# ### Exercise 1 — `wordpiece_word(word, vocab)`
# `vocab` is a set of strings. Return the list of pieces.

# %% tags=["exercise:wordpiece_word"]
def wordpiece_word(word, vocab, unk="[UNK]", max_chars=100):
    """Greedy longest-match-first WordPiece of one (already basic-tokenized) word."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.wordpiece_word(wordpiece_word)

# %%
from bertlab.tokenizer import wordpiece

bertlab.show(wordpiece)

# %% [markdown]
# ## 4. The real vocabulary: bert-base-uncased
# The MiniLM checkpoint we load in chapter 04 ships the bert-base-uncased vocabulary (30,522 entries:
# `[PAD]`=0, `[UNK]`=100, `[CLS]`=101, `[SEP]`=102, `[MASK]`=103, ~1,000 unused slots, characters, whole
# words and `##` pieces). Watch the greedy search on a rare word:

# %%
from bertlab.weights import minilm_path

tok = T.WordPieceTokenizer.from_file(minilm_path() / "vocab.txt")
print(len(tok), "tokens; specials:", {t: tok.vocab[t] for t in T.SPECIAL_TOKENS})
for w in ["unaffable", "tokenization", "moviegoers", "jehoshaphat"]:
    print(f"{w:>14} → {tok.tokenize(w)}")

# %% [markdown]
# Back to the Chinese sentences of section 2: the basic tokenizer makes each character a word, but most of
# those characters are **not** in this vocabulary and become `[UNK]`. Counted over the whole main block of
# CJK ideographs (U+4E00 … U+9FFF):

# %%
for text in ["我爱自然语言处理。BERT也是。", "北京是中国的首都。"]:
    words = T.basic_tokenize(text)
    print(tok.tokenize(text), " [UNK]:", "".join(w for w in words if tok.tokenize(w) == ["[UNK]"]))
cjk = [chr(c) for c in range(0x4E00, 0xA000)]
covered = sum(ch in tok.vocab for ch in cjk)
print(f"{covered:,} of {len(cjk):,} CJK ideographs ({covered / len(cjk):.1%}) have an id in bert-base-uncased's vocabulary")
assert covered < 0.05 * len(cjk)

# %% [markdown]
# Chinese needs a vocabulary trained on Chinese text: Google's `bert-base-chinese` and
# `bert-base-multilingual` vocabularies list thousands of characters.

# %% [markdown]
# ### Parity with the reference implementation
# `transformers.BertTokenizer` (backed by the Rust `tokenizers` library) is the reference. We compare
# token ids on a sample of both corpora plus hard cases (accents, CJK, emoji, punctuation runs, digits,
# a 150-character word, control characters, empty and whitespace-only strings, Greek capitals, ligatures,
# full-width letters, literal `[MASK]`). The test suite runs the same comparison on **every** sentence of
# both corpora (31,103 verses + 12,752 review sentences = 43,855) plus 40 hard cases: 100 % identical.

# %%
from transformers import BertTokenizer

hf = BertTokenizer.from_pretrained(str(minilm_path()))
hard_cases = ["Café déjà vu naïve résumé", "北京是中国的首都。", "한국어 문장", "emoji 😀👍🏽 test", "!!!???...---",
              "$100,000.00 at 3.5%", "a" * 150, "ctrl\x00\x01\x07chars", "", "   \t\n  ", "İstanbul ΟΔΥΣΣΕΥΣ",
              "straße ﬁ Ｆｕｌｌｗｉｄｔｈ", "non\u00a0breaking", "the [MASK] sat", "don't won't it's", "🤷‍♀️"]
rng = np.random.default_rng(0)
verses = [v for doc in bible for v in doc]
sample = [verses[i] for i in rng.choice(len(verses), 1500, replace=False)]
sample += [reviews[i] for i in rng.choice(len(reviews), 1500, replace=False)] + hard_cases
theirs = hf(sample, add_special_tokens=False)["input_ids"]
same = sum(tok.convert_tokens_to_ids(tok.tokenize(s)) == t for s, t in zip(sample, theirs))
print(f"agreement: {same}/{len(sample)} = {same / len(sample):.1%}")
for s in hard_cases[:7]:
    print(f"{s[:30]!r:>34} → {tok.tokenize(s)[:10]}")
assert same == len(sample)

# %% [markdown]
# One subtlety found this way: the Rust tokenizer lower-cases **character by character**, so `ΟΔΥΣΣΕΥΣ`
# becomes `οδυσσευσ` (Python's `str.lower()` would write a final `ς`). We follow the reference.
#
# ## 5. Encoding: `[CLS] A [SEP] B [SEP]`, segments and padding
# BERT reads one or two segments. `[CLS]` starts the input (its final vector summarises the sequence),
# `[SEP]` ends each segment. Segment ids (token type ids) are 0 for `[CLS]`, A and the first `[SEP]`, 1
# for B and the last `[SEP]`.
#
# ### Exercise 2 — `build_pair(tokens_a, tokens_b)`
# Return `(tokens, token_type_ids)`.

# %% tags=["exercise:build_pair"]
def build_pair(tokens_a, tokens_b):
    """[CLS] A [SEP] B [SEP] and the segment id of each token."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.build_pair(build_pair)

# %% [markdown]
# Batches need equal lengths: shorter inputs are padded with `[PAD]` (id 0), and the **attention mask**
# marks real tokens with 1 and padding with 0, so that attention ignores the padding (chapter 01).
#
# ### Exercise 3 — `attention_mask_from_ids(input_ids, pad_id)`
# `input_ids` is a list of equally long lists; return 1 where the id is not `pad_id`, else 0.

# %% tags=["exercise:attention_mask_from_ids"]
def attention_mask_from_ids(input_ids, pad_id):
    """1 for real tokens, 0 for padding, same shape as input_ids."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.attention_mask_from_ids(attention_mask_from_ids)

# %% [markdown]
# The package's `encode` does all of it, with **longest-first truncation** for pairs (cut the longer
# segment first) — checked against `transformers` on random pairs:

# %%
enc = tok.encode("The cat sat on the mat.", "It was very comfortable, the cat thought.", max_length=16, padding=True)
for key, values in enc.items():
    print(f"{key:>15}: {values}")
print(" " * 17 + str(tok.convert_ids_to_tokens(enc["input_ids"])))
print("decoded:", tok.decode(enc["input_ids"]))
pairs = [(reviews[i], verses[j]) for i, j in zip(rng.choice(len(reviews), 200), rng.choice(len(verses), 200))]
agree = sum(tok.encode(a, b, max_length=32, padding=True) ==
            {k: v for k, v in hf(a, b, max_length=32, truncation="longest_first", padding="max_length").items()}
            for a, b in pairs)
print(f"pair encodings identical to transformers: {agree}/{len(pairs)}")
assert agree == len(pairs)

# %% [markdown]
# ## 6. Training a WordPiece vocabulary
# The bert-base vocabulary was learned from English Wikipedia and books. We can learn one from our own
# corpus (chapter 05 pre-trains on the KJV with such a vocabulary):
#
# 1. split the corpus into words with the basic tokenizer and count them;
# 2. start from characters: a word's first character as itself, the others as `##c`;
# 3. repeatedly merge the best adjacent pair of pieces into a new token;
# 4. stop at the vocabulary size you asked for.
#
# What "best" means is where two algorithms part. **WordPiece** proper (Schuster & Nakajima 2012; the
# algorithm behind Google's BERT vocabulary, whose trainer was never released) merges the pair that most
# raises the likelihood of the training text under a model of independent pieces — usually written as the
# score count(xy) / (count(x)·count(y)): pairs whose parts rarely occur apart. **BPE** merges the most
# *frequent* pair, count(xy). The `tokenizers` library's `WordPieceTrainer` actually runs BPE merges, and so
# does this package by default: `train_wordpiece(texts, size)` ranks by frequency (what the course's
# vocabularies, chapter 05's included, are trained with); `score="likelihood"` ranks by the WordPiece
# score. Both then tokenize with the same greedy longest-match of section 3. Their first merges on 3,000
# training verses:

# %%
texts = verses[:3000]
first_merges = {}
for score in ("frequency", "likelihood"):
    v = T.train_wordpiece(texts, 160, score=score)
    alphabet = [t for t in v[5:] if len(t.replace("##", "")) == 1]
    first_merges[score] = v[5 + len(alphabet): 5 + len(alphabet) + 20]
print(f"{len(alphabet)} single characters, then the first 20 merges")
for score, merges in first_merges.items():
    print(f"{score:>10}: {' '.join(merges)}")

# %% [markdown]
# Frequency builds the commonest words first (`th`, `the`, `and`, `of`); likelihood first glues letters
# that almost never appear apart (`##zz`, `qu`) and rare names (`egypt`, `uzzi`). The rest of the course
# uses the frequency ranking.
#
# %% [markdown]
# A bigger vocabulary means fewer pieces per word (shorter sequences, bigger embedding table). Merges are
# added one at a time, so the vocabulary of 250 tokens is exactly the first 250 entries of the one of 4,000:
# one training run gives every size. Measured on text no vocabulary saw: 1,000 verses of the corpus's
# **held-out** chapters (`load_pretraining_corpus("heldout")`, never used for training anything in the
# course) and 1,000 validation review sentences:

# %%
# NBVAL_IGNORE_OUTPUT
heldout_verses = [v for doc in data.load_pretraining_corpus("heldout") for v in doc]
heldout_reviews = data.load_sentiment("validation")[0]
eval_words = [w for s in heldout_verses[:1000] + heldout_reviews[:1000] for w in T.basic_tokenize(s)]
train_texts = verses[:12000]                    # training chapters only
t0 = time.perf_counter()
vocab_4000 = T.train_wordpiece(train_texts, 4000)
print(f"trained a 4,000-token vocabulary on {len(train_texts):,} training verses in {time.perf_counter() - t0:.0f} s")
sizes = [250, 500, 1000, 2000, 4000]
per_word = []
for size in sizes:
    vocab = set(vocab_4000[:size])
    per_word.append(np.mean([len(wordpiece(w, vocab)) for w in eval_words]))
for size, p in zip(sizes, per_word):
    print(f"vocab {size:5d}: {p:.2f} pieces per word")
assert all(a > b for a, b in zip(per_word, per_word[1:]))  # strictly fewer pieces as the vocabulary grows

# %%
plt.figure(figsize=(5, 3))
plt.semilogx(sizes, per_word, "o-")
plt.xlabel("vocabulary size")
plt.ylabel("pieces per word")
plt.title("held-out verses and validation reviews")
plt.grid(alpha=0.3)
plt.show()

# %% [markdown]
# A vocabulary trained on the 17th-century Bible splits modern review words much more than Bible words —
# a first hint at why the corpus you pre-train on matters (chapter 06 measures it):

# %%
kjv_vocab = T.WordPieceTokenizer(vocab_4000)     # the 4,000 tokens trained above on KJV training verses


def pieces(tokenizer, sentences):
    return np.mean([len(tokenizer.tokenize(s)) / max(1, len(T.basic_tokenize(s))) for s in sentences])


eval_verses, eval_reviews = heldout_verses[-500:], heldout_reviews[:500]   # held-out chapters, validation reviews
print(f"KJV vocabulary (4,000): {pieces(kjv_vocab, eval_verses):.2f} pieces/word on held-out verses, "
      f"{pieces(kjv_vocab, eval_reviews):.2f} on reviews")
print(f"bert-base (30,522):     {pieces(tok, eval_verses):.2f} pieces/word on held-out verses, "
      f"{pieces(tok, eval_reviews):.2f} on reviews")
assert pieces(kjv_vocab, eval_reviews) > pieces(kjv_vocab, eval_verses)

# %% [markdown]
# ## Summary
# - Basic tokenizer: clean, space out CJK, lower-case + strip accents (NFD), split on whitespace and punctuation.
# - WordPiece: longest match first, `##` continuations, the whole word `[UNK]` when stuck or > 100 characters.
# - Training: BPE-style frequency merges (the package's default, as in `tokenizers`) or WordPiece's
#   likelihood score (`score="likelihood"`); the uncased English vocabulary lacks most Chinese characters.
# - Input: `[CLS] A [SEP] B [SEP]`, segment ids 0/1, attention mask 1/0, longest-first truncation.
# - Our tokenizer equals `transformers.BertTokenizer` on all 43,855 corpus sentences and the hard cases.
#
# **Going further:** SentencePiece/Unigram (ALBERT, T5, XLM-R) and byte-level BPE (GPT-2, RoBERTa) avoid
# `[UNK]` entirely. Chapter 04 feeds these ids into a real pretrained encoder.

# %%
import bertlab

bertlab.progress("03")  # this chapter's exercises: ✅ passed, ❌ failed, ✏️ not yet (recorded in your workspace only)
