"""BERT's tokenizer (chapter 03): basic tokenization, then WordPiece.

1. **Basic tokenizer** — clean the text (drop control characters, map every kind of whitespace to a
   space), put spaces around CJK characters, optionally lower-case and strip accents (NFD, drop the
   combining marks), split on whitespace and punctuation.
2. **WordPiece** — each word becomes the longest vocabulary entry that starts it, then the longest
   ``##``-continuation of the rest, and so on (greedy longest-match-first). A word that cannot be pieced
   completely, or is longer than 100 characters, becomes ``[UNK]``.
3. **Encoding** — ``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]``, segment ids 0 for A (with [CLS] and
   its [SEP]) and 1 for B, an attention mask of 1s, truncation (longest-first for pairs) and padding.
4. **Character offsets** — every piece's ``(start, end)`` span in the *original* text
   (:func:`basic_tokenize_with_offsets`, :meth:`WordPieceTokenizer.tokenize_with_offsets`,
   ``encode(..., return_offsets=True)``), so a predicted token span maps back to the exact substring
   (chapter 07, question answering).

The behaviour matches ``transformers.BertTokenizer`` (the Rust ``tokenizers`` implementation)
token for token; chapter 03 and ``tests/test_tokenizer.py`` measure it.
"""

from __future__ import annotations

import collections
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MAX_CHARS_PER_WORD = 100

# The Unicode White_Space property (what the Rust tokenizer's char::is_whitespace uses).
_WHITESPACE = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000")
_WHITESPACE |= {chr(c) for c in range(0x2000, 0x200B)}


def _is_whitespace(ch: str) -> bool:
    return ch in _WHITESPACE


def _is_control(ch: str) -> bool:
    """Control and other invisible characters (categories C*), except tab/newline/carriage return."""
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch: str) -> bool:
    """ASCII symbols like $ ^ ` (not letters/digits/space) and every Unicode punctuation (P*) character."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    """CJK Unified Ideographs (the blocks BERT splits into single characters; not Hangul or kana)."""
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def clean_text(text: str) -> str:
    """Drop NUL, U+FFFD and control characters; turn every whitespace character into a plain space."""
    out = []
    for ch in text:
        if ch == "\x00" or ch == "\ufffd" or _is_control(ch):
            continue
        out.append(" " if _is_whitespace(ch) else ch)
    return "".join(out)


def space_cjk(text: str) -> str:
    """Put spaces around every CJK ideograph, so each becomes a word of its own."""
    return "".join(f" {ch} " if _is_cjk(ord(ch)) else ch for ch in text)


def strip_accents(text: str) -> str:
    """Decompose (NFD) and drop combining marks: 'café' → 'cafe'."""
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")


def split_on_punctuation(word: str) -> list[str]:
    """'hello,world!' → ['hello', ',', 'world', '!'] (every punctuation character is its own token)."""
    pieces: list[str] = []
    current = ""
    for ch in word:
        if _is_punctuation(ch):
            if current:
                pieces.append(current)
            pieces.append(ch)
            current = ""
        else:
            current += ch
    if current:
        pieces.append(current)
    return pieces


def basic_tokenize(text: str, lowercase: bool = True) -> list[str]:
    """BERT's basic tokenizer: clean, space CJK, lower-case + strip accents (if ``lowercase``), split."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    text = space_cjk(clean_text(text))
    if lowercase:
        # strip accents, then lower-case character by character (as the Rust normalizer does: no
        # context-dependent rules such as Greek final sigma), then strip marks lower-casing created (İ → i̇)
        text = strip_accents("".join(ch.lower() for ch in strip_accents(text)))
    words: list[str] = []
    for word in text.split(" "):
        if word:
            words.extend(split_on_punctuation(word))
    return words


def _normalised_words(text: str, lowercase: bool = True) -> list[list[tuple[str, int]]]:
    """The basic tokenizer's words as lists of ``(normalised character, index of its original character)``."""
    chars: list[tuple[str, int]] = []
    for i, ch in enumerate(text):
        if " " < ch < "\x7f":  # printable ASCII: the common case, fast
            chars.append((ch.lower() if lowercase else ch, i))
            continue
        if ch == "\x00" or ch == "\ufffd" or _is_control(ch):
            continue  # dropped: leaves no trace
        if _is_whitespace(ch):
            chars.append((" ", i))
        elif _is_cjk(ord(ch)):
            chars += [(" ", i), (ch, i), (" ", i)]
        elif lowercase:  # one character may become several ("İ" → "i" + a dropped mark) or none
            chars += [(c, i) for c in strip_accents("".join(x.lower() for x in strip_accents(ch)))]
        else:
            chars.append((ch, i))
    words: list[list[tuple[str, int]]] = []
    current: list[tuple[str, int]] = []
    for c, i in chars:
        if c == " " or _is_punctuation(c):
            if current:
                words.append(current)
            current = []
            if c != " ":
                words.append([(c, i)])
        else:
            current.append((c, i))
    if current:
        words.append(current)
    return words


def basic_tokenize_with_offsets(text: str, lowercase: bool = True) -> list[tuple[str, int, int]]:
    """:func:`basic_tokenize` with each word's ``(word, start, end)``: ``text[start:end]`` is where it came from.

    The same steps, one original character at a time, so every normalised character remembers the index
    of the character it came from. A word's span runs from its first character's origin to one past its
    last character's origin — what ``transformers``' offset mappings report.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    return [("".join(c for c, _ in w), w[0][1], w[-1][1] + 1) for w in _normalised_words(text, lowercase)]


def wordpiece(word: str, vocab: dict[str, int] | set[str], unk_token: str = "[UNK]",
              max_chars: int = MAX_CHARS_PER_WORD) -> list[str]:
    """Greedy longest-match-first WordPiece of one word; ``[UNK]`` if any part cannot be matched."""
    if len(word) > max_chars:
        return [unk_token]
    pieces: list[str] = []
    start = 0
    while start < len(word):
        end = len(word)
        match = None
        while start < end:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                match = piece
                break
            end -= 1
        if match is None:
            return [unk_token]  # the whole word, not just the unmatched rest
        pieces.append(match)
        start = end
    return pieces


class WordPieceTokenizer:
    """BERT's tokenizer: ``tokenize``, ``encode`` (single sentences or pairs), ``decode``.

    Args:
        vocab: the tokens in id order (a list) or a mapping token → id. Must contain the special tokens
            [PAD], [UNK], [CLS], [SEP] and [MASK].
        lowercase: lower-case and strip accents (True for "uncased" models).
    """

    def __init__(self, vocab: Sequence[str] | dict[str, int], lowercase: bool = True):
        if isinstance(vocab, dict):
            items = sorted(vocab.items(), key=lambda kv: kv[1])
            if [i for _, i in items] != list(range(len(items))):
                raise ValueError("vocab ids must be 0 … len(vocab)-1 without gaps")
            tokens = [t for t, _ in items]
        else:
            tokens = list(vocab)
        if len(set(tokens)) != len(tokens):
            dup = [t for t, n in collections.Counter(tokens).items() if n > 1][:3]
            raise ValueError(f"vocab has duplicate tokens, e.g. {dup}")
        missing = [t for t in SPECIAL_TOKENS if t not in set(tokens)]
        if missing:
            raise ValueError(f"vocab lacks the special tokens {missing}")
        self.ids_to_tokens: list[str] = tokens
        self.vocab: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        self.lowercase = lowercase
        self.pad_id, self.unk_id = self.vocab["[PAD]"], self.vocab["[UNK]"]
        self.cls_id, self.sep_id, self.mask_id = self.vocab["[CLS]"], self.vocab["[SEP]"], self.vocab["[MASK]"]
        self.special_ids: set[int] = {self.vocab[t] for t in SPECIAL_TOKENS}
        self._special_re = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")
        self._cache: dict[str, list[str]] = {}

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path, lowercase: bool = True) -> WordPieceTokenizer:
        """Read a ``vocab.txt`` (one token per line, line number = id)."""
        path = Path(path)
        if path.is_dir():
            path = path / "vocab.txt"
        if not path.is_file():
            raise FileNotFoundError(f"vocabulary file not found: {path}")
        try:
            tokens = path.read_text(encoding="utf-8").split("\n")
        except UnicodeDecodeError as e:
            raise ValueError(f"{path} is not a UTF-8 text vocabulary: {e}") from e
        if tokens and tokens[-1] == "":
            tokens.pop()
        tokens = [t.rstrip("\r") for t in tokens]
        return cls(tokens, lowercase=lowercase)

    def save(self, path: str | Path) -> Path:
        """Write ``vocab.txt`` (into ``path`` if it is a folder) and return its path."""
        path = Path(path)
        if path.is_dir() or not path.suffix:
            path.mkdir(parents=True, exist_ok=True)
            path = path / "vocab.txt"
        path.write_text("\n".join(self.ids_to_tokens) + "\n", encoding="utf-8")
        return path

    def __len__(self) -> int:
        return len(self.ids_to_tokens)

    # -- text → tokens → ids -------------------------------------------------------------------------
    def _wordpiece_cached(self, word: str) -> list[str]:
        pieces = self._cache.get(word)
        if pieces is None:
            pieces = wordpiece(word, self.vocab)
            if len(self._cache) < 200_000:
                self._cache[word] = pieces
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """Text → word pieces. Special tokens written literally (e.g. "[MASK]") are kept whole."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        tokens: list[str] = []
        for part in self._special_re.split(text):
            if part in self.vocab and part in SPECIAL_TOKENS:
                tokens.append(part)
            elif part:
                for word in basic_tokenize(part, self.lowercase):
                    tokens.extend(self._wordpiece_cached(word))
        return tokens

    def tokenize_with_offsets(self, text: str) -> tuple[list[str], list[tuple[int, int]]]:
        """Word pieces and their ``(start, end)`` character spans in ``text`` (same pieces as :meth:`tokenize`).

        A piece covers the original characters its letters came from: ``text[start:end]`` of "##arch" in
        "Patriarchs" is "arch". A word that becomes [UNK] covers the whole word. Matches the
        ``offset_mapping`` of ``transformers``' fast BERT tokenizer (tested on the course's texts).
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        tokens: list[str] = []
        offsets: list[tuple[int, int]] = []
        position = 0
        for part in self._special_re.split(text):
            base, position = position, position + len(part)
            if part in self.vocab and part in SPECIAL_TOKENS:
                tokens.append(part)
                offsets.append((base, base + len(part)))
                continue
            for chars in _normalised_words(part, self.lowercase):
                word, origin = "".join(c for c, _ in chars), [base + i for _, i in chars]
                k = 0
                for piece in self._wordpiece_cached(word):
                    if piece == "[UNK]" and k == 0:  # the whole word, however it was cut
                        n = len(word)
                    else:
                        n = len(piece) - 2 if piece.startswith("##") else len(piece)
                    tokens.append(piece)
                    offsets.append((origin[k], origin[k + n - 1] + 1))
                    k += n
        return tokens, offsets

    def convert_tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
        """Tokens → ids (unknown tokens → the [UNK] id)."""
        return [self.vocab.get(t, self.unk_id) for t in tokens]

    def convert_ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        """Ids → tokens; an id outside the vocabulary raises ValueError."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.ids_to_tokens):
                raise ValueError(f"token id {i} is outside the vocabulary (0 … {len(self) - 1})")
            out.append(self.ids_to_tokens[i])
        return out

    def encode(self, text: str, text_pair: str | None = None, max_length: int | None = None,
               padding: bool | str = False, return_offsets: bool = False) -> dict[str, list]:
        """``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]`` as ``input_ids``, ``token_type_ids``, ``attention_mask``.

        ``max_length`` truncates (longest-first for pairs: remove one token at a time from the longer
        segment); ``padding=True`` or ``"max_length"`` pads with [PAD] up to ``max_length``.
        ``return_offsets=True`` adds ``offset_mapping``: each token's ``(start, end)`` in the text it came
        from (A or B), ``(0, 0)`` for [CLS], [SEP] and [PAD] — as ``transformers``' ``return_offsets_mapping``.
        """
        if text_pair == "":
            text_pair = None  # as transformers does: an empty second text means "no pair"
        a_tokens, a_off = self.tokenize_with_offsets(text) if return_offsets else (self.tokenize(text), None)
        a = self.convert_tokens_to_ids(a_tokens)
        b, b_off = None, None
        if text_pair is not None:
            b_tokens, b_off = (self.tokenize_with_offsets(text_pair) if return_offsets
                               else (self.tokenize(text_pair), None))
            b = self.convert_tokens_to_ids(b_tokens)
        if max_length is not None:
            specials = 3 if b is not None else 2
            if max_length < specials:
                raise ValueError(f"max_length={max_length} leaves no room for the {specials} special tokens")
            a, b = truncate_longest_first(a, b, max_length - specials)
        ids = [self.cls_id] + a + [self.sep_id]
        types = [0] * len(ids)
        if b is not None:
            ids += b + [self.sep_id]
            types += [1] * (len(b) + 1)
        mask = [1] * len(ids)
        offsets = None
        if return_offsets:
            offsets = [(0, 0)] + a_off[:len(a)] + [(0, 0)]
            if b is not None:
                offsets += b_off[:len(b)] + [(0, 0)]
        if padding and padding != "longest":
            if max_length is None:
                raise ValueError("padding to a fixed length needs max_length")
            extra = max_length - len(ids)
            ids += [self.pad_id] * extra
            types += [0] * extra
            mask += [0] * extra
            if offsets is not None:
                offsets += [(0, 0)] * extra
        out: dict[str, list] = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}
        if offsets is not None:
            out["offset_mapping"] = offsets
        return out

    def encode_batch(self, texts: Sequence[str], text_pairs: Sequence[str] | None = None,
                     max_length: int = 128):
        """Encode a batch, truncate to ``max_length`` and pad to the longest: dict of LongTensors (B, T)."""
        import torch

        if text_pairs is not None and len(text_pairs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(text_pairs)} text pairs")
        encs = [self.encode(t, text_pairs[i] if text_pairs is not None else None, max_length=max_length)
                for i, t in enumerate(texts)]
        if not encs:
            raise ValueError("encode_batch needs at least one text")
        longest = max(len(e["input_ids"]) for e in encs)
        out = {}
        for key, pad in (("input_ids", self.pad_id), ("token_type_ids", 0), ("attention_mask", 0)):
            out[key] = torch.tensor([e[key] + [pad] * (longest - len(e[key])) for e in encs], dtype=torch.long)
        return out

    # -- ids → text -----------------------------------------------------------------------------------
    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        """Ids → text: drop specials (by default), glue ``##`` pieces to the previous piece."""
        words: list[str] = []
        for tok in self.convert_ids_to_tokens(ids):
            if skip_special_tokens and tok in SPECIAL_TOKENS:
                continue
            if tok.startswith("##") and words:
                words[-1] += tok[2:]
            else:
                words.append(tok)
        text = " ".join(words)
        # the usual clean-up: no space before punctuation and contractions
        for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                     (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
            text = text.replace(a, b)
        return text


def truncate_longest_first(a: list[int], b: list[int] | None, budget: int) -> tuple[list[int], list[int] | None]:
    """Cut the end of the longer segment first until len(a) + len(b) ≤ budget.

    Same result as removing one token at a time from whichever segment is longer; when both must be
    cut they end up with budget // 2 tokens each, the odd one going to the originally longer segment
    (the second on a tie) — exactly what the ``tokenizers`` library does.
    """
    if b is None:
        return list(a[:budget]), None
    if len(a) + len(b) <= budget:
        return list(a), list(b)
    short = min(len(a), len(b))
    n_short = short
    n_long = short if short > budget else max(short, budget - short)  # the longer keeps at least as many
    if n_short + n_long > budget:
        n_short, n_long = budget // 2, budget // 2 + budget % 2
    n_a, n_b = (n_long, n_short) if len(a) > len(b) else (n_short, n_long)
    return list(a[:n_a]), list(b[:n_b])


def train_wordpiece(texts: Iterable[str], vocab_size: int, lowercase: bool = True,
                    min_frequency: int = 2, score: str = "frequency") -> list[str]:
    """Learn a WordPiece vocabulary of ``vocab_size`` tokens from ``texts`` (special tokens first).

    The procedure (BPE-style merges, WordPiece scoring):
    1. split the corpus into words with the basic tokenizer and count them;
    2. start from single characters: the first character of a word as itself, the others as ``##c``;
    3. repeatedly merge the adjacent pair (x, y) with the highest score among pairs seen at least
       ``min_frequency`` times, and add the merged token to the vocabulary. ``score="frequency"`` ranks
       by count(xy), as the ``tokenizers`` library's WordPiece trainer does (it runs BPE merges);
       ``score="likelihood"`` ranks by count(xy) / (count(x) · count(y)) — a pair that occurs together
       more than its parts predict — which favours rare, tightly bound pairs;
    4. stop at ``vocab_size`` tokens (or when no pair is left).
    Returns the tokens in id order: [PAD] [UNK] [CLS] [SEP] [MASK], the characters, then the merges.
    """
    if vocab_size <= len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size must exceed the {len(SPECIAL_TOKENS)} special tokens; got {vocab_size}")
    word_counts: collections.Counter[str] = collections.Counter()
    for text in texts:
        word_counts.update(basic_tokenize(text, lowercase))
    if not word_counts:
        raise ValueError("train_wordpiece needs some text")
    if score not in ("frequency", "likelihood"):
        raise ValueError(f"score must be 'frequency' or 'likelihood'; got {score!r}")
    # each word as its list of current pieces
    splits = {w: [w[0]] + ["##" + ch for ch in w[1:]] for w in word_counts}
    alphabet = sorted({p for pieces in splits.values() for p in pieces})
    vocab = list(SPECIAL_TOKENS) + alphabet
    seen = set(vocab)

    def pair_stats():
        piece_counts: collections.Counter[str] = collections.Counter()
        pair_counts: collections.Counter[tuple[str, str]] = collections.Counter()
        where: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
        for w, pieces in splits.items():
            c = word_counts[w]
            for p in pieces:
                piece_counts[p] += c
            for x, y in zip(pieces, pieces[1:]):
                pair_counts[(x, y)] += c
                where[(x, y)].add(w)
        return piece_counts, pair_counts, where

    piece_counts, pair_counts, where = pair_stats()
    while len(vocab) < vocab_size:
        if score == "frequency":
            best = max(((n, x, y) for (x, y), n in pair_counts.items()), default=None)
            if best is None or best[0] < min_frequency:
                break
            _, x, y = best  # ties broken alphabetically: deterministic
        else:
            candidates = [(n / (piece_counts[x] * piece_counts[y]), n, x, y)
                          for (x, y), n in pair_counts.items() if n >= min_frequency]
            if not candidates:
                break
            _, _, x, y = max(candidates)
        merged = x + (y[2:] if y.startswith("##") else y)
        for w in list(where[(x, y)]):
            pieces, c = splits[w], word_counts[w]
            i, new = 0, []
            while i < len(pieces):
                if i + 1 < len(pieces) and pieces[i] == x and pieces[i + 1] == y:
                    new.append(merged)
                    i += 2
                else:
                    new.append(pieces[i])
                    i += 1
            # update the statistics of this word only
            for p in pieces:
                piece_counts[p] -= c
            for a, b in zip(pieces, pieces[1:]):
                pair_counts[(a, b)] -= c
                if pair_counts[(a, b)] <= 0:
                    del pair_counts[(a, b)]
                where[(a, b)].discard(w)
            for p in new:
                piece_counts[p] += c
            for a, b in zip(new, new[1:]):
                pair_counts[(a, b)] += c
                where[(a, b)].add(w)
            splits[w] = new
        pair_counts.pop((x, y), None)
        if merged not in seen:
            vocab.append(merged)
            seen.add(merged)
    return vocab
