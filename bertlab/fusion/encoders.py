"""The two sides of a fusion model: an image encoder (ViT-style patches + BERT layers, or a small CNN) and
BERT as a text encoder. Each ``forward`` returns (tokens (B, N, H), pooled (B, H))."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..model import BertConfig, BertLayer, BertModel
from ..pooling import masked_mean


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


IMAGE_POOLINGS = ("flatten", "mean")
TEXT_POOLINGS = ("mean", "cls")


def _check_pooling(pooling: str, allowed: tuple[str, ...], side: str) -> None:
    if pooling not in allowed:
        raise ValueError(f"{side} pooling must be one of {allowed}; got {pooling!r}")


class ImageEncoder(nn.Module):
    """ViT-style encoder: :class:`PatchEmbedding`, LayerNorm, then ``config.num_hidden_layers`` BERT layers.

    forward(images) → (tokens (B, N, H), pooled (B, H)). ``pooling="flatten"`` (default):
    pooled = LayerNorm(W · flatten(tokens)), which keeps *where* each patch is; ``"mean"``: LayerNorm(mean over
    patches) (chapter 08 measures both).
    """

    def __init__(self, config: BertConfig, image_size: int, patch_size: int, in_channels: int = 1,
                 pooling: str = "flatten"):
        super().__init__()
        _check_pooling(pooling, IMAGE_POOLINGS, "image")
        self.pooling = pooling
        self.patches = PatchEmbedding(image_size, patch_size, in_channels, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))
        self.pool_projection = nn.Linear(self.patches.num_patches * config.hidden_size, config.hidden_size)
        self.pool_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, H) → (B, H)."""
        if self.pooling == "mean":
            return self.pool_norm(tokens.mean(dim=1))
        return self.pool_norm(self.pool_projection(tokens.flatten(1)))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.dropout(self.norm(self.patches(images)))  # (B, N, H)
        for layer in self.layer:
            x = layer(x)
        return x, self.pool(x)


class SmallCNN(nn.Module):
    """Two 3×3 convolutions (padding 1) with ReLU, the first followed by 2×2 max-pooling. ``pooling="flatten"``
    (default): the feature map is flattened and projected, so *where* a stroke is still counts; ``"mean"``: the
    average over positions, projected (global average pooling, as in ResNet).

    forward(images (B, [C,] H, W)) → (tokens (B, H/2·W/2, hidden), pooled (B, hidden)).
    """

    def __init__(self, in_channels: int, hidden: int, image_size: int = 8, pooling: str = "flatten"):
        super().__init__()
        _check_pooling(pooling, IMAGE_POOLINGS, "image")
        self.pooling = pooling
        self.conv1 = nn.Conv2d(in_channels, hidden // 2, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden // 2, hidden // 2, 3, padding=1)
        self.token_projection = nn.Linear(hidden // 2, hidden)
        positions = 1 if pooling == "mean" else (image_size // 2) ** 2
        self.pool = nn.Linear(positions * (hidden // 2), hidden)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = images[:, None] if images.dim() == 3 else images  # (B, C, H, W)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, hidden/2, H/2, W/2)
        x = F.relu(self.conv2(x))  # (B, hidden/2, H/2, W/2)
        tokens = self.token_projection(x.flatten(2).transpose(1, 2))  # (B, H/2·W/2, hidden)
        features = x.mean(dim=(2, 3)) if self.pooling == "mean" else x.flatten(1)  # (B, hidden/2 [· positions])
        return tokens, self.norm(self.pool(features))  # (B, hidden)


class TextEncoder(nn.Module):
    """The course's BERT (:class:`bertlab.model.BertModel`): forward → (tokens (B, T, H), pooled (B, H)).

    ``pooling="mean"`` (default): the mean of the real tokens' last hidden states (as sentence-transformers
    do); ``"cls"``: BERT's pooler, tanh(W h_[CLS] + b). Chapter 08 measures both.
    """

    def __init__(self, config: BertConfig, pooling: str = "mean"):
        super().__init__()
        _check_pooling(pooling, TEXT_POOLINGS, "text")
        self.pooling = pooling
        self.bert = BertModel(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.bert(input_ids, attention_mask=attention_mask)
        tokens = out.last_hidden_state  # (B, T, H)
        pooled = out.pooler_output if self.pooling == "cls" else masked_mean(tokens, attention_mask)
        return tokens, pooled


def make_image_encoder(kind: str, config: BertConfig, image_size: int, patch_size: int,
                       in_channels: int = 1, pooling: str = "flatten") -> nn.Module:
    """``"patch"`` → :class:`ImageEncoder`; ``"cnn"`` → :class:`SmallCNN` (``pooling``: "flatten" or "mean")."""
    if kind == "patch":
        return ImageEncoder(config, image_size, patch_size, in_channels, pooling)
    if kind == "cnn":
        return SmallCNN(in_channels, config.hidden_size, image_size, pooling)
    raise ValueError(f"image encoder must be 'patch' or 'cnn'; got {kind!r}")
