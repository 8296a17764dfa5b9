"""ALBERT (Lan et al., 2019): fewer parameters, the same computation.

- a factorised token embedding: a V×E table and an E×H projection, V·E + E·H parameters instead of V·H;
- cross-layer sharing: every layer is the same module (the forward pass still runs all of them).
"""

from __future__ import annotations

import torch
from torch import nn

from ..model import BertConfig, BertModel, count_parameters


def bert_embedding_params(vocab_size: int, hidden_size: int) -> int:
    """Weights of BERT's token-embedding matrix: V·H (position/segment embeddings and LayerNorm not counted)."""
    _positive(vocab_size=vocab_size, hidden_size=hidden_size)
    return vocab_size * hidden_size


def albert_embedding_params(vocab_size: int, embedding_size: int, hidden_size: int) -> int:
    """Weights of ALBERT's factorised token embedding: a V×E table plus an E×H projection = V·E + E·H.

    Counted: the token-embedding table and the projection's weight matrix. Not counted (the same in BERT
    and ALBERT, so they cancel in the comparison): the projection's bias, position and segment embeddings,
    LayerNorm.
    """
    _positive(vocab_size=vocab_size, embedding_size=embedding_size, hidden_size=hidden_size)
    return vocab_size * embedding_size + embedding_size * hidden_size


def _positive(**sizes: int) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")


class FactorizedEmbedding(nn.Module):
    """ALBERT's token embedding: ids → (V×E table) → (B, T, E) → E×H projection → (B, T, H)."""

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, padding_idx: int | None = 0):
        super().__init__()
        _positive(vocab_size=vocab_size, embedding_size=embedding_size, hidden_size=hidden_size)
        self.table = nn.Embedding(vocab_size, embedding_size, padding_idx=padding_idx)  # V·E
        self.projection = nn.Linear(embedding_size, hidden_size, bias=False)  # E·H

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.projection(self.table(input_ids))  # (B, T, E) → (B, T, H)


def share_layers(model: BertModel) -> BertModel:
    """ALBERT's cross-layer sharing, in place: every ``encoder.layer[i]`` becomes the same module as layer 0.

    The forward pass is unchanged (still ``num_hidden_layers`` applications); only the parameters are shared.
    """
    first = model.encoder.layer[0]
    for i in range(1, len(model.encoder.layer)):
        model.encoder.layer[i] = first
    return model


def factorize_embeddings(model: BertModel, embedding_size: int) -> BertModel:
    """Replace the V×H token embedding by ALBERT's V×E + E×H factorisation (in place, freshly initialised).

    Only for encoders and classifiers: BERT's MLM head is tied to a V×H matrix, which no longer exists.

    Initialisation matters: with both factors drawn with std 0.02 (BERT's ``initializer_range``) a token's
    vector has std 0.02 · 0.02 · √E ≈ 0.002 — ten times smaller than the position embeddings it is added
    to, so the model barely sees which token is where and, measured on the tiny setup, stayed at the
    majority class after an epoch. Here the table has std 0.02 and the projection std 1/√E, so the product
    has BERT's scale (0.02) from the first step.
    """
    cfg = model.config
    fact = FactorizedEmbedding(cfg.vocab_size, embedding_size, cfg.hidden_size, cfg.pad_token_id)
    nn.init.normal_(fact.table.weight, std=cfg.initializer_range)
    nn.init.normal_(fact.projection.weight, std=embedding_size ** -0.5)  # keeps std(table @ projection) = 0.02
    with torch.no_grad():
        fact.table.weight[cfg.pad_token_id].zero_()
    model.embeddings.word_embeddings = fact
    return model


def albert_parameter_table(vocab_size: int = 30000, hidden_size: int = 768, num_layers: int = 12,
                           embedding_size: int = 128) -> list[dict]:
    """Parameter counts of BERT vs ALBERT variants, counted on real modules (built on the ``meta`` device).

    Rows: BERT, + factorised embedding, + cross-layer sharing, both (= ALBERT). Counts cover the encoder
    (embeddings, layers, pooler), no pre-training heads.
    """
    cfg = BertConfig(vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_layers,
                     num_attention_heads=max(1, hidden_size // 64), intermediate_size=4 * hidden_size)
    rows = []
    for name, fact, share in [("BERT", False, False), (f"factorised embedding (E={embedding_size})", True, False),
                              ("cross-layer sharing", False, True), ("ALBERT: both", True, True)]:
        with torch.device("meta"):
            m = BertModel(cfg)
            if fact:
                factorize_embeddings(m, embedding_size)
            if share:
                share_layers(m)
        emb = count_parameters(m.embeddings.word_embeddings)
        layers = count_parameters(m.encoder)
        rows.append({"model": name, "token embedding": emb, "encoder layers": layers, "total": count_parameters(m)})
    return rows
