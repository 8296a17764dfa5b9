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

import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .model import BertConfig, BertForPreTraining
from .tokenizer import WordPieceTokenizer

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
def warmup_linear(step: int, warmup: int, total: int) -> float:
    """Learning-rate multiplier: linear warm-up from 0 to 1 over ``warmup`` steps, then linear decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


@dataclass
class History:
    step: list[int] = field(default_factory=list)
    mlm: list[float] = field(default_factory=list)
    nsp: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: float = 0.0
    evals: list[dict] = field(default_factory=list)


def train(model: BertForPreTraining, pairs: Sequence[dict], tokenizer: WordPieceTokenizer, steps: int,
          batch_size: int = 32, lr: float = 1e-3, warmup: int = 50, weight_decay: float = 0.01,
          clip: float = 1.0, seed: int = 0, max_seconds: float | None = None, use_nsp: bool = True,
          mlm_probability: float = 0.15, progress: bool = True,
          eval_fn: Callable[[BertForPreTraining], dict] | None = None, eval_every: int = 0) -> History:
    """AdamW, warm-up + linear decay, gradient clipping, dynamic masking; stops at ``steps`` or ``max_seconds``."""
    from tqdm.auto import tqdm

    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    decay = [p for n, p in model.named_parameters() if p.dim() > 1]
    no_decay = [p for n, p in model.named_parameters() if p.dim() <= 1]  # biases and LayerNorm
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_linear(s, warmup, steps))
    hist = History()
    model.train()
    order: list[int] = []
    t0 = time.perf_counter()
    bar = tqdm(range(steps), desc="pre-training", disable=not progress, mininterval=1.0)
    for step in bar:
        if len(order) < batch_size:
            fresh = list(range(len(pairs)))
            rng.shuffle(fresh)
            order += fresh
        idx, order = order[:batch_size], order[batch_size:]
        batch = masked_batch([pairs[i] for i in idx], tokenizer, gen, mlm_probability)
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
    - ``left_neighbour``: the most frequent next token after the left neighbour in training text (at [MASK]).
    """
    unigram: Counter[int] = Counter()
    bigram: dict[int, Counter[int]] = {}
    for p in train_pairs:
        ids = [i for i in p["input_ids"] if i not in tokenizer.special_ids]
        unigram.update(ids)
        for x, y in zip(ids, ids[1:]):
            bigram.setdefault(x, Counter())[y] += 1
    top = unigram.most_common(1)[0][0]
    best_after = {x: c.most_common(1)[0][0] for x, c in bigram.items()}
    freq_right = freq_total = copy_right = copy_total = nb_right = 0
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
                    nb_right += best_after.get(left, top) == gold
    return {"most_frequent": freq_right / max(freq_total, 1), "copy_or_frequent": copy_right / max(copy_total, 1),
            "left_neighbour": nb_right / max(freq_total, 1), "most_frequent_token": tokenizer.ids_to_tokens[top]}


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


TINY = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512,
            max_position_embeddings=128)


def tiny_config(vocab_size: int, **overrides) -> BertConfig:
    """The course's tiny BERT: 2 layers, hidden 128, 2 heads, FFN 512 (≈ 1.5 M parameters with 8 k vocab)."""
    return BertConfig(vocab_size=vocab_size, **{**TINY, **overrides})


def batches_forever(pairs: Sequence[dict], batch_size: int, rng: random.Random) -> Iterator[list[dict]]:
    """Shuffled epochs of ``pairs`` in batches, forever."""
    while True:
        order = list(range(len(pairs)))
        rng.shuffle(order)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            yield [pairs[j] for j in order[i:i + batch_size]]


def perplexity(loss: float) -> float:
    """exp(cross-entropy): the effective number of equally likely choices."""
    return math.exp(loss)
