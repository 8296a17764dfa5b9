"""Multimodal fusion on top of the course's (text-only) BERT — chapter 07.

BERT itself reads text only. The models here *extend* it with an image side and fuse the two:

* image encoders: :class:`PatchEmbedding` (ViT-style patches → linear projection + position
  embeddings) followed by BERT layers (:class:`ImageEncoder`), and a small CNN (:class:`SmallCNN`);
* late fusion: separate encoders, pooled vectors fused by concatenation + MLP
  (:class:`LateFusionConcat`) or by a gated weighted sum V_f = w_t·V_t + w_i·V_i (:class:`LateFusionGated`);
* early fusion, single stream (VisualBERT/UNITER-style): text tokens and image patch tokens, each
  with its modality (token type) embedding, in one encoder (:class:`EarlyFusion`);
* hybrid, two streams with co-attention (ViLBERT/LXMERT-style): text queries attend to image
  keys/values and image queries to text (:class:`CoAttentionLayer`, :class:`CrossAttentionFusion`);
* objectives: classification, image–text matching negatives (:func:`itm_negatives`) and the
  symmetric contrastive InfoNCE loss of CLIP (:func:`info_nce`, :class:`DualEncoder`).

Every classifier's ``forward(input_ids, attention_mask, images)`` returns a :class:`FusionOutput`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .model import BertConfig, BertLayer, BertModel, BertSelfAttention, FeedForward, _as_key_mask


def tiny_config(vocab_size: int, hidden: int = 64, layers: int = 2, heads: int = 2, dropout: float = 0.1,
                max_len: int = 64) -> BertConfig:
    """A small BERT configuration for the chapter's models (FFN = 4 × hidden, as in BERT)."""
    return BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                      num_attention_heads=heads, intermediate_size=4 * hidden, max_position_embeddings=max_len,
                      hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)


@dataclass
class FusionOutput:
    """``logits`` (B, num_labels); optional extras for inspection."""

    logits: torch.Tensor
    gate_weights: torch.Tensor | None = None  # (B, 2): [w_text, w_image] (gated late fusion)
    cross_attentions: list[torch.Tensor] = field(default_factory=list)  # text→image (B, heads, T, N) per layer


# -- image side ----------------------------------------------------------------------------------------

def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping ``patch_size`` × ``patch_size`` patches, in row-major order.

    images: (B, H, W) or (B, C, H, W). Returns (B, N, C·p·p) with N = (H/p)·(W/p); patch n covers rows
    ``(n // (W/p))·p …`` and columns ``(n % (W/p))·p …``; each patch is flattened as (C, p, p).
    """
    if images.dim() == 3:
        images = images[:, None]  # (B, 1, H, W)
    if images.dim() != 4:
        raise ValueError(f"images must be (B, H, W) or (B, C, H, W); got shape {tuple(images.shape)}")
    b, c, h, w = images.shape
    p = patch_size
    if h % p or w % p:
        raise ValueError(f"image size {h}×{w} is not divisible by patch_size={p}")
    x = images.reshape(b, c, h // p, p, w // p, p)  # (B, C, rows, p, cols, p)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, rows, cols, C, p, p)
    return x.reshape(b, (h // p) * (w // p), c * p * p)  # (B, N, C·p·p)


def patch_embedding(images: torch.Tensor, patch_size: int, weight: torch.Tensor, bias: torch.Tensor,
                    position_embeddings: torch.Tensor) -> torch.Tensor:
    """ViT's patch embedding: z_n = x_n W + b + E_pos[n] for each patch x_n (row-major order).

    weight: (C·p·p, D), bias: (D,), position_embeddings: (N, D). Returns (B, N, D).
    """
    patches = patchify(images, patch_size)  # (B, N, C·p·p)
    if patches.shape[1] != position_embeddings.shape[0]:
        raise ValueError(f"{patches.shape[1]} patches but {position_embeddings.shape[0]} position embeddings")
    return patches @ weight + bias + position_embeddings  # (B, N, D)


class PatchEmbedding(nn.Module):
    """Patches → linear projection + learned position embeddings: (B, [C,] H, W) → (B, N, hidden)."""

    def __init__(self, image_size: int, patch_size: int, in_channels: int, hidden: int):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size={image_size} is not divisible by patch_size={patch_size}")
        self.patch_size = patch_size
        self.num_patches = (image_size // patch_size) ** 2
        self.projection = nn.Linear(in_channels * patch_size**2, hidden)
        self.position_embeddings = nn.Parameter(torch.randn(self.num_patches, hidden) * 0.02)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return patch_embedding(images, self.patch_size, self.projection.weight.T, self.projection.bias,
                               self.position_embeddings)  # (B, N, hidden)


class ImageEncoder(nn.Module):
    """ViT-style encoder: :class:`PatchEmbedding`, LayerNorm, then ``config.num_hidden_layers`` BERT layers.

    forward(images) → (tokens (B, N, H), pooled (B, H)). pooled = LayerNorm(W · flatten(tokens)): a mean
    over patches would hardly differ between two digits at initialisation.
    """

    def __init__(self, config: BertConfig, image_size: int, patch_size: int, in_channels: int = 1):
        super().__init__()
        self.patches = PatchEmbedding(image_size, patch_size, in_channels, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))
        self.pool_projection = nn.Linear(self.patches.num_patches * config.hidden_size, config.hidden_size)
        self.pool_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, H) → (B, H)."""
        return self.pool_norm(self.pool_projection(tokens.flatten(1)))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.dropout(self.norm(self.patches(images)))  # (B, N, H)
        for layer in self.layer:
            x = layer(x)
        return x, self.pool(x)


class SmallCNN(nn.Module):
    """Two 3×3 convolutions (padding 1) with ReLU, the first followed by 2×2 max-pooling; the feature
    map is flattened and projected (so *where* a stroke is still counts: mean-pooling an 8×8 digit's
    map loses most of it).

    forward(images (B, [C,] H, W)) → (tokens (B, H/2·W/2, hidden), pooled (B, hidden)).
    """

    def __init__(self, in_channels: int, hidden: int, image_size: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, hidden // 2, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden // 2, hidden // 2, 3, padding=1)
        self.token_projection = nn.Linear(hidden // 2, hidden)
        self.pool = nn.Linear((image_size // 2) ** 2 * (hidden // 2), hidden)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = images[:, None] if images.dim() == 3 else images  # (B, C, H, W)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, hidden/2, H/2, W/2)
        x = F.relu(self.conv2(x))  # (B, hidden/2, H/2, W/2)
        tokens = self.token_projection(x.flatten(2).transpose(1, 2))  # (B, H/2·W/2, hidden)
        return tokens, self.norm(self.pool(x.flatten(1)))  # (B, hidden)


def masked_mean(tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the real (mask = 1) token vectors: (B, T, H), (B, T) → (B, H). Padding never counts."""
    m = attention_mask.to(tokens.dtype)[..., None]  # (B, T, 1)
    return (tokens * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


class TextEncoder(nn.Module):
    """The course's BERT (:class:`bertlab.model.BertModel`): forward → (tokens (B, T, H), pooled (B, H)).

    pooled is the mean of the real tokens' last hidden states (as sentence-transformers do), not the
    [CLS] pooler: at initialisation BERT's [CLS] vector hardly differs between "the digit is even"
    and "the digit is odd", and a late-fusion head then has nothing to combine.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.bert = BertModel(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.bert(input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, H)
        return tokens, masked_mean(tokens, attention_mask)


def _head(in_features: int, hidden: int, num_labels: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_features, hidden), nn.GELU(), nn.Linear(hidden, num_labels))


# -- unimodal baselines ------------------------------------------------------------------------------

class TextOnly(nn.Module):
    """Baseline that ignores the image: BERT's pooled [CLS] → MLP."""

    def __init__(self, config: BertConfig, num_labels: int = 2):
        super().__init__()
        self.text = TextEncoder(config)
        self.classifier = _head(config.hidden_size, config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask, images) -> FusionOutput:
        return FusionOutput(self.classifier(self.text(input_ids, attention_mask)[1]))


class ImageOnly(nn.Module):
    """Baseline that ignores the text: an image encoder (``"patch"`` ViT-style or ``"cnn"``) → MLP."""

    def __init__(self, config: BertConfig, image_size: int, patch_size: int, in_channels: int = 1,
                 num_labels: int = 2, encoder: str = "patch"):
        super().__init__()
        self.image = make_image_encoder(encoder, config, image_size, patch_size, in_channels)
        self.classifier = _head(config.hidden_size, config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask, images) -> FusionOutput:
        return FusionOutput(self.classifier(self.image(images)[1]))


def make_image_encoder(kind: str, config: BertConfig, image_size: int, patch_size: int,
                       in_channels: int = 1) -> nn.Module:
    """``"patch"`` → :class:`ImageEncoder`; ``"cnn"`` → :class:`SmallCNN`."""
    if kind == "patch":
        return ImageEncoder(config, image_size, patch_size, in_channels)
    if kind == "cnn":
        return SmallCNN(in_channels, config.hidden_size, image_size)
    raise ValueError(f"image encoder must be 'patch' or 'cnn'; got {kind!r}")


# -- late fusion -------------------------------------------------------------------------------------

class LateFusionConcat(nn.Module):
    """Late fusion: separate encoders; MLP([V_t ; V_i]) on the concatenated pooled vectors."""

    def __init__(self, config: BertConfig, image_size: int, patch_size: int, in_channels: int = 1,
                 num_labels: int = 2, encoder: str = "patch"):
        super().__init__()
        self.text = TextEncoder(config)
        self.image = make_image_encoder(encoder, config, image_size, patch_size, in_channels)
        self.classifier = _head(2 * config.hidden_size, config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask, images) -> FusionOutput:
        v_t, v_i = self.text(input_ids, attention_mask)[1], self.image(images)[1]  # (B, H) each
        return FusionOutput(self.classifier(torch.cat([v_t, v_i], dim=-1)))


def gated_fusion(v_t: torch.Tensor, v_i: torch.Tensor, gate_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """V_f = w_t·V_t + w_i·V_i with [w_t, w_i] = softmax(gate_logits) per example.

    v_t, v_i: (B, H); gate_logits: (B, 2), column 0 for text, column 1 for image.
    Returns (V_f (B, H), weights (B, 2)); each row of weights sums to 1.
    """
    weights = gate_logits.softmax(dim=-1)  # (B, 2), over the two modalities
    fused = weights[:, 0:1] * v_t + weights[:, 1:2] * v_i  # (B, H)
    return fused, weights


class LateFusionGated(nn.Module):
    """Late fusion by a learned, gated weighted sum: gate_logits = W_g [V_t ; V_i], then :func:`gated_fusion`."""

    def __init__(self, config: BertConfig, image_size: int, patch_size: int, in_channels: int = 1,
                 num_labels: int = 2, encoder: str = "patch"):
        super().__init__()
        self.text = TextEncoder(config)
        self.image = make_image_encoder(encoder, config, image_size, patch_size, in_channels)
        self.gate = nn.Linear(2 * config.hidden_size, 2)
        self.classifier = _head(config.hidden_size, config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask, images) -> FusionOutput:
        v_t, v_i = self.text(input_ids, attention_mask)[1], self.image(images)[1]  # (B, H) each
        fused, weights = gated_fusion(v_t, v_i, self.gate(torch.cat([v_t, v_i], dim=-1)))
        return FusionOutput(self.classifier(fused), gate_weights=weights)


# -- early fusion (single stream) ----------------------------------------------------------------------

class EarlyFusion(nn.Module):
    """Single stream (VisualBERT/UNITER-style): [CLS] text [SEP] + image patch tokens in one BERT encoder.

    Text tokens get BERT's embeddings with token type 0; patch tokens get a linear projection, their
    own position embeddings and token type 1 (the *modality* embedding). Every token attends to every
    word and every patch in every layer; the classifier reads the mean of the joint sequence.
    """

    def __init__(self, config: BertConfig, image_size: int, patch_size: int, in_channels: int = 1,
                 num_labels: int = 2):
        super().__init__()
        self.bert = BertModel(config)
        self.patches = PatchEmbedding(image_size, patch_size, in_channels, config.hidden_size)
        self.image_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.classifier = _head(config.hidden_size, config.hidden_size, num_labels)

    def embed(self, input_ids, attention_mask, images) -> tuple[torch.Tensor, torch.Tensor]:
        """The joint sequence (B, T + N, H) and its key mask (B, T + N), 1 = may attend."""
        emb = self.bert.embeddings
        text = emb(input_ids, torch.zeros_like(input_ids))  # (B, T, H), type 0
        image_type = emb.token_type_embeddings.weight[1]  # (H,), type 1 = image
        image = emb.dropout(self.image_norm(self.patches(images) + image_type))  # (B, N, H)
        mask = torch.cat([attention_mask, attention_mask.new_ones(image.shape[:2])], dim=1)  # (B, T + N)
        return torch.cat([text, image], dim=1), mask

    def forward(self, input_ids, attention_mask, images, output_attentions: bool = False) -> FusionOutput:
        x, mask = self.embed(input_ids, attention_mask, images)
        attentions = []
        for layer in self.bert.encoder.layer:
            if output_attentions:
                x, w = layer(x, mask, output_attentions=True)  # w: (B, heads, T+N, T+N)
                attentions.append(w[:, :, : input_ids.shape[1], input_ids.shape[1]:])  # text → image block
            else:
                x = layer(x, mask)
        return FusionOutput(self.classifier(masked_mean(x, mask)), cross_attentions=attentions)


# -- hybrid: two streams with co-attention -------------------------------------------------------------

class CrossAttention(BertSelfAttention):
    """Multi-head attention whose queries come from one stream and keys/values from the other."""

    def forward(self, x_q: torch.Tensor, x_kv: torch.Tensor, mask: torch.Tensor | None = None,
                output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x_q: (B, Tq, H); x_kv: (B, Tk, H); mask: bool (B, 1, 1, Tk), True = may attend.

        Returns (B, Tq, H) and, with ``output_attentions``, the weights (B, heads, Tq, Tk).
        """
        q, k, v = self.split_heads(self.query(x_q)), self.split_heads(self.key(x_kv)), self.split_heads(self.value(x_kv))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_size)  # (B, heads, Tq, Tk)
        if mask is not None:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        weights = scores.softmax(dim=-1)  # (B, heads, Tq, Tk)
        context = self.attn_dropout(weights) @ v  # (B, heads, Tq, d_k)
        b, _, t, _ = context.shape
        context = context.transpose(1, 2).reshape(b, t, self.num_heads * self.head_size)
        return self.output(context), (weights if output_attentions else None)


class CoAttentionLayer(nn.Module):
    """ViLBERT's co-attention block: text attends to image, image attends to text (in parallel),
    each with residual + LayerNorm, then each stream's own FFN with residual + LayerNorm."""

    def __init__(self, config: BertConfig):
        super().__init__()
        h, eps = config.hidden_size, config.layer_norm_eps
        self.text_to_image, self.image_to_text = CrossAttention(config), CrossAttention(config)
        self.text_norm1, self.image_norm1 = nn.LayerNorm(h, eps=eps), nn.LayerNorm(h, eps=eps)
        self.text_ffn, self.image_ffn = FeedForward(config), FeedForward(config)
        self.text_norm2, self.image_norm2 = nn.LayerNorm(h, eps=eps), nn.LayerNorm(h, eps=eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, text: torch.Tensor, image: torch.Tensor, text_mask: torch.Tensor | None = None):
        """text (B, T, H), image (B, N, H), text_mask (B, T) 1/0. Returns (text, image, text→image weights
        (B, heads, T, N))."""
        t_att, w_t2i = self.text_to_image(text, image, None, output_attentions=True)  # words look at patches
        i_att, _ = self.image_to_text(image, text, _as_key_mask(text_mask))  # patches look at real words only
        text = self.text_norm1(text + self.dropout(t_att))
        image = self.image_norm1(image + self.dropout(i_att))
        text = self.text_norm2(text + self.dropout(self.text_ffn(text)))
        image = self.image_norm2(image + self.dropout(self.image_ffn(image)))
        return text, image, w_t2i


class CrossAttentionFusion(nn.Module):
    """Two streams (ViLBERT/LXMERT-style): a BERT text stream and a ViT-style image stream, each with
    its own self-attention layers, then ``co_layers`` :class:`CoAttentionLayer` s; the classifier reads
    [mean of the words ; the image encoder's pooling of the patches]."""

    def __init__(self, config: BertConfig, image_size: int, patch_size: int, in_channels: int = 1,
                 num_labels: int = 2, co_layers: int = 1):
        super().__init__()
        self.text = TextEncoder(config)
        self.image = ImageEncoder(config, image_size, patch_size, in_channels)
        self.co_layer = nn.ModuleList(CoAttentionLayer(config) for _ in range(co_layers))
        self.classifier = _head(2 * config.hidden_size, config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask, images, output_attentions: bool = False) -> FusionOutput:
        text, _ = self.text(input_ids, attention_mask)  # (B, T, H)
        image, _ = self.image(images)  # (B, N, H)
        weights = []
        for layer in self.co_layer:
            text, image, w = layer(text, image, attention_mask)
            weights.append(w)
        pooled = torch.cat([masked_mean(text, attention_mask), self.image.pool(image)], dim=-1)  # (B, 2H)
        return FusionOutput(self.classifier(pooled), cross_attentions=weights if output_attentions else [])


# -- objectives: image–text matching and contrastive -------------------------------------------------

def itm_negatives(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each example i, the index j of a *mismatched* partner for image–text matching.

    j is drawn uniformly among the examples whose label differs from labels[i] (so never i itself, and
    never another example whose text would describe image i just as well). Returns (N,) int64.
    """
    labels = np.asarray(labels)
    n = len(labels)
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        candidates = np.flatnonzero(labels != labels[i])
        if len(candidates) == 0:
            raise ValueError(f"example {i} has no example with a different label to pair with")
        out[i] = rng.choice(candidates)
    return out


def info_nce(image_emb: torch.Tensor, text_emb: torch.Tensor, temperature: torch.Tensor | float) -> torch.Tensor:
    """CLIP's symmetric InfoNCE loss for a batch of B matching pairs (row i of each is a pair).

    logits = normalise(I) normalise(T)ᵀ / τ  (B, B); the loss is the mean of the cross-entropy of each
    image over the texts (rows) and of each text over the images (columns), target = the diagonal.
    """
    i = F.normalize(image_emb, dim=-1)  # (B, D)
    t = F.normalize(text_emb, dim=-1)  # (B, D)
    logits = i @ t.T / temperature  # (B, B): row = image, column = text
    targets = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


class DualEncoder(nn.Module):
    """CLIP-style dual encoder: BERT for text, ViT-style for images, linear projections to a shared space
    and a learned temperature τ = exp(-logit_scale) (initialised at 0.07 as in CLIP)."""

    def __init__(self, config: BertConfig, image_size: int, patch_size: int, in_channels: int = 1,
                 embed_dim: int = 32):
        super().__init__()
        self.text = TextEncoder(config)
        self.image = ImageEncoder(config, image_size, patch_size, in_channels)
        self.text_projection = nn.Linear(config.hidden_size, embed_dim, bias=False)
        self.image_projection = nn.Linear(config.hidden_size, embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    @property
    def temperature(self) -> torch.Tensor:
        return torch.exp(-self.logit_scale.clamp(max=math.log(100.0)))  # τ ≥ 0.01, as CLIP clamps

    def encode_text(self, input_ids, attention_mask) -> torch.Tensor:
        """(B, D) unit vectors."""
        return F.normalize(self.text_projection(self.text(input_ids, attention_mask)[1]), dim=-1)

    def encode_image(self, images) -> torch.Tensor:
        """(B, D) unit vectors."""
        return F.normalize(self.image_projection(self.image(images)[1]), dim=-1)

    def forward(self, input_ids, attention_mask, images) -> torch.Tensor:
        """The InfoNCE loss of a batch of matching pairs."""
        return info_nce(self.encode_image(images), self.encode_text(input_ids, attention_mask), self.temperature)


def retrieval_recall(similarity: torch.Tensor | np.ndarray, ks: tuple[int, ...] = (1, 5)) -> dict[int, float]:
    """Recall@k for queries (rows) against a gallery (columns) where query i's match is column i."""
    s = torch.as_tensor(similarity)
    if s.dim() != 2 or s.shape[0] > s.shape[1]:
        raise ValueError(f"similarity must be (queries, gallery ≥ queries); got shape {tuple(s.shape)}")
    true = s[torch.arange(len(s)), torch.arange(len(s))][:, None]  # (Q, 1)
    rank = (s > true).sum(dim=1)  # how many gallery items beat the match (0 = top-1)
    return {k: float((rank < k).float().mean()) for k in ks}


# -- data → tensors, training, evaluation -------------------------------------------------------------

def to_tensors(data, tokenizer, max_length: int = 32) -> dict[str, torch.Tensor]:
    """An :class:`bertlab.multimodal_data.ImageTextSet` → input_ids/attention_mask (N, T) padded to the
    longest, images (N, [C,] H, W) float32, labels (N,)."""
    enc = tokenizer.encode_batch(list(data.texts), max_length=max_length)
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
            "images": torch.as_tensor(np.asarray(data.images, dtype=np.float32)),
            "labels": torch.as_tensor(np.asarray(data.labels), dtype=torch.long)}


def _forward(model: nn.Module, batch: dict[str, torch.Tensor]) -> FusionOutput:
    return model(batch["input_ids"], batch["attention_mask"], batch["images"])


def train_classifier(model: nn.Module, data: dict[str, torch.Tensor], epochs: int = 5, lr: float = 1e-3,
                     batch_size: int = 64, seed: int = 0, progress: bool = True, desc: str = "") -> dict:
    """Train ``model`` with cross-entropy and AdamW on shuffled mini-batches of ``data`` (see :func:`to_tensors`).

    Returns ``{"losses": [per-step loss], "seconds": wall time}``.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    n = len(data["labels"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(n / batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / (0.1 * steps + 1))
                                                 * max(0.0, 1 - s / steps))  # warm-up, then linear decay
    losses = []
    start = time.perf_counter()
    model.train()
    bar = tqdm(total=steps, desc=desc or type(model).__name__, disable=not progress, leave=False)
    for _ in range(epochs):
        for idx in torch.randperm(n, generator=g).split(batch_size):
            batch = {k: v[idx] for k, v in data.items()}
            loss = F.cross_entropy(_forward(model, batch).logits, batch["labels"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    bar.close()
    model.eval()
    return {"losses": losses, "seconds": time.perf_counter() - start}


@torch.no_grad()
def predict(model: nn.Module, data: dict[str, torch.Tensor], batch_size: int = 256) -> torch.Tensor:
    """Predicted class per example (N,), in eval mode."""
    model.eval()
    n = len(data["labels"])
    return torch.cat([_forward(model, {k: v[i:i + batch_size] for k, v in data.items()}).logits.argmax(-1)
                      for i in range(0, n, batch_size)])


def accuracy(model: nn.Module, data: dict[str, torch.Tensor]) -> float:
    """Fraction of examples classified correctly."""
    return float((predict(model, data) == data["labels"]).float().mean())


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def distinct_class_batches(classes: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffle and cut into batches in which every class appears at most once (one batch per "round").

    Contrastive training needs this when captions repeat (every "a handwritten seven" is the same text):
    a second seven in the batch would be a false negative.
    """
    classes = np.asarray(classes)
    pools = {c: list(rng.permutation(np.flatnonzero(classes == c))) for c in np.unique(classes)}
    batches = []
    while any(pools.values()):
        batches.append(np.array([pool.pop() for pool in pools.values() if pool]))
    return [batches[i] for i in rng.permutation(len(batches))]


def train_contrastive(model: DualEncoder, data: dict[str, torch.Tensor], classes: np.ndarray, epochs: int = 5,
                      lr: float = 2e-3, seed: int = 0, progress: bool = True) -> dict:
    """Train a :class:`DualEncoder` with InfoNCE on batches of distinct classes. Returns losses,
    temperatures and seconds."""
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    losses, temperatures = [], []
    start = time.perf_counter()
    model.train()
    epoch_batches = [distinct_class_batches(classes, rng) for _ in range(epochs)]
    bar = tqdm(total=sum(map(len, epoch_batches)), desc="CLIP", disable=not progress, leave=False)
    for batches in epoch_batches:
        for idx in batches:
            idx = torch.as_tensor(idx)
            loss = model(data["input_ids"][idx], data["attention_mask"][idx], data["images"][idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            temperatures.append(model.temperature.item())
            bar.update()
    bar.close()
    model.eval()
    return {"losses": losses, "temperatures": temperatures, "seconds": time.perf_counter() - start}
