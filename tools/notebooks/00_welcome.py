# %% [markdown]
# # 00 · Welcome to bertlab
#
# **BERT and what came after it — built from its formulas, on your laptop, offline.**
#
# You will build, in order: attention in NumPy (01) → positional encodings (02) → WordPiece
# tokenization (03) → a PyTorch BERT encoder that reproduces a real pretrained checkpoint to 1e-5 (04)
# → MLM/NSP pre-training on a CPU (05) → fine-tuning (06) → multimodal fusion (07) → what came after
# BERT (08). Every formula in the text is computed in a cell next to it.
#
# **How the course works**
# - Read, run each cell top to bottom (Shift+Enter), change things, re-run.
# - Exercises are code cells ending in `raise NotImplementedError`. Replace that with your code and run
#   the **check** cell right after it: ✅ passed, ❌ what is wrong and the likely mistake, ✏️ not
#   attempted yet.
# - Later cells never depend on your answer: after each exercise the notebook continues with the
#   reference implementation from the `bertlab` package.
# - Stuck? Read the hint in the ❌ message first; then `bertlab.solution("name")` shows the reference.
# - Your notebooks live in `workspace/` (made by `make lab`); course updates never overwrite them.

# %% [markdown]
# ## 1. Environment check
# Everything the course needs is installed by `make lab`, including the pretrained weights and the
# data, so nothing is downloaded while you work. This cell checks the versions against
# `requirements.txt` and that the offline parts are on disk:

# %%
import numpy as np

import bertlab
from bertlab import checks as check
from bertlab import envcheck

print(envcheck.report())
assert "❌" not in envcheck.report(), "something is missing: run `make lab` again (see README, Troubleshooting)"

# %% [markdown]
# Your machine's cores and threads (this differs from machine to machine; the course's time budgets
# are measured on 2 cores):

# %%
# NBVAL_IGNORE_OUTPUT
print(envcheck.threads())

# %% [markdown]
# ## 2. A first exercise: cosine similarity
#
# Chapter 04 turns sentences into vectors and compares them with the cosine of the angle between them:
#
# $$\cos(u, v) = \frac{u \cdot v}{\lVert u \rVert\,\lVert v \rVert}$$
#
# It is 1 for vectors pointing the same way, 0 for orthogonal ones, −1 for opposite ones, whatever
# their lengths. Write it (`u @ v` is the dot product, `np.linalg.norm(u)` the length), then run the check.

# %% tags=["exercise:cosine_similarity"]
def cosine_similarity(u, v):
    """cos(u, v) = u·v / (‖u‖ ‖v‖) for two 1-D arrays; returns a float."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.cosine_similarity(cosine_similarity)

# %% [markdown]
# What a failing check looks like — here a typical slip, the plain dot product (no division by the
# lengths). The check names the mistake. (`check.demo()` only keeps this deliberate failure from
# stopping the course's automated "solved" run; you never need it.)

# %%
def cosine_with_a_slip(u, v):
    return u @ v

with check.demo():
    display(check.cosine_similarity(cosine_with_a_slip))

# %% [markdown]
# Checks survive anything your code does: an exception, `None`, NaN, changing its inputs in place,
# an endless loop (stopped after a time limit). The kernel stays alive:

# %%
def cosine_that_crashes(u, v):
    return u @ v / np.linalg.norm(w)  # a typo: w is not defined

with check.demo():
    display(check.cosine_similarity(cosine_that_crashes))

# %% [markdown]
# When you want to see the reference solution:

# %%
bertlab.solution("cosine_similarity")

# %% [markdown]
# ## 3. Glossary · 术语表
# The terms the course uses, in English and Chinese, with the chapter that builds each.

# %%
glossary = [
    ("token", "词元", "03", "a unit of text the model sees (word or word piece)"),
    ("WordPiece", "WordPiece 子词切分", "03", "greedy longest-match subword tokenizer, `##` marks continuations"),
    ("embedding", "嵌入 / 向量表示", "02, 04", "a learned vector for each token id"),
    ("attention", "注意力", "01", "softmax(QKᵀ/√d_k)V: a weighted average of values"),
    ("query / key / value", "查询 / 键 / 值", "01", "the three projections attention compares and mixes"),
    ("multi-head attention", "多头注意力", "01, 04", "h attentions in parallel on d_model/h-wide slices"),
    ("padding mask", "填充掩码", "01, 03", "hides [PAD] keys from attention"),
    ("positional encoding", "位置编码", "02", "adds word order: sinusoidal or learned"),
    ("segment embedding", "句段嵌入", "02, 04", "token type A/B for sentence pairs"),
    ("encoder", "编码器", "04", "a stack of attention + feed-forward layers"),
    ("feed-forward network", "前馈网络", "04", "GELU(xW₁+b₁)W₂+b₂ at each position"),
    ("layer normalization", "层归一化", "02, 04", "normalise each vector to mean 0, variance 1, then scale"),
    ("pre-training", "预训练", "05", "learning from unlabelled text"),
    ("masked language model (MLM)", "掩码语言模型", "05", "predict hidden tokens from both sides"),
    ("next sentence prediction (NSP)", "下一句预测", "05", "is sentence B the one that follows A?"),
    ("fine-tuning", "微调", "06", "training the pretrained model on a labelled task"),
    ("[CLS] / [SEP] / [MASK]", "分类符 / 分隔符 / 掩码符", "03", "BERT's special tokens"),
    ("multimodal fusion", "多模态融合", "07", "combining text and image representations"),
    ("contrastive learning", "对比学习", "07", "pull matching pairs together, push others apart"),
    ("knowledge distillation", "知识蒸馏", "08", "a small student learns from a large teacher"),
    ("quantisation", "量化", "08", "storing weights in fewer bits (int8)"),
]
print(f"{'English':<32}{'中文':<18}{'ch.':<8}meaning")
for en, zh, ch, meaning in glossary:
    pad = 18 - sum(2 if ord(ch_) > 0x2E80 else 1 for ch_ in zh)  # CJK characters are double width
    print(f"{en:<32}{zh}{' ' * max(pad, 1)}{ch:<8}{meaning}")

# %% [markdown]
# ## Summary
# - Run cells top to bottom; exercises end in `raise NotImplementedError`; the check right after tells
#   you ✅ / ❌ (with the likely mistake) / ✏️.
# - `bertlab.solution("name")` shows a reference solution; `bertlab.show(fn)` shows the package's code.
# - Everything runs offline on a CPU; each chapter runs in under two minutes on 2 cores.
#
# **Going further:** chapter 01 starts with the formula at the heart of BERT,
# softmax(QKᵀ/√d_k)V. The README's chapter map lists every chapter and its status.
