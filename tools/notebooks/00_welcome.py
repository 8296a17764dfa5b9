# %% [markdown]
# # 00 · Welcome to bertlab
#
# **BERT and what came after it — built from its formulas, on your laptop, offline.**
#
# You will build, in order: attention in NumPy (01) → positional encodings (02) → WordPiece
# tokenization (03) → a PyTorch BERT encoder that reproduces a real pretrained checkpoint to 1e-5 (04)
# → MLM/NSP pre-training on a CPU (05) → fine-tuning (06) → question answering (07) → multimodal fusion (08) → what came after
# BERT (09) → scaling out across processes (10). Every formula in the text is computed in a cell next to it.
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
from IPython.display import Markdown

glossary = [
    ("token", "词元", "03", "a unit of text the model sees (a word or a word piece)"),
    ("subword", "子词", "03", "a piece of a word: frequent words stay whole, rare ones are split into known pieces"),
    ("WordPiece", "WordPiece 子词切分", "03", "greedy longest-match subword tokenizer; `##` marks a continuation"),
    ("[CLS] / [SEP] / [MASK]", "分类标记 / 分隔标记 / 掩码标记", "03",
     "BERT's special tokens: classification (sequence summary), separator (ends a segment), mask (a token to predict)"),
    ("padding mask", "填充掩码", "01, 03", "hides [PAD] keys from attention"),
    ("embedding", "嵌入 / 向量表示", "02, 04", "a learned vector for each token id"),
    ("positional encoding", "位置编码", "02", "adds word order: sinusoidal (fixed) or learned"),
    ("segment embedding", "片段嵌入", "02, 04", "a learned vector for segment A or B of a sentence pair (token type)"),
    ("attention", "注意力", "01", "a weighted average of values, weighted by how well queries match keys"),
    ("self-attention", "自注意力", "01, 04", "attention whose queries, keys and values all come from the same sequence"),
    ("scaled dot-product attention", "缩放点积注意力", "01", "softmax(QKᵀ/√d_k)V"),
    ("query / key / value", "查询 / 键 / 值", "01", "the three projections attention compares and mixes"),
    ("multi-head attention", "多头注意力", "01, 04", "h attentions in parallel on d_model/h-wide slices, then W_O"),
    ('residual connection', '残差连接', '04', "a sub-block's input added to its output: x + f(x)"),
    ("layer normalization", "层归一化", "02, 04", "normalise each vector to mean 0 and variance 1, then scale (γ) and shift (β)"),
    ("feed-forward network", "前馈网络", "04", "GELU(xW₁ + b₁)W₂ + b₂ at each position"),
    ("encoder", "编码器", "04", "a stack of attention + feed-forward layers"),
    ("pre-training", "预训练", "05", "learning from unlabelled text"),
    ("masked language model (MLM)", "掩码语言模型", "05", "predict hidden tokens from both sides"),
    ("next sentence prediction (NSP)", "下一句预测", "05", "is sentence B the one that follows A?"),
    ("fine-tuning", "微调", "06", "training the pretrained model further on a labelled task"),
    ("extractive question answering", "抽取式问答", "07", "find the answer as a span of the given text"),
    ("multimodal fusion", "多模态融合", "08", "combining text and image representations"),
    ("contrastive learning", "对比学习", "08", "pull matching pairs together, push the others apart"),
    ("knowledge distillation", "知识蒸馏", "09", "a small student learns from a large teacher"),
    ("quantisation", "量化", "09", "storing weights in fewer bits (int8)"),
    ("data parallelism", "数据并行", "10", "each process trains a copy of the model on its own share of the batch"),
]
Markdown("| English | 中文 | ch. | meaning |\n|---|---|---|---|\n"
         + "\n".join(f"| {en} | {zh} | {ch} | {meaning} |" for en, zh, ch, meaning in glossary))

# %% [markdown]
# ## Summary
# - Run cells top to bottom; exercises end in `raise NotImplementedError`; the check right after tells
#   you ✅ / ❌ (with the likely mistake) / ✏️.
# - `bertlab.solution("name")` shows a reference solution; `bertlab.show(fn)` shows the package's code.
# - Everything runs offline on a CPU; each chapter runs in under two minutes on 2 cores.
#
# **Going further:** chapter 01 starts with the formula at the heart of BERT,
# softmax(QKᵀ/√d_k)V. The README's chapter map lists every chapter and its status.

# %%
# NBVAL_IGNORE_OUTPUT
# Where you stand in the whole course: ✅ passed, ❌ failed (with the check's reason), ✏️ not yet.
# Each check you run in workspace/ remembers its latest result (on your machine only); run this cell
# again any time, or `python -m bertlab.progress` in a terminal. Each chapter ends with its own line.
progress = bertlab.progress()
assert "cosine_similarity" in progress.names()  # every exercise of the course is listed
progress
