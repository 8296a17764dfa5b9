"""The fusion styles (chapter 08): unimodal baselines, late fusion (concatenation, gated weighted sum), early
fusion (one stream), co-attention (two streams), and CLIP's dual encoder.

Every classifier's ``forward(input_ids, attention_mask, images)`` returns a :class:`FusionOutput`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..model import BertConfig, BertModel, BertSelfAttention, FeedForward, explicit_attention, key_mask
from ..pooling import masked_mean
from .encoders import ImageEncoder, PatchEmbedding, TextEncoder, make_image_encoder
from .objectives import info_nce


@dataclass
class FusionOutput:
    """``logits`` (B, num_labels); optional extras for inspection."""

    logits: torch.Tensor
    gate_weights: torch.Tensor | None = None  # (B, 2): [w_text, w_image] (gated late fusion)
    cross_attentions: list[torch.Tensor] = field(default_factory=list)  # text→image (B, heads, T, N) per layer


def _head(in_features: int, hidden: int, num_labels: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_features, hidden), nn.GELU(), nn.Linear(hidden, num_labels))


class TextOnly(nn.Module):
    """Baseline that ignores the image: BERT's pooled words (mean, or the [CLS] pooler) → MLP."""

    def __init__(self, config: BertConfig, num_labels: int = 2, text_pooling: str = "mean"):
        super().__init__()
        self.text = TextEncoder(config, text_pooling)
        self.classifier = _head(config.hidden_size, config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask, images) -> FusionOutput:
        return FusionOutput(self.classifier(self.text(input_ids, attention_mask)[1]))


class ImageOnly(nn.Module):
    """Baseline that ignores the text: an image encoder (``"patch"`` ViT-style or ``"cnn"``) → MLP."""

    def __init__(self, config: BertConfig, image_size: int, patch_size: int, in_channels: int = 1,
                 num_labels: int = 2, encoder: str = "patch", image_pooling: str = "flatten"):
        super().__init__()
        self.image = make_image_encoder(encoder, config, image_size, patch_size, in_channels, image_pooling)
        self.classifier = _head(config.hidden_size, config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask, images) -> FusionOutput:
        return FusionOutput(self.classifier(self.image(images)[1]))


class LateFusionConcat(nn.Module):
    """Late fusion: separate encoders; MLP([V_t ; V_i]) on the concatenated pooled vectors.

    ``encoder``: "patch" (ViT-style) or "cnn"; ``text_pooling``: "mean" or "cls"; ``image_pooling``: "flatten"
    or "mean" (see :mod:`~bertlab.fusion.encoders`)."""

    def __init__(self, config: BertConfig, image_size: int, patch_size: int, in_channels: int = 1,
                 num_labels: int = 2, encoder: str = "patch", text_pooling: str = "mean",
                 image_pooling: str = "flatten"):
        super().__init__()
        self.text = TextEncoder(config, text_pooling)
        self.image = make_image_encoder(encoder, config, image_size, patch_size, in_channels, image_pooling)
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
    """Late fusion by a learned, gated weighted sum: gate_logits = W_g [V_t ; V_i], then :func:`gated_fusion`.
    Options as :class:`LateFusionConcat`."""

    def __init__(self, config: BertConfig, image_size: int, patch_size: int, in_channels: int = 1,
                 num_labels: int = 2, encoder: str = "patch", text_pooling: str = "mean",
                 image_pooling: str = "flatten"):
        super().__init__()
        self.text = TextEncoder(config, text_pooling)
        self.image = make_image_encoder(encoder, config, image_size, patch_size, in_channels, image_pooling)
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
        context, weights = explicit_attention(q, k, v, mask, self.attn_dropout)  # (B, heads, Tq, d_k), (…, Tq, Tk)
        return self.output(self.merge_heads(context)), (weights if output_attentions else None)


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
        i_att, _ = self.image_to_text(image, text, key_mask(text_mask))  # patches look at real words only
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
