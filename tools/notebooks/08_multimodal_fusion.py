# %% [markdown]
# # 08 · Multimodal fusion: BERT meets images
#
# **What you will build:** models that read a sentence *and* look at a picture, on top of the course's
# BERT — an image encoder (ViT-style patches, and a small CNN), **late fusion** (concatenation, and a
# gated weighted sum), **early fusion** (one encoder over words and patches, VisualBERT/UNITER-style),
# **co-attention** (two streams that attend to each other, ViLBERT/LXMERT-style), and the two
# objectives that pre-train such models: **image–text matching** and **contrastive** (CLIP) learning.
# Four exercises: `patch_embedding`, `gated_fusion`, `itm_negatives`, `info_nce`.
#
# **You need:** chapter 04 (`bertlab.model`: `BertConfig`, `BertModel`, `BertLayer`) and chapter 03
# (`WordPieceTokenizer`).
#
# **First, a correction.** "BERT is multimodal" is a common misconception. BERT reads token ids and
# nothing else — there is no image input anywhere in it:

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
import torch

import bertlab
from bertlab import checks as check
from bertlab import multimodal_data as md
from bertlab.finetuning import fine_tune, predict_logits
from bertlab.fusion import encoders, objectives
from bertlab.fusion.models import (
    CrossAttentionFusion,
    DualEncoder,
    EarlyFusion,
    ImageOnly,
    LateFusionConcat,
    LateFusionGated,
    TextOnly,
)
from bertlab.fusion.training import to_tensors, train_contrastive
from bertlab.model import BertModel, count_parameters
from bertlab.pretraining import tiny_config
from bertlab.tokenizer import WordPieceTokenizer
from bertlab.training.metrics import accuracy

plt.rcParams["figure.dpi"] = 80
torch.set_num_threads(1)  # these models are tiny: one thread is as fast and steadier on a busy machine
print("BertModel.forward takes:", list(inspect.signature(BertModel.forward).parameters)[1:])

# %% [markdown]
# Every model in this chapter *extends* a text-only BERT with an image side. VisualBERT, ViLBERT,
# LXMERT, UNITER and CLIP are such extensions; BERT itself never saw a picture.
#
# ## 1. A task that needs both modalities
#
# Real images: scikit-learn's 1,797 handwritten digits (8×8 pixels), cut to 174 of each digit.
# Each image is paired with four claims — "the digit is even", "… odd", "… greater than four",
# "… less than five" — and the answer is yes or no. The design makes **each modality alone useless**:
# every image has exactly two true and two false claims, and every claim is true for exactly half of
# the images. So P(yes | image) = P(yes | text) = ½ exactly. Computed on the data:

# %%
train, test = md.digit_claims("train"), md.digit_claims("test")
print(f"train: {len(train)} pairs from {len(set(train.image_ids))} images; test: {len(test)} pairs")
for claim in md.CLAIMS:
    ys = train.labels[np.array(train.texts) == claim]
    print(f"P(yes | {claim!r:34}) = {ys.mean():.3f}")
yes_per_image = np.bincount(train.image_ids, weights=train.labels)[np.unique(train.image_ids)]
print("yes-answers per image:", set(yes_per_image.astype(int)), "of 4  →  P(yes | image) = 0.5")

# %%
fig, axes = plt.subplots(1, 6, figsize=(9, 2))
for ax, k in zip(axes, range(0, 24, 4)):
    ax.imshow(train.images[k], cmap="gray_r")
    ax.set_title(f"{train.texts[k + 2][13:]}?\n{'yes' if train.labels[k + 2] else 'no'}", fontsize=8)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# The texts are tokenized by the course's `WordPieceTokenizer` with a word-level vocabulary built
# from the task's own words (the five special tokens first):

# %%
all_texts = list(md.CLAIMS) + [md.digit_prompt(d) for d in range(10)] + md.make_scenes(200).texts
tok = WordPieceTokenizer(md.word_vocab(all_texts))
print(len(tok), "tokens;", tok.tokenize("the digit is greater than four"))
data_train, data_test = to_tensors(train, tok), to_tensors(test, tok)
print({k: tuple(v.shape) for k, v in data_train.items()})

# %% [markdown]
# ## 2. The image side: patches (ViT) and a small CNN
#
# A Vision Transformer turns an image into a *sequence* so that BERT layers can read it: cut the
# $H \times W$ image into non-overlapping $p \times p$ patches, number them **row-major** (left to
# right, top to bottom), flatten each, project it linearly and add a learned position embedding:
# $z_n = x_n W + b + E_{\text{pos}}[n]$, $n = 0 \dots N-1$, $N = (H/p)(W/p)$. For 8×8 digits and
# $p = 4$ that is $N = 4$ patches of 16 pixels:

# %%
p = 4
patches = encoders.patchify(torch.as_tensor(train.images[:1]), p)  # (1, N, p·p)
print("N =", (8 // p) * (8 // p), "patches of", p * p, "pixels → shape", tuple(patches.shape))
fig, axes = plt.subplots(1, 5, figsize=(7, 1.6))
axes[0].imshow(train.images[0], cmap="gray_r")
axes[0].set_title("image", fontsize=8)
for n in range(4):
    axes[n + 1].imshow(patches[0, n].reshape(p, p), cmap="gray_r", vmin=0, vmax=1)
    axes[n + 1].set_title(f"patch {n}", fontsize=8)
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# ### Exercise 1 — patch embedding
# `images` is (B, H, W) (grey) or (B, C, H, W). Split into non-overlapping `patch_size` patches in
# row-major order, flatten each as (C, p, p), then return `patches @ weight + bias + position_embeddings`
# of shape (B, N, D). Hint: `reshape(B, C, H//p, p, W//p, p)` then `permute`.

# %% tags=["exercise:patch_embedding"]
def patch_embedding(images, patch_size, weight, bias, position_embeddings):
    """(B, H, W) or (B, C, H, W) → (B, N, D)."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.patch_embedding(patch_embedding)

# %% [markdown]
# From here on the notebook uses the package's version, which `PatchEmbedding` (an `nn.Module` with
# the projection and the position embeddings as parameters) calls:

# %%
from bertlab.fusion.encoders import patch_embedding

bertlab.show(encoders.PatchEmbedding.forward)

# %% [markdown]
# **Patches or convolutions?** Both image encoders, trained on the same 1,392 training digits for
# the same 5 epochs, as plain 10-class classifiers (the digit itself, not the claims):

# %%
# NBVAL_IGNORE_OUTPUT
digits_train, digits_test = md.digit_captions("train"), md.digit_captions("test")
d_train, d_test = to_tensors(digits_train, tok), to_tensors(digits_test, tok)
cfg = tiny_config(len(tok), hidden_size=64, num_hidden_layers=1, max_position_embeddings=64, dropout=0.0)
digit_acc = {}
for kind in ("patch", "cnn"):
    torch.manual_seed(0)
    model = ImageOnly(cfg, 8, p, num_labels=10, encoder=kind)
    run = fine_tune(model, d_train, epochs=5, lr=2e-3, batch_size=64, clip=0.0, progress=True, desc=kind)
    digit_acc[kind] = accuracy(predict_logits(model, d_test), d_test["labels"])
    print(f"{kind:5}: {count_parameters(model):6,} parameters, digit accuracy {digit_acc[kind]:.3f}, "
          f"{run.seconds:.1f} s")

# %%
assert min(digit_acc.values()) > 0.8, digit_acc  # both read digits far above chance (0.1)

# %% [markdown]
# ## 3. Six models on the both-modalities task
#
# * **text-only** — BERT's mean-pooled words → MLP. **image-only** — the CNN → MLP.
# * **late fusion (concat)** — separate encoders; $\text{MLP}([V_t ; V_i])$.
# * **late fusion (weighted sum)** — $V_f = w_t V_t + w_i V_i$ with per-example weights from a gate,
#   $[w_t, w_i] = \text{softmax}(W_g [V_t ; V_i])$.
# * **early fusion** — one BERT over `[CLS] words [SEP]` followed by the patch tokens; a *token type*
#   (modality) embedding marks the patches; every layer's attention mixes words and patches.
# * **cross-attention** — a BERT text stream and a patch stream, then a co-attention layer in which the
#   words' queries attend to the patches' keys/values and the patches' queries to the words.
#
# A detail that decides whether late fusion learns at all: a pooled vector must *differ* between
# inputs. At initialisation BERT's [CLS] pooler gives nearly the same vector for "the digit is even"
# and "the digit is odd", and the mean of an 8×8 CNN feature map nearly the same for every digit, so
# the fusion head has nothing to combine and training sits at 50 %. `bertlab.fusion` therefore pools
# text by the mean over real tokens and images by a projection of the whole feature map.
#
# ### Exercise 2 — gated fusion
# Given pooled vectors `v_t`, `v_i` (B, H) and `gate_logits` (B, 2) (column 0 for text, 1 for image),
# return `(fused, weights)`: `weights` normalised over the two modalities, and
# `fused = w_t·v_t + w_i·v_i` (B, H).

# %% tags=["exercise:gated_fusion"]
def gated_fusion(v_t, v_i, gate_logits):
    """V_f = w_t·V_t + w_i·V_i; returns (V_f (B, H), weights (B, 2))."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.gated_fusion(gated_fusion)

# %% [markdown]
# The formula, computed with the package's version: a gate that favours the text gives mostly $V_t$.

# %%
from bertlab.fusion.models import gated_fusion

v_t, v_i = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
fused, w = gated_fusion(v_t, v_i, torch.tensor([[1.0, -1.0]]))
print("weights", w.numpy().round(3), "→ V_f", fused.numpy().round(3),
      "= w_t·V_t + w_i·V_i", (w[0, 0] * v_t + w[0, 1] * v_i).numpy().round(3))

# %% [markdown]
# Now train all six with the same recipe: chapter 06's loop, `bertlab.finetuning.fine_tune` (AdamW with no
# decay on biases and LayerNorm, warm-up and linear decay, batch 64), without gradient clipping — these tiny
# models start from scratch with a large learning rate, and clipping the gradient norm at 1.0 slows their
# first epochs down (`fine_tune(..., clip=1.0)` to see it). The unimodal baselines get one epoch: *whatever* they predict, they score exactly 50 % here (that is the point of
# the design), so more training would only cost time.

# %%
# NBVAL_IGNORE_OUTPUT
cfg = tiny_config(len(tok), hidden_size=64, num_hidden_layers=1, max_position_embeddings=64, dropout=0.0)
recipes = {  # name: (build, epochs, lr)
    "text-only": (lambda: TextOnly(cfg), 1, 2e-3),
    "image-only": (lambda: ImageOnly(cfg, 8, p, encoder="cnn"), 1, 2e-3),
    "late (concat)": (lambda: LateFusionConcat(cfg, 8, p, encoder="cnn"), 6, 3e-3),
    "late (weighted sum)": (lambda: LateFusionGated(cfg, 8, p, encoder="cnn"), 6, 1e-3),
    "early": (lambda: EarlyFusion(cfg, 8, p), 5, 2e-3),
    "cross-attention": (lambda: CrossAttentionFusion(cfg, 8, p), 5, 2e-3),
}
results, models = {}, {}
for name, (build, epochs, lr) in recipes.items():
    torch.manual_seed(0)
    models[name] = model = build()
    run = fine_tune(model, data_train, epochs=epochs, lr=lr, batch_size=64, clip=0.0, progress=True, desc=name)
    results[name] = {"accuracy": accuracy(predict_logits(model, data_test), data_test["labels"]),
                     "parameters": count_parameters(model), "seconds": run.seconds, "epochs": epochs,
                     "losses": run.losses}

# %%
# NBVAL_IGNORE_OUTPUT
print(f"{'model':22} {'test acc':>8} {'params':>8} {'epochs':>6} {'train s':>8}")
for name, r in results.items():
    print(f"{name:22} {r['accuracy']:8.3f} {r['parameters']:8,} {r['epochs']:6} {r['seconds']:8.1f}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3))
names = list(results)
ax1.barh(names, [results[n]["accuracy"] for n in names], color=["#999"] * 2 + ["#4c72b0"] * 4)
ax1.axvline(0.5, color="k", ls="--", lw=1)
ax1.set_xlabel("test accuracy (dashed: chance)")
ax1.invert_yaxis()
for n in names:
    ax2.scatter(results[n]["seconds"], results[n]["accuracy"], label=n)
ax2.set_xlabel("training seconds")
ax2.set_ylabel("test accuracy")
ax2.legend(fontsize=7)
plt.tight_layout()
plt.show()

# %%
acc = {n: r["accuracy"] for n, r in results.items()}
assert acc["text-only"] == 0.5 and acc["image-only"] == 0.5  # exactly chance, by construction
best = max(acc[n] for n in names[2:])
assert best >= 0.95, acc  # the best fusion model solves the task
assert all(acc[n] > 0.75 for n in names[2:]), acc  # every fusion model ≫ unimodal

# %% [markdown]
# The unimodal models are at exactly 50 %: no amount of training can change that here. Every fusion
# model is far above it; which fusion wins depends on the image encoder (the late models use the CNN,
# which reads digits better than 4 patches, see section 2) and on the training budget more than on
# the fusion style — with tiny models and a few seconds of training, expect a few points of spread.
# The gate of the weighted-sum model shows how much it relies on each modality per example:

# %%
# NBVAL_IGNORE_OUTPUT
with torch.no_grad():
    gate = models["late (weighted sum)"](data_test["input_ids"], data_test["attention_mask"],
                                         data_test["images"]).gate_weights
print("mean gate weights [w_text, w_image]:", gate.mean(0).numpy().round(3))
assert torch.allclose(gate.sum(-1), torch.ones(len(gate)), atol=1e-5)

# %% [markdown]
# ### Where does a word look? Cross-modal attention over the image
# In the co-attention layer each word is a query over the image patches. Averaged over heads, the
# weights of the word "even"/"odd"/… form a 2×2 map, drawn over the digit:

# %%
model = models["cross-attention"]
show = [0, 5, 10, 15]  # test pairs: image k // 4 with claim k % 4
with torch.no_grad():
    out = model(data_test["input_ids"][show], data_test["attention_mask"][show], data_test["images"][show],
                output_attentions=True)
w = out.cross_attentions[0].mean(1)  # (batch, words, patches), averaged over heads
fig, axes = plt.subplots(1, 4, figsize=(9, 2.6))
for ax, b, k in zip(axes, range(4), show):
    words = tok.convert_ids_to_tokens(data_test["input_ids"][k].tolist())
    last = int(data_test["attention_mask"][k].sum()) - 2  # the claim's last word, before [SEP]
    heat = w[b, last].reshape(2, 2).repeat_interleave(4, 0).repeat_interleave(4, 1)  # patch → pixels
    ax.imshow(test.images[k], cmap="gray_r")
    ax.imshow(heat, cmap="magma", alpha=0.45, vmin=0, vmax=1)
    ax.set_title(f"'{words[last]}' in\n{test.texts[k][13:]}", fontsize=8)
    ax.axis("off")
plt.tight_layout()
plt.show()
assert torch.allclose(w.sum(-1), torch.ones_like(w.sum(-1)), atol=1e-5)  # each word's weights sum to 1

# %% [markdown]
# ## 4. Image–text matching: BERT's NSP, made multimodal
#
# NSP asked "does sentence B follow sentence A?". Image–text matching (ITM) asks "does this caption
# describe this image?": positives are true pairs, negatives pair an image with another example's
# caption. The classic bug is making negatives by a random permutation: it can map i → i, and then a
# "negative" is the true pair. The expected number of such fixed points is exactly 1 per batch,
# whatever the batch size:

# %%
rng = np.random.default_rng(0)
fixed = [np.sum(rng.permutation(64) == np.arange(64)) for _ in range(2000)]
print(f"mean fixed points of a random permutation of 64: {np.mean(fixed):.2f}")

# %% [markdown]
# With captions like "a handwritten seven" there is a second trap: another *seven*'s caption is the
# same text, so it is a true pair in disguise. A negative must come from a different label.
#
# ### Exercise 3 — ITM negatives
# `itm_negatives(labels, rng)` returns, for each example i, a random index j with
# `labels[j] != labels[i]` (an np.ndarray of ints, shape (N,)), drawn with `rng`.

# %% tags=["exercise:itm_negatives"]
def itm_negatives(labels, rng):
    """For each i, a random j whose label differs from labels[i]."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.itm_negatives(itm_negatives)

# %% [markdown]
# With the package's sampler, build balanced ITM data (every caption once with its image, once with
# another digit's image) and train the cross-attention model on "match / no match":

# %%
from bertlab.fusion.objectives import itm_negatives


def itm_pairs(captions, seed):
    neg = itm_negatives(captions.classes, np.random.default_rng(seed))
    images = np.concatenate([captions.images, captions.images[neg]])  # true image, then a wrong one
    return md.ImageTextSet(images, captions.texts * 2, np.r_[np.ones(len(neg)), np.zeros(len(neg))].astype(np.int64),
                           np.r_[captions.image_ids, captions.image_ids[neg]], np.r_[captions.classes, captions.classes[neg]])


itm_train, itm_test = itm_pairs(digits_train, 0), itm_pairs(digits_test, 1)
negatives = itm_train.labels == 0
true_captions = np.array([md.digit_prompt(c) for c in itm_train.classes])  # of the image in each pair
assert not np.any(np.array(itm_train.texts)[negatives] == true_captions[negatives])  # no negative is a true pair
print(len(itm_train), "ITM training pairs,", itm_train.labels.mean(), "positive")

# %%
# NBVAL_IGNORE_OUTPUT
torch.manual_seed(0)
itm_model = CrossAttentionFusion(cfg, 8, p)
itm_run = fine_tune(itm_model, to_tensors(itm_train, tok), epochs=4, lr=2e-3, batch_size=64, clip=0.0, progress=True,
                    desc="ITM")
itm_data = to_tensors(itm_test, tok)
itm_acc = accuracy(predict_logits(itm_model, itm_data), itm_data["labels"])
print(f"ITM test accuracy {itm_acc:.3f} (chance 0.5), {itm_run.seconds:.1f} s")

# %%
assert itm_acc > 0.8, itm_acc

# %% [markdown]
# ## 5. Contrastive learning (CLIP) and zero-shot classification
#
# A dual encoder embeds images and texts separately into one space. For a batch of $B$ matching
# pairs, with unit vectors $I_k$, $T_k$ and temperature $\tau$, the logits are
# $L_{kl} = I_k \cdot T_l / \tau$ and the loss is the symmetric InfoNCE:
# $\mathcal{L} = \tfrac12\left[\tfrac1B\sum_k -\log\frac{e^{L_{kk}}}{\sum_l e^{L_{kl}}}
# + \tfrac1B\sum_l -\log\frac{e^{L_{ll}}}{\sum_k e^{L_{kl}}}\right]$ — each image picks its text
# among the batch's texts (rows), and each text its image (columns). $\tau$ is learned.
#
# ### Exercise 4 — symmetric InfoNCE
# `info_nce(image_emb, text_emb, temperature)`: L2-normalise both (B, D) inputs, divide the cosine
# matrix by the temperature (a tensor: keep it one, so it can be learned), and return the mean of the
# two cross-entropies as a 0-d tensor.

# %% tags=["exercise:info_nce"]
def info_nce(image_emb, text_emb, temperature):
    """Symmetric InfoNCE of B matching pairs; returns a scalar tensor."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.info_nce(info_nce)

# %% [markdown]
# The formula, computed by hand for a batch of two and compared with the package's version:

# %%
from bertlab.fusion.objectives import info_nce

I = torch.nn.functional.normalize(torch.tensor([[1.0, 0.2], [0.1, 1.0]]), dim=-1)
T = torch.nn.functional.normalize(torch.tensor([[0.9, 0.0], [0.5, 0.5]]), dim=-1)
L = I @ T.T / 0.5
by_hand = 0.5 * (-torch.log_softmax(L, dim=1).diagonal().mean() - torch.log_softmax(L, dim=0).diagonal().mean())
print(f"by hand {by_hand.item():.6f}  package {info_nce(I, T, 0.5).item():.6f}")
assert torch.isclose(by_hand, info_nce(I, T, 0.5))

# %% [markdown]
# Train a dual encoder on (digit, "a handwritten seven") pairs. Because captions repeat, each batch
# holds ten *different* digits — a second seven in the batch would be a false negative, the same
# trap as in ITM.

# %%
# NBVAL_IGNORE_OUTPUT
torch.manual_seed(0)
clip = DualEncoder(cfg, 8, p, embed_dim=32)
clip_run = train_contrastive(clip, d_train, digits_train.classes, epochs=5, lr=2e-3)
print(f"loss {np.mean(clip_run['losses'][:20]):.3f} → {np.mean(clip_run['losses'][-20:]):.3f}, "
      f"τ {clip_run['temperatures'][0]:.3f} → {clip_run['temperatures'][-1]:.3f}, {clip_run['seconds']:.1f} s")

# %%
assert np.mean(clip_run["losses"][-20:]) < np.mean(clip_run["losses"][:20])

# %% [markdown]
# **Zero-shot classification:** no classifier was trained. Embed the ten prompts "a handwritten
# zero" … "a handwritten nine" and give each test image the prompt it is most similar to.
# **Retrieval:** recall@k is the fraction of queries whose match is among the top k; image → text over
# the ten prompts, and text → image over galleries of ten test images (one per digit).

# %%
# NBVAL_IGNORE_OUTPUT
prompts = tok.encode_batch([md.digit_prompt(d) for d in range(10)])
with torch.no_grad():
    text_emb = clip.encode_text(prompts["input_ids"], prompts["attention_mask"])  # (10, D)
    image_emb = clip.encode_image(d_test["images"])  # (N, D)
sim = image_emb @ text_emb.T  # (N, 10)
zero_shot = float((sim.argmax(1) == d_test["labels"]).float().mean())
ranks = (sim > sim.gather(1, d_test["labels"][:, None])).sum(1)  # image → text: prompts beating the true one
i2t = {k: float((ranks < k).float().mean()) for k in (1, 5)}
t2i = []
for gallery in objectives.distinct_class_batches(digits_test.classes, np.random.default_rng(0)):
    if len(gallery) == 10:
        g = torch.as_tensor(gallery)
        t2i.append(objectives.retrieval_recall(text_emb[d_test["labels"][g]] @ image_emb[g].T, ks=(1, 5)))
t2i = {k: float(np.mean([r[k] for r in t2i])) for k in (1, 5)}
print(f"zero-shot accuracy {zero_shot:.3f} (chance 0.1)")
print(f"image→text recall@1 {i2t[1]:.3f}  recall@5 {i2t[5]:.3f}")
print(f"text→image recall@1 {t2i[1]:.3f}  recall@5 {t2i[5]:.3f}  (galleries of 10, chance 0.1 / 0.5)")

# %%
assert zero_shot > 0.5 and i2t[5] > i2t[1] - 1e-9 and t2i[1] > 0.3

# %% [markdown]
# ## 6. A fully controlled set: synthetic scenes
#
# For relational questions, `multimodal_data.make_scenes` draws two coloured shapes with NumPy, one in
# each half, with a programmatic caption. `scene_relations` pairs every scene with its true caption
# and with the two objects swapped: the *same words* and the *same image*, so a bag of words and the
# image alone are at chance; only word order + spatial layout decide.

# %%
rel = md.scene_relations(4, size=16, seed=0)
fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
for ax, k in zip(axes, range(0, 8, 2)):
    ax.imshow(rel.images[k].transpose(1, 2, 0))
    ax.set_title(f"✓ {rel.texts[k]}\n✗ {rel.texts[k + 1]}", fontsize=7)
    ax.axis("off")
plt.tight_layout()
plt.show()
print(sorted(rel.texts[0].split()) == sorted(rel.texts[1].split()), np.array_equal(rel.images[0], rel.images[1]))

# %% [markdown]
# ## Summary
#
# * BERT is text-only; multimodal models extend it with an image encoder (ViT-style patches or a CNN).
# * **Late fusion** combines pooled vectors (concat + MLP, or a gated weighted sum); **early fusion**
#   runs one encoder over words and patches with modality embeddings; **co-attention** lets two
#   streams query each other, and its attention maps show where a word looks.
# * A task built so that text alone and image alone are at exactly 50 % proves fusion does real work.
# * Pre-training objectives: **ITM** (the multimodal NSP — negatives must never be true pairs) and
#   **contrastive InfoNCE** (symmetric, learned temperature), which gives zero-shot classification.
#
# **Going further:** train the cross-attention model on `scene_relations` (try patch 4 on 16×16
# colour scenes); add masked-language modelling conditioned on the image; replace the digits with
# MNIST; compare pooling by [CLS] and by the mean (section 3's remark) by measuring it.
