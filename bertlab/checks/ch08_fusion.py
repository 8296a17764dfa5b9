"""Checks for chapter 08 — multimodal fusion."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..fusion import encoders, models, objectives
from ._core import Check, exercise

__all__ = ["patch_embedding", "gated_fusion", "itm_negatives", "info_nce"]


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@exercise("patch_embedding")
def patch_embedding(c: Check, fn) -> None:
    g = _g()
    p, d = 2, 5
    images = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(2, 4, 4) / 32  # (B, H, W): grey
    weight, bias = torch.randn(p * p, d, generator=g), torch.randn(d, generator=g)
    pos = torch.randn(4, d, generator=g)
    got = c.expect_torch(c.call(fn, images, p, weight, bias, pos, what="patch_embedding(images, 2, W, b, E_pos)"),
                         "patch_embedding(...)")
    if got.dim() == 3 and got.shape[1] == 9:
        c.fail(f"for 4×4 images and patch_size 2 you returned {got.shape[1]} patches, expected 4.",
               "the patches overlap: step by patch_size (stride = patch size), e.g. reshape to "
               "(B, C, H/p, p, W/p, p); unfold with stride 1 gives overlapping windows.")
    x = images.reshape(2, 1, 2, p, 2, p)
    column_major = x.permute(0, 4, 2, 1, 3, 5).reshape(2, 4, p * p)
    transposed = x.permute(0, 2, 4, 1, 5, 3).reshape(2, 4, p * p)
    naive = images.reshape(2, 4, p * p)
    expected = encoders.patch_embedding(images, p, weight, bias, pos)
    c.expect_array(
        got, expected, what="the patch embeddings of two 4×4 images (patch 2, D = 5)", kind="torch", atol=1e-5,
        mistakes={
            "the position embeddings are missing: z_n = x_n W + b + E_pos[n]; without them the encoder "
            "cannot tell where a patch was.": encoders.patchify(images, p) @ weight + bias,
            "the patches are in column-major order (down the first column first); ViT numbers them "
            "row-major: left to right along the top row, then the next row.": column_major @ weight + bias + pos,
            "the pixels inside each patch are transposed (column by column); flatten each patch row by "
            "row.": transposed @ weight + bias + pos,
            "images.reshape(B, N, p·p) takes runs of pixels along image rows, not square patches: "
            "reshape to (B, C, H/p, p, W/p, p) and permute before flattening.": naive @ weight + bias + pos,
        },
        hint="split into p×p patches, row-major, flatten each as (C, p, p), then x W + b + E_pos.",
    )
    c.note("grey (B, H, W) images: 4 non-overlapping patches in row-major order, projected, plus positions")
    colour = torch.rand(1, 3, 4, 4, generator=g)
    w3 = torch.randn(3 * p * p, d, generator=g)
    got = c.expect_torch(c.call(fn, colour, p, w3, bias, pos, what="patch_embedding(colour images)"),
                         "patch_embedding(colour)")
    channels_last = colour.reshape(1, 3, 2, p, 2, p).permute(0, 2, 4, 3, 5, 1).reshape(1, 4, 3 * p * p)
    c.expect_array(
        got, encoders.patch_embedding(colour, p, w3, bias, pos), what="the patch embeddings of a (1, 3, 4, 4) image",
        kind="torch", atol=1e-5,
        mistakes={"each patch was flattened channels-last (p, p, C); flatten it as (C, p, p), the layout "
                  "of a (C, H, W) image.": channels_last @ w3 + bias + pos},
        hint="for (B, C, H, W) images flatten each patch as (C, p, p).",
    )
    c.note("colour (B, C, H, W) images: each patch flattened as (C, p, p)")


@exercise("gated_fusion")
def gated_fusion(c: Check, fn) -> None:
    g = _g(1)
    v_t, v_i = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    logits = torch.tensor([[2.0, -1.0], [0.0, 0.0], [-3.0, 1.5]])
    got = c.call(fn, v_t, v_i, logits, what="gated_fusion(v_t, v_i, gate_logits)")
    c.expect(isinstance(got, tuple) and len(got) == 2,
             f"it should return a pair (fused, weights); got {type(got).__name__}.",
             "end with `return fused, weights`.")
    fused, weights = got
    exp_fused, exp_w = models.gated_fusion(v_t, v_i, logits)
    sig = torch.sigmoid(logits)
    c.expect_array(
        weights, exp_w, what="the gate weights (2nd value) for gate_logits [[2, -1], [0, 0], [-3, 1.5]]",
        kind="torch", atol=1e-5,
        mistakes={
            "the weights are the raw gate logits: they are not normalised, so they need not be positive or "
            "sum to 1; apply a softmax over the two modalities.": logits,
            "a sigmoid per modality gives weights that are not normalised (rows do not sum to 1); use a "
            "softmax over the two modalities (or w_i = 1 - w_t).": sig,
            "the softmax ran over the batch (dim 0); normalise over the two modalities, dim -1.":
                torch.softmax(logits, dim=0),
        },
        hint="[w_t, w_i] = softmax(gate_logits, dim=-1).",
    )
    c.note("gate weights = softmax over the two modalities, rows sum to 1")
    fused = c.expect_torch(fused, "V_f (1st value)")
    c.expect(tuple(fused.shape) != (3, 8), "V_f has shape (3, 8): twice the hidden size.",
             "V_f was concatenated, not summed: a weighted *sum* keeps the hidden size (3, 4).")
    c.expect_array(
        fused, exp_fused, what="V_f (1st value)", kind="torch", atol=1e-5,
        mistakes={
            "the gate is applied to the wrong modality: column 0 weighs the text, column 1 the image "
            "(V_f = w_t·V_t + w_i·V_i).": exp_w[:, 1:2] * v_t + exp_w[:, 0:1] * v_i,
            "both vectors were weighted by the same gate column.": exp_w[:, 0:1] * (v_t + v_i),
        },
        hint="V_f = weights[:, 0:1] * v_t + weights[:, 1:2] * v_i.",
    )
    c.note("V_f = w_t·V_t + w_i·V_i, weights broadcast over the hidden size")


@exercise("itm_negatives")
def itm_negatives(c: Check, fn) -> None:
    labels = np.random.default_rng(5).permutation(np.repeat(np.arange(5), 4))  # 20 examples, 5 classes
    n = len(labels)
    results = []
    for seed in range(30):
        got = c.call(fn, labels, np.random.default_rng(seed), what="itm_negatives(labels, rng)")
        if hasattr(got, "detach"):
            got = got.detach().cpu().numpy()
        got = np.asarray(got) if isinstance(got, (list, tuple, np.ndarray)) else got
        c.expect(isinstance(got, np.ndarray) and got.shape == (n,) and got.dtype.kind in "iu",
                 f"for 20 labels it should return 20 integer indices; got {_desc(got)}.",
                 "return one partner index per example, e.g. an np.ndarray of ints.")
        c.expect(bool(np.all((got >= 0) & (got < n))), f"an index is out of range 0…{n - 1}: {got.tolist()}.",
                 "return positions in the batch, not labels.")
        fixed = np.flatnonzero(got == np.arange(n))
        if len(fixed):
            c.fail(f"with seed {seed}, example {fixed[0]} was paired with itself: its 'negative' is the true pair.",
                   "a random permutation can map i → i (a fixed point); a negative must never be the true "
                   "pair: draw j among the other examples (a derangement), or better, among other labels.")
        same = np.flatnonzero(labels[got] == labels)
        if len(same):
            i = same[0]
            c.fail(f"with seed {seed}, example {i} (label {labels[i]}) got example {got[i]} with the same "
                   f"label {labels[got[i]]}: its caption describes image {i} just as well, so this "
                   "'negative' is a true pair in disguise.",
                   "choose j among the examples whose label differs: np.flatnonzero(labels != labels[i]).")
        results.append(got)
    c.note("never the true pair, never the same label (30 random draws)")
    distinct = {tuple(r) for r in results}
    c.expect(len(distinct) > 1, "every seed gave the same pairing: the negatives are not random.",
             "draw them with the rng you are given (rng.choice / rng.permutation), so each epoch sees new ones.")
    partners = {int(r[0]) for r in results}
    c.expect(len(partners) >= 6,
             f"example 0 was only ever paired with {sorted(partners)} although 16 examples have another label.",
             "pick uniformly among all examples with a different label, not a fixed shift of the index.")
    c.note("random partners that vary with the rng and cover the candidates")


def _desc(x) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    return "None" if x is None else f"a {type(x).__name__}"


@exercise("info_nce")
def info_nce(c: Check, fn) -> None:
    g = _g(2)
    img, txt = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g)
    tau = torch.tensor(0.2, requires_grad=True)
    got = c.call(fn, img, txt, tau, what="info_nce(image_emb, text_emb, temperature)")
    got = c.expect_torch(got, "info_nce(...)")
    c.expect(got.dim() == 0, f"the loss should be a single number (a 0-d tensor); got shape {tuple(got.shape)}.",
             "average over the batch (F.cross_entropy does by default) and over the two directions.")
    targets = torch.arange(4)
    i, t = F.normalize(img, dim=-1), F.normalize(txt, dim=-1)
    with torch.no_grad():
        logits = i @ t.T / 0.2
        i2t, t2i = F.cross_entropy(logits, targets), F.cross_entropy(logits.T, targets)
        whole = -torch.log_softmax(logits.flatten(), 0).view(4, 4).diagonal().mean()
        mistakes = {
            "only one direction: CLIP's loss is symmetric, the mean of image→text (softmax over each row) "
            "and text→image (softmax over each column, i.e. logits.T).": i2t,
            "only the text→image direction; add image→text and average the two.": t2i,
            "the softmax ran over the whole B×B matrix; each image is a softmax over the texts (a row) and "
            "each text over the images (a column).": whole,
            "no temperature: divide the cosine similarities by τ before the softmax.":
                (F.cross_entropy(i @ t.T, targets) + F.cross_entropy(t @ i.T, targets)) / 2,
            "the similarities were multiplied by the temperature; divide by τ (a small τ sharpens).":
                (F.cross_entropy(i @ t.T * 0.2, targets) + F.cross_entropy(t @ i.T * 0.2, targets)) / 2,
            "the embeddings were not L2-normalised: CLIP's logits are cosine similarities / τ.":
                (F.cross_entropy(img @ txt.T / 0.2, targets) + F.cross_entropy(txt @ img.T / 0.2, targets)) / 2,
        }
    c.expect_array(got.reshape(()), objectives.info_nce(img, txt, 0.2), what="the loss for a batch of 4 pairs, τ = 0.2",
                   kind="torch", atol=1e-5, mistakes=mistakes,
                   hint="logits = normalise(I) normalise(T)ᵀ / τ; loss = (CE(logits) + CE(logitsᵀ)) / 2.")
    c.note("symmetric InfoNCE on cosine similarities / τ")
    c.expect(got.requires_grad, "the loss does not depend on the temperature tensor (no gradient reaches τ).",
             "keep τ a tensor (no float(τ) or .item()): CLIP *learns* it.")
    grad, = torch.autograd.grad(got, tau)
    c.expect(bool(grad.abs() > 0), "τ gets a zero gradient.", "divide the logits by τ.")
    c.note("the temperature receives a gradient (it can be learned)")
