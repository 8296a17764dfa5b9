"""BERT's encoder in PyTorch (chapter 04), written to be read.

    input ids ─► Embeddings: token + position + segment, LayerNorm, dropout        (B, T, H)
              ─► N × BertLayer:
                    a = LayerNorm(x + Dropout(MultiHeadSelfAttention(x, padding mask)))
                    x = LayerNorm(a + Dropout(FFN(a))),  FFN(a) = GELU(a W₁ + b₁) W₂ + b₂
              ─► last_hidden_state                                              (B, T, H)
              ─► Pooler: tanh(W h_[CLS] + b)                                    (B, H)

Post-LN (normalise after each residual sum) and exact (erf) GELU, as in the original BERT. Parameter
names follow the paper; ``bertlab.weights`` maps them to and from Hugging Face checkpoints.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from .pooling import masked_mean


@dataclass
class BertConfig:
    """Sizes of a BERT model (same field names as a Hugging Face ``config.json``)."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    initializer_range: float = 0.02

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"BertConfig.{name} must be a positive integer; got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"BertConfig: hidden_size={self.hidden_size} is not divisible by "
                             f"num_attention_heads={self.num_attention_heads}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            p = getattr(self, name)
            if not isinstance(p, (int, float)) or not 0 <= p < 1:
                raise ValueError(f"BertConfig.{name} must be in [0, 1); got {p!r}")
        if not isinstance(self.layer_norm_eps, (int, float)) or not self.layer_norm_eps > 0:
            raise ValueError(f"BertConfig.layer_norm_eps must be > 0; got {self.layer_norm_eps!r}")
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"BertConfig.pad_token_id={self.pad_token_id} is outside the vocabulary")

    @property
    def head_size(self) -> int:
        """d_k = hidden_size / num_attention_heads."""
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, d: dict) -> BertConfig:
        """Build from a config.json dict, ignoring keys this encoder does not use (architectures, …)."""
        if not isinstance(d, dict):
            raise ValueError(f"a BERT config must be a JSON object; got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        if d.get("hidden_act", "gelu") not in ("gelu", "gelu_python"):
            raise ValueError(f"this encoder implements exact GELU; the config asks for {d['hidden_act']!r}")
        if d.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute (learned) position embeddings are supported")
        return cls(**{k: v for k, v in d.items() if k in known})

    def to_dict(self) -> dict:
        """A config.json dict that transformers also reads."""
        return {**asdict(self), "model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute"}


@dataclass
class BertOutput:
    """What :class:`BertModel` returns (a dataclass, not a tuple: unpack by name)."""

    last_hidden_state: torch.Tensor  # (B, T, H)
    pooler_output: torch.Tensor  # (B, H)
    attentions: tuple[torch.Tensor, ...] | None = None  # one (B, heads, T, T) per layer
    hidden_states: tuple[torch.Tensor, ...] | None = None  # embeddings + one (B, T, H) per layer


class BertEmbeddings(nn.Module):
    """E = LayerNorm(E_token[ids] + E_position[0..T-1] + E_segment[types]), then dropout."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        seq = input_ids.shape[1]
        positions = torch.arange(seq, device=input_ids.device)  # (T,)
        x = (self.word_embeddings(input_ids)  # (B, T, H)
             + self.position_embeddings(positions)[None]  # (1, T, H)
             + self.token_type_embeddings(token_type_ids))  # (B, T, H)
        return self.dropout(self.layer_norm(x))


def explicit_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                       dropout: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q Kᵀ / √d_k + mask) V written out, materialising the (B, heads, Tq, Tk) weights.

    q: (B, heads, Tq, d_k); k, v: (B, heads, Tk, d_k); mask: bool broadcastable to (B, heads, Tq, Tk), True =
    may attend. ``dropout`` (if given) is applied to the weights. Returns (context (B, heads, Tq, d_k), weights).
    """
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, heads, Tq, Tk)
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = scores.softmax(dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ v, weights


class BertSelfAttention(nn.Module):
    """Multi-head self-attention: Concat(head_1..head_h) W_O, head_i = softmax(Q_i K_iᵀ/√d_k + mask) V_i."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.head_size
        h = config.hidden_size
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.output = nn.Linear(h, h)  # W_O
        self.attn_dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, H) → (B, heads, T, d_k)."""
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.head_size).transpose(1, 2)

    def merge_heads(self, context: torch.Tensor) -> torch.Tensor:
        """(B, heads, T, d_k) → (B, T, H), the inverse of :meth:`split_heads`."""
        b, _, t, _ = context.shape
        return context.transpose(1, 2).reshape(b, t, self.num_heads * self.head_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, T, H); mask: bool (B, 1, 1, T), True = may attend. Returns (B, T, H) and the weights."""
        q, k, v = self.split_heads(self.query(x)), self.split_heads(self.key(x)), self.split_heads(self.value(x))
        if output_attentions:  # the explicit formula, so the weights (B, heads, T, T) can be returned
            context, weights = explicit_attention(q, k, v, mask, self.attn_dropout)  # (B, heads, T, d_k)
        else:  # the same computation, fused (faster, less memory)
            weights = None
            p = self.attn_dropout.p if self.training else 0.0
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return self.output(self.merge_heads(context)), weights


class FeedForward(nn.Module):
    """FFN(x) = GELU(x W₁ + b₁) W₂ + b₂, applied at every position (exact erf GELU, not ReLU)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.w1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.w2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.gelu(self.w1(x)))  # (B, T, H) → (B, T, I) → (B, T, H)


class BertLayer(nn.Module):
    """One encoder layer: self-attention and FFN, each with dropout, residual and post-LayerNorm."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertSelfAttention(config)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.ffn = FeedForward(config)
        self.ffn_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None,
                output_attentions: bool = False):
        """x: (B, T, H); attention_mask: (B, T) of 1/0 (or bool), or an already-broadcast bool (B, 1, 1, T).

        Returns the new hidden states (B, T, H), or ``(hidden, weights)`` when ``output_attentions``.
        """
        mask = key_mask(attention_mask)
        attn, weights = self.attention(x, mask, output_attentions)
        x = self.attention_norm(x + self.dropout(attn))
        x = self.ffn_norm(x + self.dropout(self.ffn(x)))
        return (x, weights) if output_attentions else x


def key_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """(B, T) 1/0 → bool (B, 1, 1, T) that broadcasts over heads and queries (a (B, 1, 1, T) mask is kept)."""
    if attention_mask is None:
        return None
    if attention_mask.dim() == 4:
        return attention_mask.bool()
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must be (batch, seq); got shape {tuple(attention_mask.shape)}")
    return attention_mask.bool()[:, None, None, :]


class BertEncoder(nn.Module):
    """The stack of ``num_hidden_layers`` identical layers (``encoder.layer[i]``)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))


class BertPooler(nn.Module):
    """pooler_output = tanh(W h_[CLS] + b): the sequence summary used by NSP and classifiers."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))  # (B, H)


class BertModel(nn.Module):
    """BERT's encoder: embeddings, ``num_hidden_layers`` × :class:`BertLayer`, pooler."""

    def __init__(self, config: BertConfig):
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"BertModel needs a BertConfig; got {type(config).__name__}")
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config)
        self.apply(lambda m: init_weights(m, config.initializer_range))

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> BertOutput:
        """input_ids, token_type_ids, attention_mask: (B, T) integer tensors (mask: 1 = token, 0 = padding)."""
        _check_inputs(self.config, input_ids, token_type_ids, attention_mask)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        mask = key_mask(attention_mask)  # (B, 1, 1, T) or None
        x = self.embeddings(input_ids, token_type_ids)  # (B, T, H)
        hidden_states, attentions = [x], []
        for layer in self.encoder.layer:
            if output_attentions:
                x, weights = layer(x, mask, output_attentions=True)
                attentions.append(weights)
            else:
                x = layer(x, mask)
            hidden_states.append(x)
        return BertOutput(
            last_hidden_state=x,
            pooler_output=self.pooler(x),
            attentions=tuple(attentions) if output_attentions else None,
            hidden_states=tuple(hidden_states) if output_hidden_states else None,
        )


def _check_inputs(config: BertConfig, input_ids, token_type_ids, attention_mask) -> None:
    if not isinstance(input_ids, torch.Tensor):
        raise TypeError(f"input_ids must be a torch.LongTensor (B, T); got {type(input_ids).__name__}")
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be (batch, seq); got shape {tuple(input_ids.shape)}")
    if input_ids.dtype not in (torch.long, torch.int, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"input_ids must hold integer ids; got dtype {input_ids.dtype}")
    if input_ids.shape[1] == 0:
        raise ValueError(f"input_ids of shape {tuple(input_ids.shape)} hold no tokens: every sequence needs at least "
                         "[CLS] (the pooler reads position 0); a tokenizer's encode() adds [CLS] and [SEP]")
    if input_ids.shape[1] > config.max_position_embeddings:
        raise ValueError(f"sequence of {input_ids.shape[1]} tokens exceeds max_position_embeddings="
                         f"{config.max_position_embeddings}")
    if input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= config.vocab_size):
        raise ValueError(f"input ids must lie in [0, {config.vocab_size}); got {int(input_ids.min())}…"
                         f"{int(input_ids.max())}")
    for name, t in (("token_type_ids", token_type_ids), ("attention_mask", attention_mask)):
        if t is not None and tuple(t.shape) != tuple(input_ids.shape):
            raise ValueError(f"{name} has shape {tuple(t.shape)}; expected {tuple(input_ids.shape)} like input_ids")
    if token_type_ids is not None and token_type_ids.numel() and (
            token_type_ids.min() < 0 or token_type_ids.max() >= config.type_vocab_size):
        raise ValueError(f"token_type_ids must lie in [0, {config.type_vocab_size})")


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of distinct parameter values: a tensor shared by several layers (ALBERT) or tied (the MLM
    decoder) is counted once. ``trainable_only``: count only parameters with requires_grad (a linear probe's
    head)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """BERT's initialisation: N(0, 0.02) weights, zero biases, LayerNorm γ = 1, β = 0."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=std)
        if module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


# ---------------------------------------------------------------------------------------------- heads
@dataclass
class PreTrainingOutput:
    prediction_logits: torch.Tensor  # (B, T, V), or (N, V) at the masked positions only
    seq_relationship_logits: torch.Tensor  # (B, 2): IsNext / NotNext
    hidden_states: torch.Tensor | None = None  # (B, T, H) last layer


class MaskedLMHead(nn.Module):
    """MLM head: GELU dense + LayerNorm, then scores against the (tied) token embeddings + a bias."""

    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.transform = nn.Linear(config.hidden_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.word_embeddings = word_embeddings  # tied: the same Parameter as the input embeddings
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        h = self.layer_norm(F.gelu(self.transform(hidden)))  # (..., H)
        return h @ self.word_embeddings.weight.T + self.bias  # (..., V)


class BertForPreTraining(nn.Module):
    """BERT + the MLM head (tied to the token embeddings) + the NSP head (a linear layer on the pooler)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.mlm = MaskedLMHead(config, self.bert.embeddings.word_embeddings)
        self.nsp = nn.Linear(config.hidden_size, 2)
        init_weights(self.mlm.transform, config.initializer_range)
        init_weights(self.nsp, config.initializer_range)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                masked_positions: torch.Tensor | None = None) -> PreTrainingOutput:
        """``masked_positions``: a bool (B, T) mask or a (B, P) index tensor; then the vocabulary logits are
        computed only there, (N, V) — gathering the hidden states first saves most of the MLM head's work."""
        out = self.bert(input_ids, token_type_ids, attention_mask)
        hidden = out.last_hidden_state  # (B, T, H)
        if masked_positions is None:
            selected = hidden
        elif masked_positions.dtype == torch.bool:
            selected = hidden[masked_positions]  # (N, H), row-major order
        else:
            index = masked_positions[..., None].expand(-1, -1, hidden.shape[-1])  # (B, P, H)
            selected = hidden.gather(1, index).reshape(-1, hidden.shape[-1])  # (B·P, H)
        return PreTrainingOutput(self.mlm(selected), self.nsp(out.pooler_output), hidden)


@dataclass
class ClassifierOutput:
    logits: torch.Tensor  # (B, num_labels) or (B, T, num_labels)
    hidden_states: torch.Tensor | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class BertForSequenceClassification(nn.Module):
    """[CLS] pooler output (or the mean of the real tokens) → dropout → linear → logits (B, num_labels)."""

    def __init__(self, config: BertConfig, num_labels: int = 2, pooling: str = "cls"):
        super().__init__()
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean'; got {pooling!r}")
        if num_labels < 1:
            raise ValueError(f"num_labels must be ≥ 1; got {num_labels}")
        self.config, self.num_labels, self.pooling = config, num_labels, pooling
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        init_weights(self.classifier, config.initializer_range)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, output_attentions: bool = False) -> ClassifierOutput:
        out = self.bert(input_ids, token_type_ids, attention_mask, output_attentions=output_attentions)
        if self.pooling == "cls":
            pooled = out.pooler_output  # (B, H)
        else:
            mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
            pooled = masked_mean(out.last_hidden_state, mask)  # (B, H): mean over real tokens
        return ClassifierOutput(self.classifier(self.dropout(pooled)), out.last_hidden_state, out.attentions)


class BertForTokenClassification(nn.Module):
    """Every token's last hidden state → dropout → linear → logits (B, T, num_labels)."""

    def __init__(self, config: BertConfig, num_labels: int):
        super().__init__()
        if num_labels < 1:
            raise ValueError(f"num_labels must be ≥ 1; got {num_labels}")
        self.config, self.num_labels = config, num_labels
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        init_weights(self.classifier, config.initializer_range)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None) -> ClassifierOutput:
        out = self.bert(input_ids, token_type_ids, attention_mask)
        return ClassifierOutput(self.classifier(self.dropout(out.last_hidden_state)), out.last_hidden_state)
