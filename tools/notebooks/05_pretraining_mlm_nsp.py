# %% [markdown]
# # 05 · Pre-training BERT: masked language modelling and next-sentence prediction
#
# **What you will build:** BERT's two pre-training tasks on real text (the King James Bible, 1,130
# training chapters), done right — NSP pairs where NotNext really comes from another document, 15 %
# masking split 80/10/10 without overlaps, losses computed only where they should be — then a tiny BERT
# trained on your CPU for under a minute, judged honestly against baselines that need no understanding,
# and a longer-trained checkpoint that ships with the course.
#
# **You need:** chapter 03 (tokenizer), chapter 04 (`BertForPreTraining`). Exercises: the NSP pair
# builder, `mask_tokens`, the MLM loss.
#
# $$\mathcal{L} = \mathcal{L}_{MLM} + \mathcal{L}_{NSP},\qquad
#   \mathcal{L}_{MLM} = -\frac{1}{|M|}\sum_{i \in M} \log P(w_i \mid \tilde{x}),\qquad
#   \mathcal{L}_{NSP} = -\log P(y \mid A, B)$$
#
# where $M$ is the set of chosen positions, $\tilde{x}$ the masked input and $y$ IsNext / NotNext.

# %%
import json
import random
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from bertlab import checks as check
from bertlab import data, learners
from bertlab import pretraining as P
from bertlab.model import BertForPreTraining
from bertlab.course_vocab import course_tokenizer

plt.rcParams["figure.dpi"] = 80
torch.manual_seed(0)
torch.set_num_threads(1)  # a model this small gains little from a 2nd thread, and 1 stays steady on a busy machine

# %% [markdown]
# ## 1. Documents, sentences and the course vocabulary
# NSP needs *consecutive* sentences and *other* documents. Our documents are the Bible's chapters, the
# sentences its verses; 5 % of the chapters are held out for evaluation. The tokenizer is a WordPiece
# vocabulary of 8,000 entries trained on the training chapters with chapter 03's `train_wordpiece`.

# %%
tok = course_tokenizer()
train_docs = P.tokenize_documents(data.load_pretraining_corpus("train"), tok)
held_docs = P.tokenize_documents(data.load_pretraining_corpus("heldout"), tok)
print(f"vocabulary {len(tok):,}; {len(train_docs)} training and {len(held_docs)} held-out documents; "
      f"{sum(len(s) for d in train_docs for s in d):,} training tokens")

# %% [markdown]
# ## 2. Next-sentence prediction pairs
# `[CLS] A [SEP] B [SEP]`: half the time B is the text that follows A (**IsNext**, label 0), half the
# time B comes from a **different document** (**NotNext**, label 1). A common bug draws the "random"
# sentence from anywhere — including the same document, where it is often still on topic, so the label
# is noisy.
#
# ### Exercise 1 — `nsp_pairs(documents, cls_id, sep_id, rng)`
# `documents`: a list of documents, each a list of sentences, each a list of token ids. For every
# consecutive pair of sentences (i, i+1) in a document, return `(input_ids, token_type_ids, label)`: with
# probability ½ (`rng.random() < 0.5`) replace B by a random sentence of another document (label 1),
# else B = sentence i+1 (label 0).

# %% tags=["exercise:nsp_pairs"]
def nsp_pairs(documents, cls_id, sep_id, rng):
    """One ([CLS] A [SEP] B [SEP], segment ids, label) per consecutive sentence pair."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.nsp_pairs(nsp_pairs)

# %% [markdown]
# The package's `make_nsp_pairs` does the same but **packs** each example to `max_len` tokens: it
# gathers consecutive sentences until they fill the length, cuts them at a random sentence boundary into A
# and B, and truncates the longer segment first. One IsNext and one NotNext example:

# %%
max_len = 64
train_pairs = P.make_nsp_pairs(train_docs, tok, max_len, random.Random(0))
held_pairs = P.make_nsp_pairs(held_docs, tok, max_len, random.Random(1))
print(f"{len(train_pairs):,} training pairs, {len(held_pairs):,} held-out; "
      f"NotNext share {np.mean([p['next_sentence_label'] for p in train_pairs]):.1%}")
for label in (P.IS_NEXT, P.NOT_NEXT):
    p = next(p for p in train_pairs[:50] if p["next_sentence_label"] == label)
    print(["IsNext", "NotNext"][label], "→", tok.decode(p["input_ids"], skip_special_tokens=False)[:230], "…")

# %% [markdown]
# ## 3. Masking: 15 %, then 80 / 10 / 10
# Choose 15 % of the real (non-special, non-padding) tokens. Of those, 80 % become `[MASK]`, 10 % a random
# token, 10 % stay unchanged — so the model cannot rely on `[MASK]` marking every position it must
# predict, and fine-tuning (which has no `[MASK]`) is less of a surprise. Labels hold the original id at
# chosen positions and **−100** elsewhere (never 0: 0 is the `[PAD]` id, a real class).
#
# Bugs seen in teaching implementations: choosing `[CLS]`/`[SEP]`/`[PAD]`; drawing the 80 % and the 10 %
# as *independent* masks that overlap, so the split is only approximate; labels that reuse 0 as "ignore".
#
# One **refinement** (not a bug fix): Google's original `create_pretraining_data.py` and transformers'
# `DataCollatorForLanguageModeling` draw the random replacement from the *whole* vocabulary, so it is a
# special token with probability 5 / 8,000 — once in ~16,000 chosen positions (10 % of them are replaced).
# The package draws it from the non-special tokens only: cleaner, and negligible either way (it changes about
# one chosen position in 16,000).
#
# ### Exercise 2 — `mask_tokens(input_ids, special_ids, vocab_size, mask_id, mlm_probability=0.15, generator=None)`
# `input_ids` `(B, T)` LongTensor; draw every random number from `generator`; draw random replacements from
# the non-special ids (the refinement above); return `(masked_ids, labels)` without changing the input.

# %% tags=["exercise:mask_tokens"]
def mask_tokens(input_ids, special_ids, vocab_size, mask_id, mlm_probability=0.15, generator=None):
    """BERT's masking: returns (masked_ids, labels) with labels -100 where nothing is predicted."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.mask_tokens(mask_tokens)

# %% [markdown]
# The package's version, measured on 500 training pairs:

# %%
from bertlab.pretraining import mask_tokens

batch = P.collate(train_pairs[:500], tok.pad_id)
masked, labels = mask_tokens(batch["input_ids"], tok.special_ids, len(tok), tok.mask_id,
                             generator=torch.Generator().manual_seed(0))
chosen = labels != -100
real = ~torch.isin(batch["input_ids"], torch.tensor(sorted(tok.special_ids)))
n = chosen.sum().item()
print(f"chosen {n / real.sum().item():.1%} of real tokens; of those [MASK] {((masked == tok.mask_id) & chosen).sum() / n:.1%}, "
      f"unchanged {((masked == batch['input_ids']) & chosen).sum() / n:.1%}, "
      f"random {((masked != batch['input_ids']) & (masked != tok.mask_id) & chosen).sum() / n:.1%}")
print("example:", tok.decode(masked[0].tolist(), skip_special_tokens=False)[:200], "…")

# %% [markdown]
# ## 4. The losses, computed
# The MLM loss is the mean negative log-probability of the original token at the chosen positions;
# written out with `log_softmax` it equals `F.cross_entropy`:

# %%
torch.manual_seed(0)
model = BertForPreTraining(P.tiny_config(len(tok), max_position_embeddings=max_len, hidden_dropout_prob=0.0,
                                         attention_probs_dropout_prob=0.0))
b = P.masked_batch(train_pairs[:32], tok, torch.Generator().manual_seed(0))
chosen = b["labels"] != -100
with torch.no_grad():
    out = model(b["input_ids"], b["token_type_ids"], b["attention_mask"], masked_positions=chosen)
    logp = out.prediction_logits.log_softmax(-1)
    by_hand = -logp[torch.arange(int(chosen.sum())), b["labels"][chosen]].mean()
    nsp_by_hand = -out.seq_relationship_logits.log_softmax(-1)[torch.arange(32), b["next_sentence_label"]].mean()
print(f"tiny BERT: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters "
      f"(2 layers, hidden 128, 2 heads, FFN 512, vocabulary {len(tok):,})\n"
      f"L_MLM by hand {by_hand:.4f} = F.cross_entropy {P.mlm_loss(out.prediction_logits, b['labels'][chosen]):.4f} "
      f"(an untrained model: ≈ ln {len(tok)} = {np.log(len(tok)):.4f})\n"
      f"L_NSP by hand {nsp_by_hand:.4f} = F.cross_entropy {P.nsp_loss(out.seq_relationship_logits, b['next_sentence_label']):.4f} (≈ ln 2)")

# %% [markdown]
# ### Exercise 3 — `mlm_loss(logits, labels)`
# `logits` `(B, T, V)` for every position, `labels` `(B, T)` with −100 where nothing is predicted; return
# the mean cross-entropy over the chosen positions only.

# %% tags=["exercise:mlm_loss"]
def mlm_loss(logits, labels):
    """Cross-entropy at the positions where labels != -100."""
    # YOUR CODE HERE
    raise NotImplementedError

# %%
check.mlm_loss(mlm_loss)

# %% [markdown]
# **Compute the vocabulary logits only where they are needed.** Only ~15 % of the positions are
# predicted, so the model gathers those hidden states *before* the `H × V` projection instead of scoring
# all `B × T` positions and throwing 85 % away. The same loss, measured (forward + backward):

# %%
# NBVAL_IGNORE_OUTPUT
def step_time(gather_first: bool, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        if gather_first:
            loss = P.pretraining_loss(model, b)[1]
        else:
            logits = model(b["input_ids"], b["token_type_ids"], b["attention_mask"]).prediction_logits
            loss = F.cross_entropy(logits.reshape(-1, len(tok)), b["labels"].reshape(-1))
        loss.backward()
        model.zero_grad()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]

full, gathered = step_time(False), step_time(True)
print(f"full-vocabulary logits: {full * 1000:.0f} ms per step; gathered first: {gathered * 1000:.0f} ms "
      f"({full / gathered:.1f}× faster)")
assert gathered < full

# %% [markdown]
# ## 5. Training a tiny BERT on the CPU (~30 s on an idle machine)
# AdamW (no weight decay on biases and LayerNorm), linear warm-up then linear decay, gradient clipping at
# 1.0, dynamic masking (a fresh mask every batch), batch 32 × 64 tokens, 200 steps; every 50 steps the
# model is scored on 256 held-out pairs.

# %%
# NBVAL_IGNORE_OUTPUT
eval_batches = P.fixed_eval_batches(held_pairs, tok)
at_start = {"step": 0, **P.evaluate(model, eval_batches[:4], tok.mask_id)}  # measured, not assumed to be 0
hist = P.train(model, train_pairs, tok, steps=200, batch_size=32, lr=1e-3, warmup=30, seed=0,
               eval_fn=lambda m: P.evaluate(m, eval_batches[:4], tok.mask_id), eval_every=50)
print(f"{len(hist.step)} steps in {hist.seconds:.0f} s ({hist.seconds / len(hist.step):.2f} s/step)")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"MLM loss: first 20 steps {np.mean(hist.mlm[:20]):.2f} → last 20 steps {np.mean(hist.mlm[-20:]):.2f}")
print(f"NSP loss: first 20 steps {np.mean(hist.nsp[:20]):.2f} → last 20 steps {np.mean(hist.nsp[-20:]):.2f}")
assert np.mean(hist.mlm[-20:]) < np.mean(hist.mlm[:20]) - 1.0  # the MLM loss went down

base = P.baselines(train_pairs, eval_batches, tok)  # what needs no understanding (the next cell's table)
fig, axes = plt.subplots(1, 3, figsize=(13, 3))
axes[0].plot(hist.mlm, alpha=0.5, label="MLM")
axes[0].axhline(np.log(len(tok)), ls=":", color="gray", label="ln V (uniform guess)")
axes[0].set(xlabel="step", ylabel="loss", title="MLM loss")
axes[0].legend()
axes[1].plot(hist.nsp, alpha=0.5, color="tab:orange")
axes[1].axhline(np.log(2), ls=":", color="gray", label="ln 2 (chance)")
axes[1].set(xlabel="step", title="NSP loss")
axes[1].legend()
evals = [at_start] + hist.evals  # step 0: the untrained model, evaluated on the same held-out batches
axes[2].plot([e["step"] for e in evals], [e["mlm_acc"] for e in evals], "o-", label="MLM acc, all chosen")
axes[2].plot([e["step"] for e in evals], [e["mask_acc"] for e in evals], "o-", label="MLM acc, [MASK] only")
axes[2].axhline(base["copy_or_frequent"], ls="--", color="C0", lw=1, label="baseline, all chosen: copy the visible token")
axes[2].axhline(base["most_frequent"], ls=":", color="C1", lw=1,
                label=f"baseline, [MASK]: always {base['most_frequent_token']!r}")
axes[2].set(xlabel="step", ylabel="held-out accuracy", title="held-out MLM accuracy")
axes[2].legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Judged honestly: held-out accuracy next to baselines
# Two MLM accuracies are reported: over **all chosen positions** (the usual number — it includes the
# 10 % left unchanged, which the model can simply copy) and at **`[MASK]` positions only** (where it
# must really predict). Next to them, what needs no understanding at all:

# %%
# NBVAL_IGNORE_OUTPUT
scores = P.evaluate(model, eval_batches, tok.mask_id)
print(f"{'held-out':<44}{'all chosen':>11}{'[MASK] only':>12}{'NSP':>8}")
print(f"{'tiny BERT after 200 steps':<44}{scores['mlm_acc']:>11.1%}{scores['mask_acc']:>12.1%}{scores['nsp_acc']:>8.1%}")
print(f"{'always ' + repr(base['most_frequent_token']):<44}{'':>11}{base['most_frequent']:>12.1%}{'50%':>8}")
print(f"{'copy the visible token, else most frequent':<44}{base['copy_or_frequent']:>11.1%}")
print(f"{'most frequent word after the left neighbour':<44}{'':>11}{base['left_neighbour']:>12.1%}")
print(f"{'most frequent word before the right neighbour':<44}{'':>11}{base['right_neighbour']:>12.1%}")
print(f"{'most frequent word between both neighbours':<44}{'':>11}{base['both_neighbours']:>12.1%}")
assert scores["mlm_acc"] > 0.04 and scores["mask_acc"] > 0.03  # far above a uniform guess (1/8,000)

# %% [markdown]
# **The unigram plateau.** After a few hundred steps the model has learned word frequencies and, *partly*,
# to copy the visible token: on all chosen positions it still scores below "copy the visible token" (which
# gets the 10 % unchanged tokens right for free), its `[MASK]` accuracy sits near "always predict the most
# frequent token", below every neighbour-word baseline, and NSP is near chance.
#
# The recipe that took the shipped checkpoint (section 6) past this plateau was chosen for speed on a CPU,
# not by an ablation of each choice, so read these as reasons, not measurements: **shorter sequences (64)
# with a larger batch (64)** — more documents per step; **no dropout** — a regulariser slows early
# learning (and it did not stop the NSP part from overfitting, see section 6); **logits only at the chosen
# positions** (section 4 measured how much faster a step gets); warm-up 200 steps, peak lr 1e-3. The
# textbook recipe (batch 32 × 128 tokens, dropout 0.1) was not re-run for this chapter, so no number is
# quoted for it.

# %% [markdown]
# ## 6. A longer run: the course's shipped checkpoint
# `python -m bertlab.runs.make_checkpoint` runs the same training as a command (and under `torchrun` for several
# processes). The checkpoint in `data/tiny-bert/` was made with it in 28 minutes on **one** CPU thread of a
# busy 2-core machine; its recipe and measured numbers are in `data/tiny-bert/training.json`:

# %%
from bertlab.weights import load_pretrained

shipped = data.DATA_DIR / "tiny-bert"
record = json.loads((shipped / "training.json").read_text())
ckpt, ckpt_tok = load_pretrained(shipped, model_class=BertForPreTraining)
s2 = P.evaluate(ckpt, eval_batches, tok.mask_id)  # (computed first: the cell prints all at once)
print("command:", record["command"])
print(f"{record['steps']:,} steps, {record['examples_seen']:,} examples, {record['seconds'] / 60:.0f} min on 1 CPU thread "
      f"(stopped by --minutes 28, before the 6,000-step schedule ended)")
print(f"NSP pairs: {len(train_pairs):,}, built once and replayed ≈ {record['examples_seen'] / len(train_pairs):.0f} times")
curve = record["log"]
print("training MLM loss every 1,000 steps:", [round(r["mlm"], 2) for r in curve if r["step"] % 1000 == 0])
print(f"held-out: all chosen {s2['mlm_acc']:.1%}, [MASK] only {s2['mask_acc']:.1%}, NSP {s2['nsp_acc']:.1%}  "
      f"(baselines at [MASK]: most frequent {base['most_frequent']:.1%}, left neighbour {base['left_neighbour']:.1%}, "
      f"right neighbour {base['right_neighbour']:.1%}, both neighbours {base['both_neighbours']:.1%})")
print("training NSP loss, last 3 logs:", [round(r["nsp"], 2) for r in curve[-3:]])
assert s2["mask_acc"] > base["both_neighbours"] and s2["nsp_acc"] > 0.6  # past the plateau, NSP above chance

# %% [markdown]
# Past the plateau: at `[MASK]` the checkpoint beats the left- and the right-neighbour baselines by far,
# and the *both*-neighbours baseline (the most frequent word between the two adjacent words) by a few
# points — so it uses more than the two adjacent words, though not much more. (Beating only the
# left-neighbour baseline would not show that it reads both sides.)
#
# **NSP overfitted.** Held-out NSP is clearly above chance but its training loss ended near 0.1: this
# checkpoint was trained with the NSP pairs built once and replayed ≈ 19 times — the masks were redrawn
# every time, the pairs and their labels never, so it could memorise which B follows which A. The package
# now rebuilds the pairs each pass (new cut points, new NotNext partners: `rebuild_pairs` in
# `pretraining.train`, the default in `bertlab.runs.make_checkpoint`; `--replay-pairs` gives the old behaviour).
# The shipped checkpoint was kept because chapter 06's name-tagging results were measured with it. NSP is
# the weaker signal anyway; RoBERTa (chapter 09) drops it.

# %% [markdown]
# Fill in the blank on held-out verses (Genesis 4 is one of the held-out chapters; top 5 with probabilities):

# %%
held_verses = [v for doc in data.load_pretraining_corpus("heldout") for v in doc]
lines = []
for verse, word in [(0, "wife"), (1, "sheep"), (1, "ground"), (2, "LORD"), (4, "countenance")]:
    text = held_verses[verse].replace(word, "[MASK]", 1)
    preds = P.fill_mask(ckpt, ckpt_tok, text)[0]
    lines.append(f"…{text[max(0, text.index('[MASK]') - 40):text.index('[MASK]') + 6]:<47} ({word.lower()}) → "
                 + ", ".join(f"{t} {p:.2f}" for t, p in preds))
print("\n".join(lines))

# %% [markdown]
# Its attention heads (static grid; the bertviz view below draws in a live kernel):

# %%
from bertlab.viz import attention_grid, head_view

enc = ckpt_tok.encode_batch(["and god said let there be light"], ["and there was light"])
tokens = ckpt_tok.convert_ids_to_tokens(enc["input_ids"][0])
with torch.no_grad():
    att = ckpt.bert(**enc, output_attentions=True).attentions
fig = attention_grid(att, tokens)
plt.show()

# %% tags=["live-view"]
head_view(att, tokens, sentence_b_start=tokens.index("[SEP]") + 1)

# %% [markdown]
# ## 7. Pre-training for a task: the course BERT
#
# Chapter 06 fine-tunes on **movie-review sentences**, and the KJV checkpoint is a poor fit for them (we did not
# fine-tune it there): 1611 English tells a model little about "a witty, seductive movie", and its vocabulary
# splits "screenplay" into fragments (printed below). *Task-adaptive pre-training* (Gururangan et al., 2020, "Don't Stop Pretraining"; Krishna et al.,
# 2022, on pre-training with the downstream data itself) pre-trains on the task's own **unlabelled** text:
# here the 10,201 training sentences of the review task, their labels never read, never a validation or test
# sentence. The sentences are independent snippets — no documents, so **MLM only** (NSP has nothing to
# predict) — with a WordPiece vocabulary trained on the same sentences. One command, capped by **steps**
# (a busy machine changes the minutes, not the result):

# %%
course = data.DATA_DIR / "course-bert"
cb_record = json.loads((course / "training.json").read_text())
cb, cb_tok = load_pretrained(course, model_class=BertForPreTraining)
print('the KJV vocabulary splits "screenplay":', tok.tokenize("screenplay"), "— the review vocabulary:",
      cb_tok.tokenize("screenplay"))
review_words = sum(len(s.split()) for s in data.load_sentiment("train")[0])
kjv_words = sum(len(v.split()) for doc in data.load_pretraining_corpus("train") for v in doc)
print(f"review training sentences: {review_words:,} words; the KJV pre-training split: {kjv_words:,} words "
      f"({review_words / kjv_words:.2f}×)")
print("command:", cb_record["command"])
print(f"{cb_record['steps']:,} steps × batch {cb_record['args']['batch_size']} = {cb_record['passes']} passes over "
      f"{cb_record['examples']:,} sentences; {cb_record['seconds'] / 60:.0f} min of training on {cb_record['threads']} "
      f"thread (a shared machine: see data/course-bert/README.md for the idle-machine time)")
held, b = cb_record["heldout"], cb_record["baselines"]
print(f"held-out (validation sentences): [MASK] {held['mask_acc']:.1%}, all chosen {held['mlm_acc']:.1%}; baselines at "
      f"[MASK]: most frequent {b['most_frequent']:.1%}, left {b['left_neighbour']:.1%}, right "
      f"{b['right_neighbour']:.1%}, both neighbours {b['both_neighbours']:.1%}")
assert held["mask_acc"] > b["most_frequent"]

# %% [markdown]
# **What did it learn about words?** The nearest neighbours of a few words among the input embeddings
# (cosine similarity, after removing the mean vector):

# %%
emb = cb.bert.embeddings.word_embeddings.weight.detach()
emb = emb - emb.mean(0)
emb = emb / emb.norm(dim=1, keepdim=True)
for word in ("good", "bad", "worst", "boring", "funny", "beautiful"):
    sims = emb @ emb[cb_tok.vocab[word]]
    print(f"{word:>10} → " + ", ".join(cb_tok.ids_to_tokens[i] for i in sims.topk(7).indices.tolist()[1:]))

# %% [markdown]
# The neighbours are words that fit the same slots: *good* sits next to *bad*, *worst* next to *best*,
# *boring* next to *funny* and *fascinating*. That is exactly what MLM rewards — "a [MASK] movie" is
# filled by both — and the opposite of what a sentiment classifier needs, whose two classes these pairs
# separate. (Word2vec embeddings share this well-known weakness with antonyms.)
#
# **Is any polarity in its features at all?** A *linear probe*: freeze the encoder, average the last
# layer over each sentence's real tokens, and fit a logistic regression on 1,000 labelled training
# sentences (C chosen on validation) — once on the pre-trained weights, once on random weights of the same
# shape; test accuracy (57.2 % = always "positive"):

# %%
from sklearn.preprocessing import StandardScaler

from bertlab.finetuning import encode_sentences, mean_pooled_features
from bertlab.learners import fit_logistic, subset
from bertlab.model import BertModel

reviews = {s: data.load_sentiment(s) for s in ("train", "validation", "test")}
labelled = subset(*reviews["train"], 1000, seed=0)  # chapter 06's seed-0 set of 1,000 labelled sentences
probe = {}
for name in ("pre-trained", "random weights"):
    torch.manual_seed(0)
    encoder = cb.bert if name == "pre-trained" else BertModel(cb.config)
    encoder.eval()
    feats = [mean_pooled_features(encoder, encode_sentences(cb_tok, *xy)).numpy()
             for xy in (labelled, reviews["validation"], reviews["test"])]
    scale = StandardScaler().fit(feats[0])
    clf = fit_logistic(scale.transform(feats[0]), labelled[1], scale.transform(feats[1]), reviews["validation"][1])
    probe[name] = clf.score(scale.transform(feats[2]), reviews["test"][1])
    print(f"linear probe on {name:>14}: test accuracy {probe[name]:.1%}")
print(f"{'always positive':>31}: test accuracy {reviews['test'][1].mean():.1%}")
assert probe["pre-trained"] > probe["random weights"]

# %% [markdown]
# Some polarity is there: the probe on pre-trained features lands about 5 points above always answering
# "positive", the same probe on random features below it (random features are noise to a linear model
# that sees 1,000 examples). One split and one seed: the size of that gap is not pinned down here.
#
# **The ladder.** Does that pay off when the whole network is fine-tuned? Each rung below changed the
# recipe, was fine-tuned on 1,000 labelled review sentences (mean ± sd over seeds, ddof = 1) and is set
# next to the same architecture and vocabulary from random weights, fine-tuned the same way (chapter 06
# explains the protocol; commands in `data/course-bert/ladder.json`):

# %%
ladder = json.loads((course / "ladder.json").read_text())
print(f"{'recipe':42}{'steps':>7}{'~min':>5}  {'fine-tuning':40}{'pre-trained':>19}{'random init':>13}{'gain':>6}{'z':>6}")
for rung in ladder["rungs"]:
    kept = [v for v, c in zip(rung["values"], rung["collapsed"]) if not c]  # a collapsed run is never averaged in
    m, sd = np.mean(kept), (np.std(kept, ddof=1) if len(kept) > 1 else float("nan"))
    d = learners.difference({"mean": m, "sd": np.nan_to_num(sd), "n": len(kept)},
                            {"mean": rung["random_mean"], "sd": rung["random_sd"], "n": rung["random_n"]})
    flags = (f" +{len(rung['values']) - len(kept)}c" if len(kept) < len(rung["values"]) else "") + (
        " †" if rung["fine_tuning"] != rung["random_fine_tuning"] else "")
    print(f"{rung['recipe'][:41]:42}{rung['steps']:>7,}{rung['minutes']:>5.0f}  {rung['fine_tuning'][:39]:40}"
          f"{100 * m:>6.1f} ± {100 * sd:3.1f} ({len(kept)}){flags:<6}{100 * rung['random_mean']:>6.1f} ± "
          f"{100 * rung['random_sd']:.1f}{100 * d['diff']:>+6.1f}{d['z']:>+6.1f}")
print("+kc: k collapsed runs (one class predicted), left out of the mean;  † the random twin was not fine-tuned with "
      "the rung's own settings (its `random_fine_tuning` in ladder.json: plain fine-tuning at the same or a nearby lr)")

# %% [markdown]
# **What the ladder says.** No rung reaches the goal we set ourselves — 3 points above random init, more
# than two standard errors of the difference (z > 2). Taken at 3,000 steps, the learning rate still high, R1
# fine-tunes clearly *worse* than random weights (z = −2.7 and −3.6); at 6,000 steps it is level (+0.1); the
# finished 12,000-step schedule lands 0.8 below random init at 3e-4 (within noise) and 1.2 below at 1e-4
# (z = −2.2: a small real deficit, though its twin was fine-tuned at 3e-4), 2.2 below at 1e-3 (two seeds 7 points
# apart, within noise). The 40 %-masking run (R3) is 0.4 below, within noise. Training the head first (LP-FT)
# does not help (−1.6, within noise); freezing the word embeddings hurts (−4.4, two seeds). ELECTRA-style
# replaced-token detection (R4), stopped at 2,000 of its 8,000 steps, is far below even with its collapsed runs
# left out. More text of another kind does not help either — KJV verses in half the batches (R5) end 0.9 below
# random init — nor does a 3.6× larger network without more text (R6, 4 layers × 256: 2.0 below its own random
# twin after 31 minutes). Chapter 06 repeats the comparison for the shipped checkpoint with five seeds per side.
#
# Read together with the two cells before it: the pre-trained features hold a little polarity (the probe),
# the embeddings put antonyms side by side, and 1,000 labels teach the same network from scratch more
# than that. 10,201 sentences — 189,355 words (counted above) — for half an hour is very little text, about a
# quarter of the KJV this chapter started with. This is the measured lesson, not a failure to hide: here,
# task-adaptive pre-training on this little text did not pay. Chapter 06 shows where pre-training does pay —
# MiniLM, pre-trained on about a billion sentence pairs, more than 10 points above its own architecture from
# random weights — consistent with the rule of thumb that **pre-training pays when its text dwarfs the labelled
# set** (MiniLM differs from the course BERT in objective and domain too, so one contrast does not prove the rule).

# %% [markdown]
# ## Summary
# - NSP: IsNext = the real continuation, NotNext = a segment from a *different* document, 50/50.
# - MLM: 15 % of real tokens; one draw splits them 80 / 10 / 10; labels −100 elsewhere; never specials.
# - Losses: L_MLM = −mean log P(original | masked input) over chosen positions (logits only there);
#   L_NSP = −log P(label | A, B); L = L_MLM + L_NSP.
# - A minute on a CPU learns frequencies and copying (the unigram plateau), not language: always
#   compare with baselines and report `[MASK]`-only accuracy.
# - Held-out MLM accuracy is not downstream value: the course BERT, pre-trained for ~28 min on the review
#   task's 10,201 unlabelled sentences, predicts masked words above every baseline, yet fine-tunes no
#   better than random weights at 1,000 labels (every rung of the ladder). Its embeddings put antonyms
#   together; its features hold only a little polarity.
#
# **Going further:** RoBERTa drops NSP and masks dynamically (chapter 09); ELECTRA learns from every
# token instead of 15 %. Chapter 06 fine-tunes pretrained encoders.

# %%
import bertlab

bertlab.progress("05")  # this chapter's exercises: ✅ passed, ❌ failed, ✏️ not yet (recorded in your workspace only)
