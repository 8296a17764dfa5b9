"""Pre-training BERT with MLM and NSP (chapter 05): data, masking, losses, training loop, evaluation.

- :func:`make_nsp_pairs` — ``[CLS] A [SEP] B [SEP]`` from documents: half the time B truly follows A
  (IsNext, label 0), half the time B comes from a *different* document (NotNext, label 1).
- :func:`mask_tokens` — choose 15 % of the non-special positions; of those 80 % → [MASK], 10 % → a random
  *non-special* token, 10 % unchanged (one draw decides, so the three groups never overlap); labels are
  the original ids at chosen positions and -100 (ignored) everywhere else.
- :func:`mlm_loss` — L_MLM = −mean over chosen positions of log P(w_i | masked sentence), from logits
  computed only at those positions; :func:`nsp_loss` — L_NSP = −mean log P(label | A, B).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .model import BertConfig, BertForPreTraining
from .tokenizer import WordPieceTokenizer
from .training.param_groups import no_decay_groups
from .training.schedule import warmup_linear_schedule

IGNORE_INDEX = -100  # labels at positions that are not predicted (never 0: 0 is the [PAD] id)
IS_NEXT, NOT_NEXT = 0, 1


def mask_tokens(input_ids: torch.Tensor, special_ids: Sequence[int] | set[int] | torch.Tensor, vocab_size: int,
                mask_id: int, mlm_probability: float = 0.15,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking. ``input_ids`` (B, T) long; ``special_ids`` includes the pad id.

    Returns ``(masked_ids, labels)``, both (B, T): labels hold the original id at the chosen positions
    and -100 elsewhere. The input is not modified. Same ``generator`` state → same masks.
    """
    if not isinstance(input_ids, torch.Tensor) or input_ids.dtype != torch.long:
        raise TypeError("input_ids must be a torch.LongTensor (B, T)")
    if not 0 < mlm_probability < 1:
        raise ValueError(f"mlm_probability must be in (0, 1); got {mlm_probability}")
    special = torch.as_tensor(sorted(int(i) for i in special_ids), dtype=torch.long)
    is_special = torch.isin(input_ids, special)  # (B, T)
    chosen = (torch.rand(input_ids.shape, generator=generator) < mlm_probability) & ~is_special
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    decide = torch.rand(input_ids.shape, generator=generator)  # one draw: 80 / 10 / 10, never overlapping
    to_mask = chosen & (decide < 0.8)
    to_random = chosen & (decide >= 0.8) & (decide < 0.9)
    allowed = torch.ones(vocab_size, dtype=torch.bool)
    allowed[special[special < vocab_size]] = False
    candidates = allowed.nonzero().squeeze(1)  # random replacements are never special tokens
    random_ids = candidates[torch.randint(len(candidates), input_ids.shape, generator=generator)]
    masked = input_ids.clone()
    masked[to_mask] = mask_id
    masked[to_random] = random_ids[to_random]
    return masked, labels


def mlm_loss(logits_at_masked: torch.Tensor, labels_at_masked: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the chosen positions only: (N, V) logits, (N,) original ids → scalar."""
    if logits_at_masked.shape[0] != labels_at_masked.shape[0]:
        raise ValueError(f"{logits_at_masked.shape[0]} logit rows but {labels_at_masked.shape[0]} labels")
    return F.cross_entropy(logits_at_masked, labels_at_masked)


def nsp_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of IsNext (0) / NotNext (1): (B, 2) logits, (B,) labels → scalar."""
    return F.cross_entropy(logits, labels)


# ------------------------------------------------------------------------------------------ NSP pairs
def tokenize_documents(documents: Sequence[Sequence[str]], tokenizer: WordPieceTokenizer) -> list[list[list[int]]]:
    """Documents of sentences → documents of token-id lists (empty sentences dropped)."""
    out = []
    for doc in documents:
        ids = [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(s)) for s in doc]
        out.append([s for s in ids if s])
    return out


def make_nsp_pairs(documents: Sequence[Sequence[str]] | Sequence[Sequence[Sequence[int]]],
                   tokenizer: WordPieceTokenizer, max_len: int, rng: random.Random) -> list[dict]:
    """Sentence pairs for NSP, packed to ``max_len`` tokens: ``[CLS] A [SEP] B [SEP]``.

    For each document, consecutive sentences are gathered until they fill ``max_len − 3`` tokens and cut
    at a random sentence boundary into A and B. With probability ½, B is replaced by a segment from a
    **different** document (label NotNext = 1); otherwise B is the text that follows A (IsNext = 0). The
    longer segment is truncated first. Documents may be given as text or already tokenized (ids).
    Returns dicts with ``input_ids``, ``token_type_ids``, ``attention_mask``, ``next_sentence_label``.
    """
    if max_len < 8:
        raise ValueError(f"max_len={max_len} is too short for [CLS] A [SEP] B [SEP]")
    docs = documents
    if docs and docs[0] and isinstance(docs[0][0], str):
        docs = tokenize_documents(documents, tokenizer)  # type: ignore[arg-type]
    docs = [d for d in docs if d]
    if len(docs) < 2:
        raise ValueError("NSP needs at least two non-empty documents (NotNext comes from a different one)")
    target = max_len - 3
    pairs: list[dict] = []
    for d, doc in enumerate(docs):
        i = 0
        while i < len(doc):
            chunk, length = [], 0
            while i < len(doc) and length < target:
                chunk.append(doc[i])
                length += len(doc[i])
                i += 1
            if len(chunk) == 1 and i < len(doc):  # one long sentence: its continuation is the next one
                chunk.append(doc[i])
                i += 1
            if len(chunk) == 1:  # a document's last lone sentence has no continuation: forcing it to be
                break            # NotNext would unbalance the labels, so it is not used as segment A
            a_end = rng.randint(1, len(chunk) - 1)
            a = [t for s in chunk[:a_end] for t in s]
            if rng.random() < 0.5:
                label = NOT_NEXT
                other = rng.randrange(len(docs) - 1)
                other = other + 1 if other >= d else other  # a different document, never the same one
                odoc = docs[other]
                start = rng.randrange(len(odoc))
                b: list[int] = []
                for s in odoc[start:]:
                    b.extend(s)
                    if len(a) + len(b) >= target:
                        break
                i -= len(chunk) - a_end  # the unused sentences of this chunk are used again later
            else:
                label = IS_NEXT
                b = [t for s in chunk[a_end:] for t in s]
            while len(a) + len(b) > target:  # truncate the longer segment first
                (a if len(a) > len(b) else b).pop()
            ids = [tokenizer.cls_id] + a + [tokenizer.sep_id] + b + [tokenizer.sep_id]
            pairs.append({"input_ids": ids, "token_type_ids": [0] * (len(a) + 2) + [1] * (len(b) + 1),
                          "attention_mask": [1] * len(ids), "next_sentence_label": label})
    return pairs


def sentence_examples(texts: Sequence[str], tokenizer: WordPieceTokenizer, max_len: int = 64) -> list[dict]:
    """Single sentences as MLM examples ``[CLS] s [SEP]`` (truncated to ``max_len``; empty ones dropped), in the
    same dict format as :func:`make_nsp_pairs` (segment 0 only; ``next_sentence_label`` 0, unused without NSP).
    For text without documents — independent review sentences — where NSP has nothing to predict."""
    out = []
    for text in texts:
        ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text))[: max_len - 2]
        if ids:
            ids = [tokenizer.cls_id] + ids + [tokenizer.sep_id]
            out.append({"input_ids": ids, "token_type_ids": [0] * len(ids), "attention_mask": [1] * len(ids),
                        "next_sentence_label": IS_NEXT})
    return out


def length_grouped_order(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """One pass in batches of similar length: shuffle, sort within pools of 50 batches, cut, shuffle the
    batches (an incomplete last batch of a pool is dropped). Far less padding than random batches."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    batches = []
    for start in range(0, len(idx), 50 * batch_size):
        pool = sorted(idx[start:start + 50 * batch_size], key=lambda i: lengths[i])
        batches += [pool[i:i + batch_size] for i in range(0, len(pool) - batch_size + 1, batch_size)]
    rng.shuffle(batches)
    return batches


def collate(pairs: Sequence[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a list of pairs to the longest: dict of LongTensors (B, T) plus ``next_sentence_label`` (B,)."""
    longest = max(len(p["input_ids"]) for p in pairs)
    out = {}
    for key, pad in (("input_ids", pad_id), ("token_type_ids", 0), ("attention_mask", 0)):
        out[key] = torch.tensor([p[key] + [pad] * (longest - len(p[key])) for p in pairs], dtype=torch.long)
    out["next_sentence_label"] = torch.tensor([p["next_sentence_label"] for p in pairs], dtype=torch.long)
    return out


def masked_batch(pairs: Sequence[dict], tokenizer: WordPieceTokenizer, generator: torch.Generator,
                 mlm_probability: float = 0.15) -> dict[str, torch.Tensor]:
    """Collate and mask (a new mask every call: dynamic masking, as RoBERTa does)."""
    batch = collate(pairs, tokenizer.pad_id)
    batch["input_ids"], batch["labels"] = mask_tokens(batch["input_ids"], tokenizer.special_ids, len(tokenizer),
                                                      tokenizer.mask_id, mlm_probability, generator)
    return batch


def pretraining_loss(model: BertForPreTraining, batch: dict[str, torch.Tensor], use_nsp: bool = True,
                     mlm_count: float | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, MLM, NSP) losses of a masked batch; vocabulary logits only at the chosen positions.

    ``mlm_count``: divide the summed MLM loss by this many positions instead of this batch's own count —
    used when a global batch is split across processes, so each process's share is weighted exactly.
    """
    chosen = batch["labels"] != IGNORE_INDEX  # (B, T)
    out = model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"], masked_positions=chosen)
    if mlm_count is None:
        l_mlm = mlm_loss(out.prediction_logits, batch["labels"][chosen])
    else:
        l_mlm = F.cross_entropy(out.prediction_logits, batch["labels"][chosen], reduction="sum") / mlm_count
    l_nsp = nsp_loss(out.seq_relationship_logits, batch["next_sentence_label"])
    return (l_mlm + l_nsp if use_nsp else l_mlm), l_mlm, l_nsp


# ------------------------------------------------------------------------------------------ training
@dataclass
class History:
    step: list[int] = field(default_factory=list)
    mlm: list[float] = field(default_factory=list)
    nsp: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: float = 0.0
    evals: list[dict] = field(default_factory=list)
    passes: int = 0  # passes over the pairs begun (each rebuilt by ``rebuild_pairs`` after the first)


def train(model: BertForPreTraining, pairs: Sequence[dict], tokenizer: WordPieceTokenizer, steps: int,
          batch_size: int = 32, lr: float = 1e-3, warmup: int = 50, weight_decay: float = 0.01,
          clip: float = 1.0, seed: int = 0, max_seconds: float | None = None, use_nsp: bool = True,
          mlm_probability: float = 0.15, progress: bool = True,
          eval_fn: Callable[[BertForPreTraining], dict] | None = None, eval_every: int = 0,
          rebuild_pairs: Callable[[random.Random], Sequence[dict]] | None = None,
          group_by_length: bool = False) -> History:
    """Pre-train ``model`` on MLM (+ NSP): a fresh mask for every batch (dynamic masking), AdamW without decay on
    biases/LayerNorm (:func:`bertlab.training.param_groups.no_decay_groups`), warm-up over ``warmup`` steps then
    linear decay to 0 at ``steps`` (:func:`bertlab.training.schedule.warmup_linear_schedule`), gradient
    clipping; stops at ``steps`` or after ``max_seconds``.

    ``rebuild_pairs(rng)``, if given, makes a fresh list of pairs for every pass after the first (e.g.
    ``lambda rng: make_nsp_pairs(docs, tok, max_len, rng)``: new cut points, new NotNext partners), so a long run
    does not replay the same NSP pairs — with pairs built once, the masks change every pass but the NSP labels
    do not, and the model can memorise them. ``hist.passes`` counts the passes begun.
    ``group_by_length=True`` draws each pass's batches with :func:`length_grouped_order` (less padding).

    A loop of its own (not :func:`bertlab.finetuning.fine_tune`) because the lesson differs: the labels are made
    on the fly by masking, two losses are tracked, and there is no validation-based early stopping.
    """
    from tqdm.auto import tqdm

    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(no_decay_groups(model, weight_decay), lr=lr)
    sched = warmup_linear_schedule(opt, min(warmup, steps), steps)
    hist = History()
    model.train()
    t0 = time.perf_counter()
    bar = tqdm(range(steps), desc="pre-training", disable=not progress, mininterval=1.0)
    queue: list[dict] = []
    grouped: list[list[int]] = []
    for step in bar:
        if group_by_length:
            if not grouped:
                if hist.passes and rebuild_pairs is not None:
                    pairs = rebuild_pairs(rng)
                grouped = length_grouped_order([len(p["input_ids"]) for p in pairs], batch_size, rng)
                hist.passes += 1
            batch_pairs = [pairs[i] for i in grouped.pop()]
        else:
            if len(queue) < batch_size:
                if hist.passes and rebuild_pairs is not None:
                    pairs = rebuild_pairs(rng)
                fresh = list(range(len(pairs)))
                rng.shuffle(fresh)
                queue += [pairs[i] for i in fresh]
                hist.passes += 1
            batch_pairs, queue = queue[:batch_size], queue[batch_size:]
        batch = masked_batch(batch_pairs, tokenizer, gen, mlm_probability)
        loss, l_mlm, l_nsp = pretraining_loss(model, batch, use_nsp)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        sched.step()
        hist.step.append(step)
        hist.mlm.append(l_mlm.item())
        hist.nsp.append(l_nsp.item())
        hist.lr.append(sched.get_last_lr()[0])
        bar.set_postfix(mlm=f"{l_mlm.item():.2f}", nsp=f"{l_nsp.item():.2f}", refresh=False)
        if eval_fn is not None and eval_every and (step + 1) % eval_every == 0:
            model.eval()
            hist.evals.append({"step": step + 1, **eval_fn(model)})
            model.train()
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            break
    hist.seconds = time.perf_counter() - t0
    model.eval()
    return hist


# ------------------------------------------------------------------------------------------ evaluation
def fixed_eval_batches(pairs: Sequence[dict], tokenizer: WordPieceTokenizer, batch_size: int = 64,
                       seed: int = 1234, mlm_probability: float = 0.15) -> list[dict[str, torch.Tensor]]:
    """Held-out batches masked once with a fixed seed, so every model is scored on the same positions."""
    gen = torch.Generator().manual_seed(seed)
    return [masked_batch(pairs[i:i + batch_size], tokenizer, gen, mlm_probability)
            for i in range(0, len(pairs), batch_size)]


@torch.no_grad()
def evaluate(model: BertForPreTraining, batches: Sequence[dict[str, torch.Tensor]], mask_id: int) -> dict:
    """Held-out accuracy: MLM top-1 on all chosen positions, on [MASK] positions only, and NSP."""
    model.eval()
    device = next(model.parameters()).device
    right = total = right_m = total_m = nsp_right = nsp_total = 0
    for b in batches:
        b = {k: v.to(device) for k, v in b.items()}
        chosen = b["labels"] != IGNORE_INDEX
        out = model(b["input_ids"], b["token_type_ids"], b["attention_mask"], masked_positions=chosen)
        pred = out.prediction_logits.argmax(-1)
        gold = b["labels"][chosen]
        at_mask = b["input_ids"][chosen] == mask_id
        right += (pred == gold).sum().item()
        total += gold.numel()
        right_m += (pred == gold)[at_mask].sum().item()
        total_m += at_mask.sum().item()
        nsp_right += (out.seq_relationship_logits.argmax(-1) == b["next_sentence_label"]).sum().item()
        nsp_total += len(b["next_sentence_label"])
    return {"mlm_acc": right / max(total, 1), "mask_acc": right_m / max(total_m, 1), "nsp_acc": nsp_right / nsp_total}


def baselines(train_pairs: Sequence[dict], batches: Sequence[dict[str, torch.Tensor]], tokenizer: WordPieceTokenizer) -> dict:
    """What needs no understanding, on the same held-out positions:

    - ``most_frequent``: always the most frequent training token (top-1 at [MASK]);
    - ``copy_or_frequent``: the visible token if it was left unchanged/replaced, else the most frequent
      (all chosen positions) — the 10 % unchanged tokens are free points;
    - ``left_neighbour``: the most frequent token after the left neighbour in training text (at [MASK]);
    - ``right_neighbour``: the most frequent token before the right neighbour (at [MASK]);
    - ``both_neighbours``: the most frequent token between the two neighbours (training trigrams), falling back
      to ``left_neighbour`` when that pair of neighbours never occurs (at [MASK]).

    The neighbours are read from the masked input, as the model sees them. A model that beats
    ``both_neighbours`` uses more than the two adjacent words; beating only ``left_neighbour`` does not show
    that it reads both sides.
    """
    unigram: Counter[int] = Counter()
    after: dict[int, Counter[int]] = {}
    before: dict[int, Counter[int]] = {}
    between: dict[tuple[int, int], Counter[int]] = {}
    for p in train_pairs:
        ids = [i for i in p["input_ids"] if i not in tokenizer.special_ids]
        unigram.update(ids)
        for x, y in zip(ids, ids[1:]):
            after.setdefault(x, Counter())[y] += 1
            before.setdefault(y, Counter())[x] += 1
        for x, y, z in zip(ids, ids[1:], ids[2:]):
            between.setdefault((x, z), Counter())[y] += 1
    top = unigram.most_common(1)[0][0]
    best_after = {x: c.most_common(1)[0][0] for x, c in after.items()}
    best_before = {y: c.most_common(1)[0][0] for y, c in before.items()}
    best_between = {xz: c.most_common(1)[0][0] for xz, c in between.items()}
    freq_right = freq_total = copy_right = copy_total = left_right = right_right = both_right = 0
    for b in batches:
        ids, labels = b["input_ids"], b["labels"]
        for r in range(ids.shape[0]):
            for t in (labels[r] != IGNORE_INDEX).nonzero().flatten().tolist():
                gold, seen = labels[r, t].item(), ids[r, t].item()
                copy_total += 1
                copy_right += (seen if seen != tokenizer.mask_id else top) == gold
                if seen == tokenizer.mask_id:
                    freq_total += 1
                    freq_right += top == gold
                    left = ids[r, t - 1].item()
                    right = ids[r, t + 1].item() if t + 1 < ids.shape[1] else tokenizer.pad_id
                    by_left = best_after.get(left, top)
                    left_right += by_left == gold
                    right_right += best_before.get(right, top) == gold
                    both_right += best_between.get((left, right), by_left) == gold
    n = max(freq_total, 1)
    return {"most_frequent": freq_right / n, "copy_or_frequent": copy_right / max(copy_total, 1),
            "left_neighbour": left_right / n, "right_neighbour": right_right / n, "both_neighbours": both_right / n,
            "most_frequent_token": tokenizer.ids_to_tokens[top]}


@torch.no_grad()
def fill_mask(model: BertForPreTraining, tokenizer: WordPieceTokenizer, text: str, k: int = 5) -> list[list[tuple[str, float]]]:
    """Top-k predictions (token, probability) for each [MASK] in ``text``."""
    enc = tokenizer.encode_batch([text])
    positions = enc["input_ids"] == tokenizer.mask_id
    if not positions.any():
        raise ValueError("the text has no [MASK] token")
    model.eval()
    logits = model(**enc, masked_positions=positions).prediction_logits
    probs = logits.softmax(-1)
    top = probs.topk(k, dim=-1)
    return [[(tokenizer.ids_to_tokens[i], p) for i, p in zip(ix.tolist(), pv.tolist())]
            for ix, pv in zip(top.indices, top.values)]


TINY = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=128)


def tiny_config(vocab_size: int, dropout: float | None = None, **overrides) -> BertConfig:
    """The course's tiny BERT: 2 layers, hidden 128, 2 heads, FFN 4 × hidden = 512 (≈ 1.5 M parameters with an
    8 k vocabulary). Any :class:`~bertlab.model.BertConfig` field can be overridden; the FFN stays 4 × hidden
    unless ``intermediate_size`` is given; ``dropout`` sets both dropout probabilities at once."""
    sizes = {**TINY, **overrides}
    sizes.setdefault("intermediate_size", 4 * sizes["hidden_size"])
    if dropout is not None:
        sizes.update(hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    return BertConfig(vocab_size=vocab_size, **sizes)
