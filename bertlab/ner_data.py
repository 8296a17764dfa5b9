"""A named-entity set built honestly from the King James Bible (chapter 06, token classification).

No English NER corpus with a trustworthy licence ships offline, so this one is *made*:

1. **Mine a gazetteer from patterns in the text.**  A capitalised word in "X begat", "begat X",
   "son / sons / daughter / wife / brother / father / mother of X", "X the son of", "X his son" is a person (PER); in
   "land / city / wilderness / mount / river / king / people / inhabitants / walls … of X", "from X",
   "unto X" … is a place (LOC).  A word found by both kinds of pattern takes the majority type if it has
   ≥ 80 % of its matches, otherwise it is ambiguous and left out (Judah is a man and a kingdom).
2. **Tag every verse** word by word: gazetteer words become B-PER/B-LOC (hyphenated names such as
   Beer-sheba give B- then I- for the rest).  A word that also occurs in lower case ("And said") is
   never a name.  Verses that contain a capitalised word we cannot label —
   an ambiguous or un-mined name, a nationality — are dropped, so every kept verse is fully labelled
   under the rule; words like God, LORD, Spirit are not names here (they are in ``NOT_NAMES``).
3. **Hold names out.**  One in five gazetteer names (chosen by a fixed hash) never appears in training:
   ``test_unseen`` holds verses that contain a held-out name, so it measures whether a model tags a name
   *it has never seen* from its context; ``test_seen`` holds other verses, never trained on, with only
   names seen in training (memorisation is enough there).

What it can show: whether a model uses context ("the son of ___", "the land of ___") to find names.
What it cannot: the labels are silver (the patterns' errors are in them), the domain is one 1611
translation, and the tokenizers here lowercase everything, so capital letters — the easiest cue in
English — are invisible to the models.  Treat the F1 as "agreement with a pattern-mined gazetteer".
"""
from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .data import load_bible_chapters
from .tokenizer import basic_tokenize

TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
TAG_ID = {t: i for i, t in enumerate(TAGS)}

_NAME = r"([A-Z][a-z]+(?:-[a-z]+)*)"
PERSON_PATTERNS = [rf"{_NAME} begat\b", rf"\bbegat {_NAME}",
                   rf"\b(?:son|sons|daughter|wife|brother|father|mother) of {_NAME}",
                   rf"{_NAME},? the son of\b", rf"{_NAME} his (?:son|brother|father|wife)\b",
                   rf"\bking {_NAME}", rf"{_NAME} (?:said|answered|spake)\b"]
PLACE_PATTERNS = [rf"\b(?:land|city|cities|wilderness|plain|plains|mount|valley|river|waters|king|kings|kingdom|"
                  rf"people|inhabitants|villages|towns|coast|coasts|borders|gate|gates|walls|streets|"
                  rf"province|country|region|princes) of {_NAME}"]
NOT_NAMES = {"God", "GOD", "LORD", "Lord", "I", "O", "Spirit", "Holy", "Ghost", "Almighty", "Most", "High",
             "Father", "Son", "Amen", "Selah", "Sabbath", "Christ", "Lamb", "Saviour", "Redeemer", "Creator",
             "Highest", "Word", "Heaven", "Passover", "Pentecost", "Jubile", "Urim", "Thummim", "Hallelujah",
             "Alleluia", "Alpha", "Omega", "Messiah", "Master", "Comforter", "King", "Jah"}
_SENTENCE_START = {".", ";", ":", "?", "!", "(", "“", '"', "'"}


def _matches(patterns: Sequence[str], texts: Sequence[str]) -> Counter:
    counts: Counter = Counter()
    for pattern in patterns:
        rx = re.compile(pattern)
        for text in texts:
            counts.update(m for m in rx.findall(text) if m not in NOT_NAMES)
    return counts


def mine_gazetteer(verses: Sequence[str], majority: float = 0.8, min_count: int = 2) -> dict[str, str]:
    """Name → "PER" or "LOC" from the patterns above (see the module docstring for the rule).

    Only the "… of X" place patterns vote against the person patterns: "unto X" / "from X" catch persons
    too ("said unto Moses"), so they are too weak to decide a type.
    """
    per, of_place = _matches(PERSON_PATTERNS, verses), _matches(PLACE_PATTERNS[:1], verses)
    lower_words = {w for v in verses for w in re.findall(r"\b[a-z]+\b", v)}
    gazetteer = {}
    for name in set(per) | set(of_place):
        p, q = per[name], of_place[name]  # the vote: person patterns against "… of X" place patterns
        if p + q < min_count or name.lower() in lower_words:  # "And", "They": ordinary words, capitalised
            continue
        if p >= majority * (p + q):
            gazetteer[name] = "PER"
        elif q >= majority * (p + q):
            gazetteer[name] = "LOC"
    return gazetteer


def split_words(text: str) -> list[str]:
    """Words and punctuation, case kept (BERT's basic tokenizer without lower-casing)."""
    return basic_tokenize(text, lowercase=False)


def tag_words(words: Sequence[str], gazetteer: dict[str, str]) -> list[str] | None:
    """BIO tags for one verse's words, or None when a capitalised word cannot be labelled.

    Hyphenated names arrive split ("Beer", "-", "sheba"): the whole span is tagged B- then I-.
    """
    tags, i = ["O"] * len(words), 0
    while i < len(words):
        w = words[i]
        # longest hyphenated candidate starting here: w - x - y …
        j = i + 1
        while j + 1 < len(words) and words[j] == "-" and words[j + 1].isalpha() and words[j + 1].islower():
            j += 2
        span = "".join(words[i:j])
        name = span if span in gazetteer else (w if w in gazetteer else None)
        if name is not None:
            end = j if name == span else i + 1
            kind = gazetteer[name]
            tags[i] = f"B-{kind}"
            for k in range(i + 1, end):
                tags[k] = f"I-{kind}"
            i = end
            continue
        starts_sentence = i == 0 or words[i - 1] in _SENTENCE_START
        if w[:1].isupper() and not starts_sentence and w not in NOT_NAMES:
            return None  # a capitalised word we cannot label: drop the verse
        i += 1
    return tags


def is_held_out(name: str, fraction: float = 0.2) -> bool:
    """A fixed, machine-independent choice of held-out names (CRC32 of the name)."""
    return zlib.crc32(name.encode()) % 1000 < fraction * 1000


@dataclass
class NerSplit:
    """Word-split verses with their BIO tags (strings) and the names they contain."""

    words: list[list[str]] = field(default_factory=list)
    tags: list[list[str]] = field(default_factory=list)

    def tag_ids(self) -> list[list[int]]:
        return [[TAG_ID[t] for t in row] for row in self.tags]

    def __len__(self) -> int:
        return len(self.words)


def _names_in(words: Sequence[str], tags: Sequence[str]) -> list[str]:
    names, current = [], None
    for w, t in zip(words, tags):
        if t.startswith("B-"):
            if current:
                names.append(current)
            current = w
        elif t.startswith("I-") and current is not None:
            current += w
        else:
            if current:
                names.append(current)
            current = None
    if current:
        names.append(current)
    return names


def load_ner(max_words: int = 40, n_train: int = 4000, n_test: int = 600, seed: int = 0) -> dict:
    """The KJV name-tagging set: ``{"train", "test_seen", "test_unseen"}`` :class:`NerSplit` plus
    ``gazetteer`` (name → PER/LOC), ``held_out`` (the names never in training) and ``stats``.

    Distinct verses (the KJV repeats a few word for word) of ≤ ``max_words`` words that contain at least
    one name; train capped at ``n_train``, each
    test split at ``n_test`` (fixed shuffle, seed 0).  Deterministic on every machine.
    """
    verses = list(dict.fromkeys(v for _, chapter in load_bible_chapters() for v in chapter))  # some verses repeat
    gazetteer = mine_gazetteer(verses)
    held_out = {n for n in gazetteer if is_held_out(n)}
    kept, dropped = [], 0
    for verse in verses:
        words = split_words(verse)
        if len(words) > max_words:
            continue
        tags = tag_words(words, gazetteer)
        if tags is None:
            dropped += 1
            continue
        names = _names_in(words, tags)
        if names:
            kept.append((words, tags, names))
    order = np.random.default_rng(seed).permutation(len(kept))
    train, seen, unseen = NerSplit(), NerSplit(), NerSplit()
    for i in order:
        words, tags, names = kept[i]
        if any(n in held_out for n in names):
            target = unseen if len(unseen) < n_test else None
        elif len(seen) < n_test and i % 10 == 0:
            target = seen
        else:
            target = train if len(train) < n_train else None
        if target is not None:
            target.words.append(words)
            target.tags.append(tags)
    stats = {"verses": len(verses), "dropped_unlabelable": dropped, "kept_with_names": len(kept),
             "gazetteer": len(gazetteer), "persons": sum(v == "PER" for v in gazetteer.values()),
             "places": sum(v == "LOC" for v in gazetteer.values()), "held_out_names": len(held_out)}
    return {"train": train, "test_seen": seen, "test_unseen": unseen, "gazetteer": gazetteer,
            "held_out": held_out, "stats": stats}
