"""Sentence embeddings (chapter 04): mean-pool the last hidden states over real tokens, L2-normalise.

This is how all-MiniLM-L6-v2 was trained (sentence-transformers' "mean pooling" + "Normalize"), so the
cosine of two embeddings measures how similar the sentences are.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .model import BertModel
from .pooling import masked_mean
from .tokenizer import WordPieceTokenizer


@torch.no_grad()
def sentence_embeddings(model: BertModel, tokenizer: WordPieceTokenizer, sentences: Sequence[str],
                        max_length: int = 256, batch_size: int = 64) -> torch.Tensor:
    """L2-normalised mean-pooled embeddings, (N, H). ``max_length`` 256 as all-MiniLM-L6-v2 uses."""
    if isinstance(sentences, str):
        raise TypeError("pass a list of sentences, not a single string")
    model.eval()
    out = []
    for i in range(0, len(sentences), batch_size):
        batch = tokenizer.encode_batch(list(sentences[i:i + batch_size]), max_length=max_length)
        hidden = model(**batch).last_hidden_state
        out.append(torch.nn.functional.normalize(masked_mean(hidden, batch["attention_mask"]), dim=-1))
    return torch.cat(out)
