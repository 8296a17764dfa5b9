"""bertlab.data: real data loads offline, with documented counts, deterministic disjoint splits, and clear
errors for missing or corrupt files."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from bertlab import data


def test_bible_has_1189_chapters_31103_verses_and_a_disjoint_5_percent_heldout():
    train, heldout = data.load_pretraining_corpus("train"), data.load_pretraining_corpus("heldout")
    assert len(train) + len(heldout) == 1189 and len(heldout) == round(0.05 * 1189)
    assert sum(map(len, train)) + sum(map(len, heldout)) == 31103
    words = sum(len(s.split()) for d in train + heldout for s in d)
    assert 780_000 < words < 800_000
    assert not {tuple(d) for d in train} & {tuple(d) for d in heldout}
    assert data.load_pretraining_corpus("heldout") == heldout  # deterministic


def test_sentiment_counts_and_80_10_10_deterministic_disjoint_splits():
    parts = {s: data.load_sentiment(s) for s in data.SPLITS}
    sizes = {s: len(parts[s][0]) for s in data.SPLITS}
    assert sizes == {"train": 10201, "validation": 1275, "test": 1276}
    all_labels = np.concatenate([parts[s][1] for s in data.SPLITS])
    assert len(all_labels) == data.SENTIMENT_COUNTS[0] and all_labels.sum() == data.SENTIMENT_COUNTS[1]
    sets = [set(parts[s][0]) for s in data.SPLITS]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert data.load_sentiment("test")[0] == parts["test"][0]


def test_digits_are_1797_images_in_unit_range():
    x, y = data.load_digits_images()
    assert x.shape == (1797, 8, 8) and x.dtype == np.float32 and 0 <= x.min() and x.max() == 1.0
    assert sorted(set(y.tolist())) == list(range(10))


def test_every_data_file_has_a_readme_with_source_licence_and_checksum():
    readme = (data.DATA_DIR / "README.md").read_text()
    for word in ("Source", "Licence", "sha256", data.SENTIMENT_SHA256, "tools/make_data.py", "Pang"):
        assert word in readme, word


def test_missing_sentiment_file_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(data.DataError, match="rotten_tomatoes_sentences.tsv.gz is missing.*git checkout"):
        data.load_sentiment("train", data_dir=tmp_path)


def test_corrupt_sentiment_file_is_detected_by_checksum(tmp_path):
    shutil.copy(data.DATA_DIR / data.SENTIMENT_FILE, tmp_path / data.SENTIMENT_FILE)
    raw = bytearray((tmp_path / data.SENTIMENT_FILE).read_bytes())
    raw[100] ^= 0xFF
    (tmp_path / data.SENTIMENT_FILE).write_bytes(bytes(raw))
    with pytest.raises(data.DataError, match="corrupt"):
        data.load_sentiment("train", data_dir=tmp_path)


def test_truncated_sentiment_file_is_detected(tmp_path):
    full = (data.DATA_DIR / data.SENTIMENT_FILE).read_bytes()
    (tmp_path / data.SENTIMENT_FILE).write_bytes(full[: len(full) // 2])
    with pytest.raises(data.DataError, match="corrupt"):
        data.load_sentiment("train", data_dir=tmp_path)


def test_unknown_split_is_a_clear_error():
    with pytest.raises(ValueError, match="split must be"):
        data.load_sentiment("dev")
    with pytest.raises(ValueError, match="split must be"):
        data.load_pretraining_corpus("test")


def test_shipped_file_is_a_valid_gzip_of_label_tab_sentence_lines():
    lines = gzip.decompress((data.DATA_DIR / data.SENTIMENT_FILE).read_bytes()).decode().splitlines()
    assert all(line[:2] in ("0\t", "1\t") for line in lines)
