"""The course BERT's vocabulary: the WordPiece vocabulary shipped with the course's pre-trained checkpoint."""
from __future__ import annotations

from . import data
from .tokenizer import WordPieceTokenizer, train_wordpiece

SHIPPED_VOCAB = data.DATA_DIR / "tiny-bert" / "vocab.txt"


def course_tokenizer(vocab_size: int = 8000) -> WordPieceTokenizer:
    """The tiny BERT's WordPiece vocabulary: the shipped one, or trained on the KJV training split (~11 s)."""
    if SHIPPED_VOCAB.is_file():
        return WordPieceTokenizer.from_file(SHIPPED_VOCAB)
    texts = [s for doc in data.load_pretraining_corpus("train") for s in doc]
    return WordPieceTokenizer(train_wordpiece(texts, vocab_size))
