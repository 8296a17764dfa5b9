"""After BERT (chapter 08): the ideas of RoBERTa, ALBERT, ELECTRA and DistilBERT, and making BERT cheap.

Each idea is small code on top of :mod:`bertlab.model`:

- ALBERT: a factorised token embedding (V·E + E·H parameters instead of V·H) and cross-layer sharing;
- ELECTRA: replaced-token-detection labels and a generator/discriminator step;
- DistilBERT: the distillation loss (soft targets at temperature T, scaled by T², plus hard labels);
- pruning attention heads by importance, dynamic int8 quantisation, attention latency vs sequence length;
- the family map (encoder-only, decoder-only, encoder–decoder, multimodal) as data and a figure.

RoBERTa's two changes (dynamic masking, no NSP) need no new model code: :func:`pretrain` has switches.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import random
import statistics
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .finetuning import FineTuneResult, accuracy_score, fine_tune, no_decay_groups, predict_logits, warmup_linear_lambda
from .model import BertConfig, BertForPreTraining, BertForSequenceClassification, BertModel
from .pretraining import IGNORE_INDEX, collate, mask_tokens, pretraining_loss

# ============================================================================================ ALBERT


def bert_embedding_params(vocab_size: int, hidden_size: int) -> int:
    """Weights of BERT's token-embedding matrix: V·H (position/segment embeddings and LayerNorm not counted)."""
    _positive(vocab_size=vocab_size, hidden_size=hidden_size)
    return vocab_size * hidden_size


def albert_embedding_params(vocab_size: int, embedding_size: int, hidden_size: int) -> int:
    """Weights of ALBERT's factorised token embedding: a V×E table plus an E×H projection = V·E + E·H.

    Counted: the token-embedding table and the projection's weight matrix. Not counted (the same in BERT
    and ALBERT, so they cancel in the comparison): the projection's bias, position and segment embeddings,
    LayerNorm.
    """
    _positive(vocab_size=vocab_size, embedding_size=embedding_size, hidden_size=hidden_size)
    return vocab_size * embedding_size + embedding_size * hidden_size


def _positive(**sizes: int) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")


class FactorizedEmbedding(nn.Module):
    """ALBERT's token embedding: ids → (V×E table) → (B, T, E) → E×H projection → (B, T, H)."""

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, padding_idx: int | None = 0):
        super().__init__()
        _positive(vocab_size=vocab_size, embedding_size=embedding_size, hidden_size=hidden_size)
        self.table = nn.Embedding(vocab_size, embedding_size, padding_idx=padding_idx)  # V·E
        self.projection = nn.Linear(embedding_size, hidden_size, bias=False)  # E·H

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.projection(self.table(input_ids))  # (B, T, E) → (B, T, H)


def count_parameters(module: nn.Module) -> int:
    """Number of distinct parameter values (a tensor shared by several layers is counted once)."""
    return sum(p.numel() for p in module.parameters())  # parameters() de-duplicates shared tensors


def share_layers(model: BertModel) -> BertModel:
    """ALBERT's cross-layer sharing, in place: every ``encoder.layer[i]`` becomes the same module as layer 0.

    The forward pass is unchanged (still ``num_hidden_layers`` applications); only the parameters are shared.
    """
    first = model.encoder.layer[0]
    for i in range(1, len(model.encoder.layer)):
        model.encoder.layer[i] = first
    return model


def factorize_embeddings(model: BertModel, embedding_size: int) -> BertModel:
    """Replace the V×H token embedding by ALBERT's V×E + E×H factorisation (in place, freshly initialised).

    Only for encoders and classifiers: BERT's MLM head is tied to a V×H matrix, which no longer exists.

    Initialisation matters: with both factors drawn with std 0.02 (BERT's ``initializer_range``) a token's
    vector has std 0.02 · 0.02 · √E ≈ 0.002 — ten times smaller than the position embeddings it is added
    to, so the model barely sees which token is where and, measured on the tiny setup, stayed at the
    majority class after an epoch. Here the table has std 0.02 and the projection std 1/√E, so the product
    has BERT's scale (0.02) from the first step.
    """
    cfg = model.config
    fact = FactorizedEmbedding(cfg.vocab_size, embedding_size, cfg.hidden_size, cfg.pad_token_id)
    nn.init.normal_(fact.table.weight, std=cfg.initializer_range)
    nn.init.normal_(fact.projection.weight, std=embedding_size ** -0.5)  # keeps std(table @ projection) = 0.02
    with torch.no_grad():
        fact.table.weight[cfg.pad_token_id].zero_()
    model.embeddings.word_embeddings = fact
    return model


def albert_parameter_table(vocab_size: int = 30000, hidden_size: int = 768, num_layers: int = 12,
                           embedding_size: int = 128) -> list[dict]:
    """Parameter counts of BERT vs ALBERT variants, counted on real modules (built on the ``meta`` device).

    Rows: BERT, + factorised embedding, + cross-layer sharing, both (= ALBERT). Counts cover the encoder
    (embeddings, layers, pooler), no pre-training heads.
    """
    cfg = BertConfig(vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_layers,
                     num_attention_heads=max(1, hidden_size // 64), intermediate_size=4 * hidden_size)
    rows = []
    for name, fact, share in [("BERT", False, False), (f"factorised embedding (E={embedding_size})", True, False),
                              ("cross-layer sharing", False, True), ("ALBERT: both", True, True)]:
        with torch.device("meta"):
            m = BertModel(cfg)
            if fact:
                factorize_embeddings(m, embedding_size)
            if share:
                share_layers(m)
        emb = count_parameters(m.embeddings.word_embeddings)
        layers = count_parameters(m.encoder)
        rows.append({"model": name, "token embedding": emb, "encoder layers": layers, "total": count_parameters(m)})
    return rows


# ============================================================================================ ELECTRA


def rtd_labels(original_ids: torch.Tensor, corrupted_ids: torch.Tensor, chosen: torch.Tensor,
               attention_mask: torch.Tensor | None = None, special_ids: Iterable[int] = ()) -> torch.Tensor:
    """ELECTRA's discriminator targets, (B, T) long: 1 = replaced, 0 = original, -100 = not scored.

    ``chosen`` (B, T) bool marks the positions the generator filled. A chosen position is "replaced" only if
    the sampled token *differs* from the original: where the generator sampled the original token back,
    the label is 0 (ELECTRA, section 2). Padding (``attention_mask == 0``) and special tokens ([CLS],
    [SEP], …) get -100, which the loss ignores.
    """
    for name, t in (("corrupted_ids", corrupted_ids), ("chosen", chosen)):
        if t.shape != original_ids.shape:
            raise ValueError(f"{name} has shape {tuple(t.shape)}; expected {tuple(original_ids.shape)} like original_ids")
    labels = (chosen.bool() & (corrupted_ids != original_ids)).long()  # (B, T)
    ignore = torch.isin(original_ids, torch.as_tensor(sorted(set(int(i) for i in special_ids)), dtype=torch.long))
    if attention_mask is not None:
        if attention_mask.shape != original_ids.shape:
            raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)}; expected "
                             f"{tuple(original_ids.shape)} like original_ids")
        ignore |= attention_mask == 0
    return labels.masked_fill(ignore, IGNORE_INDEX)


class Electra(nn.Module):
    """A small MLM generator and a discriminator (a BERT encoder + one logit per token: replaced?)."""

    def __init__(self, discriminator_config: BertConfig, generator_config: BertConfig):
        super().__init__()
        if generator_config.vocab_size != discriminator_config.vocab_size:
            raise ValueError("generator and discriminator must share the vocabulary")
        self.generator = BertForPreTraining(generator_config)
        self.discriminator = BertModel(discriminator_config)
        self.rtd_head = nn.Linear(discriminator_config.hidden_size, 1)

    def forward(self, batch: dict[str, torch.Tensor], original_ids: torch.Tensor, special_ids: Iterable[int],
                generator: torch.Generator | None = None, disc_weight: float = 50.0) -> dict[str, torch.Tensor]:
        """One ELECTRA step on a masked ``batch`` (input_ids masked, labels = original id or -100).

        Returns the total loss ``L_MLM(generator) + λ·L_RTD(discriminator)`` (λ = 50 as in the paper)
        and its parts. Sampling is not differentiated: the generator learns only from its MLM loss.
        """
        chosen = batch["labels"] != IGNORE_INDEX  # (B, T)
        gen_out = self.generator(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"],
                                 masked_positions=chosen)
        gen_loss = F.cross_entropy(gen_out.prediction_logits, batch["labels"][chosen])
        with torch.no_grad():  # sample a plausible replacement at every chosen position
            probs = gen_out.prediction_logits.float().softmax(-1)  # (N, V)
            sampled = torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (N,)
        corrupted = original_ids.clone()
        corrupted[chosen] = sampled
        labels = rtd_labels(original_ids, corrupted, chosen, batch["attention_mask"], special_ids)  # (B, T)
        hidden = self.discriminator(corrupted, batch["token_type_ids"], batch["attention_mask"]).last_hidden_state
        logits = self.rtd_head(hidden).squeeze(-1)  # (B, T)
        scored = labels != IGNORE_INDEX
        disc_loss = F.binary_cross_entropy_with_logits(logits[scored], labels[scored].float())
        acc = ((logits[scored] > 0).long() == labels[scored]).float().mean()
        return {"loss": gen_loss + disc_weight * disc_loss, "gen_loss": gen_loss, "disc_loss": disc_loss,
                "disc_acc": acc, "replaced_share": labels[scored].float().mean()}


# ======================================================================================= pre-training


@dataclass
class PretrainRun:
    """What :func:`pretrain` did: the encoder to fine-tune and the losses per step."""

    encoder: BertModel
    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)


def pretrain(objective: str, config: BertConfig, pairs: Sequence[dict], tokenizer, seconds: float,
             batch_size: int = 32, lr: float = 1e-3, seed: int = 0, generator_config: BertConfig | None = None,
             max_steps: int = 1_000_000) -> PretrainRun:
    """Pre-train a fresh encoder for ``seconds`` of wall time (equal compute) with one objective.

    ``objective``: "mlm+nsp" (BERT), "mlm" (RoBERTa: no NSP), "static+nsp" / "static" (each pair masked
    once, before training, as in the original BERT's data files) or "electra" (``generator_config`` is the
    small generator). Masking is dynamic (a new mask every time a pair is seen) unless "static".
    ``pairs`` come from :func:`bertlab.pretraining.make_nsp_pairs`. AdamW, clipping 1.0; the learning rate
    warms up over the first 5 % of the budget and decays linearly to 0 at its end, where the budget's progress
    is the larger of elapsed/``seconds`` and step/``max_steps`` — so every objective gets the same schedule
    in time, however many steps it manages.
    """
    if objective not in ("mlm+nsp", "mlm", "static+nsp", "static", "electra"):
        raise ValueError(f"unknown objective {objective!r}")
    torch.manual_seed(seed)
    rng, gen = random.Random(seed), torch.Generator().manual_seed(seed)
    specials = sorted(tokenizer.special_ids)
    if objective == "electra":
        if generator_config is None:
            raise ValueError("objective 'electra' needs generator_config (a small BERT config)")
        model: nn.Module = Electra(config, generator_config)
        encoder = model.discriminator
    else:
        model = BertForPreTraining(config)
        encoder = model.bert
    static = None
    if objective.startswith("static"):  # one fixed mask per pair, drawn once
        static = []
        for p in pairs:
            ids = torch.tensor([p["input_ids"]])
            masked, labels = mask_tokens(ids, specials, len(tokenizer), tokenizer.mask_id, 0.15, gen)
            static.append((masked[0].tolist(), labels[0].tolist()))
    opt = torch.optim.AdamW(no_decay_groups(model), lr=lr)
    schedule = warmup_linear_lambda(50, 1000)  # per mille of the budget: 5 % warm-up, then linear decay
    model.train()
    losses, order, step, t0 = [], [], 0, time.perf_counter()
    while (progress := max((time.perf_counter() - t0) / seconds, step / max_steps)) < 1:
        for group in opt.param_groups:
            group["lr"] = lr * schedule(int(progress * 1000))
        if len(order) < batch_size:
            fresh = list(range(len(pairs)))
            rng.shuffle(fresh)
            order += fresh
        idx, order = order[:batch_size], order[batch_size:]
        batch = collate([pairs[i] for i in idx], tokenizer.pad_id)
        original = batch["input_ids"]
        if static is not None:
            longest = original.shape[1]
            batch["input_ids"] = torch.tensor([static[i][0] + [tokenizer.pad_id] * (longest - len(static[i][0]))
                                               for i in idx])
            batch["labels"] = torch.tensor([static[i][1] + [IGNORE_INDEX] * (longest - len(static[i][1]))
                                            for i in idx])
        else:
            batch["input_ids"], batch["labels"] = mask_tokens(original, specials, len(tokenizer),
                                                              tokenizer.mask_id, 0.15, gen)
        if (batch["labels"] == IGNORE_INDEX).all():
            continue
        if objective == "electra":
            loss = model(batch, original, specials, gen)["loss"]
        else:
            loss = pretraining_loss(model, batch, use_nsp=objective.endswith("nsp"))[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
    encoder.eval()
    return PretrainRun(encoder, step, time.perf_counter() - t0, losses)


# ==================================================================================== classification


def classifier_from_encoder(encoder: BertModel, num_labels: int = 2, pooling: str = "cls") -> BertForSequenceClassification:
    """A fresh classifier whose encoder starts from ``encoder``'s weights (a copy)."""
    clf = BertForSequenceClassification(encoder.config, num_labels, pooling=pooling)
    clf.bert = copy.deepcopy(encoder)
    return clf


def accuracy(model: nn.Module, data: dict[str, torch.Tensor]) -> float:
    """Share of sentences in ``data`` (from :func:`bertlab.finetuning.encode_sentences`) predicted right."""
    return accuracy_score(predict_logits(model, data), data)


# ====================================================================================== DistilBERT


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                      temperature: float = 2.0, alpha: float = 0.5) -> torch.Tensor:
    """α · T² · KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 − α) · CE(student, labels).

    ``student_logits``, ``teacher_logits``: (B, C); ``labels``: (B,) class ids. The KL is averaged over the
    batch; T² keeps the soft term's gradients the same size as T changes (Hinton et al., 2015). The teacher
    is a fixed target (detached).
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} must have the same shape")
    if temperature <= 0 or not 0 <= alpha <= 1:
        raise ValueError(f"need temperature > 0 and 0 ≤ alpha ≤ 1; got T={temperature}, alpha={alpha}")
    t = temperature
    soft = F.kl_div(F.log_softmax(student_logits / t, dim=-1), F.softmax(teacher_logits.detach() / t, dim=-1),
                    reduction="batchmean") * t * t
    hard = F.cross_entropy(student_logits, labels)
    return alpha * soft + (1 - alpha) * hard


def student_from_teacher(teacher: BertForSequenceClassification, keep_layers: Sequence[int]) -> BertForSequenceClassification:
    """DistilBERT's initialisation: a copy of the teacher keeping only ``keep_layers`` (e.g. every other one)."""
    student = copy.deepcopy(teacher)
    student.bert.encoder.layer = nn.ModuleList(student.bert.encoder.layer[i] for i in keep_layers)
    student.config = student.bert.config = BertConfig.from_dict({**teacher.config.to_dict(),
                                                                 "num_hidden_layers": len(keep_layers)})
    return student


def distil(student: nn.Module, teacher: nn.Module, train: dict[str, torch.Tensor], temperature: float = 2.0,
           alpha: float = 0.5, **fine_tune_kwargs) -> FineTuneResult:
    """Train ``student`` on :func:`distillation_loss` against ``teacher``'s logits on ``train`` (computed once,
    in eval mode), with the fine-tuning recipe of :func:`bertlab.finetuning.fine_tune`."""
    teacher_logits = predict_logits(teacher, train)  # (N, C)

    def loss_fn(logits: torch.Tensor, batch: dict, idx: torch.Tensor) -> torch.Tensor:
        return distillation_loss(logits, teacher_logits[idx], batch["labels"], temperature, alpha)

    return fine_tune(student, train, loss_fn=loss_fn, **fine_tune_kwargs)


# ===================================================================================== head pruning


def _heads_by_layer(heads: Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for layer, head in heads:
        out.setdefault(int(layer), []).append(int(head))
    return out


@contextlib.contextmanager
def masked_heads(model: BertModel, heads: Iterable[tuple[int, int]]):
    """Within the block, the given (layer, head) pairs contribute nothing: their context vectors are zeroed
    just before the output projection W_O (a forward pre-hook; the model itself is not changed)."""
    hooks = []
    for layer, hs in _heads_by_layer(heads).items():
        attn = model.encoder.layer[layer].attention
        keep = torch.ones(attn.num_heads * attn.head_size)
        for h in hs:
            if not 0 <= h < attn.num_heads:
                raise ValueError(f"layer {layer} has {attn.num_heads} heads; there is no head {h}")
            keep[h * attn.head_size:(h + 1) * attn.head_size] = 0

        def hook(module, args, keep=keep):
            return (args[0] * keep,)  # (B, T, heads·d_k) with the masked heads' slices zeroed

        hooks.append(attn.output.register_forward_pre_hook(hook))
    try:
        yield model
    finally:
        for h in hooks:
            h.remove()


def head_importance(model: BertModel, score: Callable[[], float]) -> np.ndarray:
    """Importance of each head, (layers, heads): ``score()`` with all heads minus ``score()`` with that head
    masked (Michel et al., 2019, "Are Sixteen Heads Really Better than One?", by ablation)."""
    base = score()
    n_layers = len(model.encoder.layer)
    n_heads = model.encoder.layer[0].attention.num_heads
    imp = np.zeros((n_layers, n_heads))
    for layer in range(n_layers):
        for head in range(n_heads):
            with masked_heads(model, [(layer, head)]):
                imp[layer, head] = base - score()
    return imp


def prune_heads(model: BertModel, heads: Iterable[tuple[int, int]]) -> BertModel:
    """Remove heads for real, in place: slice their rows out of W_Q, W_K, W_V and their columns out of W_O.

    The result computes exactly what :func:`masked_heads` computes, with smaller matrices (faster).
    A layer keeps at least one head.
    """
    for layer, hs in _heads_by_layer(heads).items():
        attn = model.encoder.layer[layer].attention
        d = attn.head_size
        keep_heads = [h for h in range(attn.num_heads) if h not in set(hs)]
        if not keep_heads:
            raise ValueError(f"cannot prune all {attn.num_heads} heads of layer {layer}; keep at least one")
        idx = torch.cat([torch.arange(h * d, (h + 1) * d) for h in keep_heads])
        for name in ("query", "key", "value"):
            old = getattr(attn, name)
            new = nn.Linear(old.in_features, len(idx))
            new.weight.data, new.bias.data = old.weight.data[idx].clone(), old.bias.data[idx].clone()
            setattr(attn, name, new)
        old = attn.output
        new = nn.Linear(len(idx), old.out_features)
        new.weight.data, new.bias.data = old.weight.data[:, idx].clone(), old.bias.data.clone()
        attn.output = new
        attn.num_heads = len(keep_heads)
    return model


# ===================================================================================== quantisation


def quantize_int8(model: nn.Module, per_channel: bool = True) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` dynamically quantised to int8: weights stored as int8 with
    one scale per output channel (``per_channel=True``) or per matrix, activations quantised on the fly.
    Embeddings, LayerNorm and softmax stay float32. CPU only.

    Uses ``torch.ao.quantization.quantize_dynamic``: deprecated in torch 2.13 in favour of ``torchao``, but
    measured here it is the fast option on CPU (``torchao`` 0.18 int8 dynamic was slower than fp32). Its two
    deprecation warnings are filtered here, by message, and only around this call.
    """
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated.*")
        warnings.filterwarnings("ignore", message=r".*quantize_per_(tensor|channel).*deprecated.*")
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear: qconfig},
                                                      dtype=torch.qint8)


def state_size_mb(model: nn.Module) -> float:
    """Size of ``model``'s saved state_dict in MB (10⁶ bytes), as ``torch.save`` writes it."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getbuffer().nbytes / 1e6


def median_ms(fn: Callable[[], object], repeats: int = 7, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in milliseconds (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def latency_table(fns: dict[str, Callable[[], object]], rounds: int = 5, warmup: int = 1) -> dict[str, float]:
    """Median milliseconds of each ``fns[name]()``, measured in interleaved rounds (A, B, C, A, B, C, …) so
    that a slow moment of a shared machine hits every entry alike, not only the one that happened to run then."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def explicit_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(Q Kᵀ / √d_k) V written out: materialises the (B, heads, T, T) score matrix."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, heads, T, T)
    return scores.softmax(-1) @ v  # (B, heads, T, d_k)


@torch.no_grad()
def attention_latency(seq_lens: Sequence[int], batch: int = 8, heads: int = 12, head_dim: int = 32,
                      repeats: int = 5, seed: int = 0) -> list[dict]:
    """Milliseconds of explicit attention vs ``F.scaled_dot_product_attention`` at each sequence length."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for t in seq_lens:
        qkv = [torch.randn(batch, heads, t, head_dim, generator=g) for _ in range(3)]
        rows.append({"seq_len": t,
                     "explicit_ms": median_ms(lambda qkv=qkv: explicit_attention(*qkv), repeats),
                     "sdpa_ms": median_ms(lambda qkv=qkv: F.scaled_dot_product_attention(*qkv), repeats)})
    return rows


# ======================================================================================== family map

FAMILY: list[dict] = [
    {"name": "Transformer", "year": 2017, "kind": "encoder–decoder", "idea": "attention only, no recurrence"},
    {"name": "GPT", "year": 2018, "kind": "decoder-only", "idea": "generative pre-training, then fine-tune"},
    {"name": "BERT", "year": 2018, "kind": "encoder-only", "idea": "bidirectional MLM + NSP pre-training"},
    {"name": "GPT-2", "year": 2019, "kind": "decoder-only", "idea": "scale: zero-shot tasks from LM"},
    {"name": "RoBERTa", "year": 2019, "kind": "encoder-only", "idea": "drop NSP, dynamic masking, more data"},
    {"name": "ALBERT", "year": 2019, "kind": "encoder-only", "idea": "factorised embedding, shared layers, SOP"},
    {"name": "DistilBERT", "year": 2019, "kind": "encoder-only", "idea": "distil BERT into half the layers"},
    {"name": "ViLBERT", "year": 2019, "kind": "multimodal", "idea": "two streams, co-attention text↔image"},
    {"name": "T5", "year": 2019, "kind": "encoder–decoder", "idea": "every task as text-to-text"},
    {"name": "BART", "year": 2019, "kind": "encoder–decoder", "idea": "denoising seq2seq pre-training"},
    {"name": "ELECTRA", "year": 2020, "kind": "encoder-only", "idea": "replaced-token detection, all tokens learn"},
    {"name": "GPT-3", "year": 2020, "kind": "decoder-only", "idea": "few-shot in-context learning"},
    {"name": "DeBERTa", "year": 2020, "kind": "encoder-only", "idea": "disentangled content/position attention"},
    {"name": "VisualBERT", "year": 2019, "kind": "multimodal", "idea": "one encoder over words + image regions"},
    {"name": "CLIP", "year": 2021, "kind": "multimodal", "idea": "contrastive image–text pre-training"},
    {"name": "ModernBERT", "year": 2024, "kind": "encoder-only", "idea": "RoPE, long context, modern training"},
]
KINDS = ("encoder-only", "decoder-only", "encoder–decoder", "multimodal")


def family_map(ax=None):
    """The family as a figure: one row per model, grouped by kind, a dot at its year, labelled with its one idea."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 6.4))
    colours = dict(zip(KINDS, ("tab:blue", "tab:orange", "tab:green", "tab:purple")))
    y = 0.0
    for kind in KINDS:
        ax.text(2016.6, y, kind, fontsize=10, weight="bold", color=colours[kind], va="center")
        y -= 1
        for m in sorted((m for m in FAMILY if m["kind"] == kind), key=lambda m: (m["year"], m["name"])):
            ax.plot(m["year"], y, "o", color=colours[kind], ms=6)
            ax.annotate(f"{m['name']} — {m['idea']}", (m["year"], y), xytext=(7, 0), textcoords="offset points",
                        fontsize=8, va="center")
            y -= 1
        y -= 0.4
    ax.set_xlim(2016.5, 2030.5)
    ax.set_ylim(y + 0.6, 0.8)
    ax.set_yticks([])
    ax.set_xticks(range(2017, 2025))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("The family after BERT: kind, year, and the one idea each added")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    return ax
