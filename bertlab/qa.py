"""Question answering by span extraction (chapter 07): BERT's SQuAD recipe, piece by piece.

    [CLS] question [SEP] context [SEP]          one sentence pair: segment 0 = question, 1 = context
      ─► BertModel ─► last_hidden_state (B, T, H)
      ─► one linear layer H → 2                  start and end logits per token, (B, T, 2)
      ─► loss = ½ (CE(start_logits, s) + CE(end_logits, e))
      ─► decode: argmax of start_logits[i] + end_logits[j] over i ≤ j, both in the context,
         j − i + 1 ≤ max_answer_length, best over the windows of a long context
      ─► character offsets turn the token span back into the exact substring of the context

Contexts longer than the model's window are split into overlapping windows (only the *context* is
cut; the question is repeated in each window). ``stride`` is the number of context tokens two
consecutive windows share, as in ``transformers`` (Google's original ``run_squad.py`` called the
*step* between windows ``doc_stride``). A window that does not contain the whole answer is trained to
point at [CLS] (position 0), as in the original code.

Metrics are those of the official SQuAD v1.1 evaluation script: answers are normalised (lower case, ASCII
punctuation deleted, the articles a / an / the dropped, white space collapsed); exact match and the F1
of the two bags of words, each maximised over the reference answers, averaged ×100.
"""
from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from .model import BertConfig, BertModel, init_weights

# ----------------------------------------------------------------------------- SQuAD v1.1 metrics
_PUNCTUATION = set(string.punctuation)  # ASCII only, as in the official script
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(s: str) -> str:
    """SQuAD v1.1: lower case, delete ASCII punctuation, replace the words a / an / the by a space,
    collapse white space.  "The son of Nun." → "son of nun"; "Beer-sheba" → "beersheba"."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCTUATION)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def exact_match_score(prediction: str, ground_truth: str) -> bool:
    """True when the two answers are equal after :func:`normalize_answer`."""
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def f1_score(prediction: str, ground_truth: str) -> float:
    """F1 of the two bags of normalised words (a word counts as often as it occurs in both).

    precision = |common| / |prediction words|, recall = |common| / |truth words|; 0 when nothing is
    shared — also when both are empty after normalisation (v1.1's behaviour; v2.0 scores that 1).
    """
    pred_tokens = normalize_answer(prediction).split()
    truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(pred_tokens) & Counter(truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def metric_max_over_ground_truths(metric: Callable[[str, str], float], prediction: str,
                                  ground_truths: Sequence[str]) -> float:
    """The best score of ``prediction`` against any of the reference answers."""
    if not ground_truths:
        raise ValueError("an example needs at least one reference answer")
    return max(float(metric(prediction, gt)) for gt in ground_truths)


def squad_scores(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """``{"exact_match": …, "f1": …}`` in percent over examples, each maximised over its references."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} reference lists")
    if not predictions:
        raise ValueError("squad_scores needs at least one prediction")
    em = sum(metric_max_over_ground_truths(exact_match_score, p, r) for p, r in zip(predictions, references))
    f1 = sum(metric_max_over_ground_truths(f1_score, p, r) for p, r in zip(predictions, references))
    return {"exact_match": 100.0 * em / len(predictions), "f1": 100.0 * f1 / len(predictions)}


# ----------------------------------------------------------------------------- examples and windows
@dataclass
class QAExample:
    """One question about one context; ``answers`` are the reference answers (≥ 1), ``answer_starts``
    their character positions in ``context`` (``context[s:s + len(a)] == a``); the first is the one
    trained on."""

    question: str
    context: str
    answers: list[str]
    answer_starts: list[int]
    id: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.answers or len(self.answers) != len(self.answer_starts):
            raise ValueError(f"example {self.id!r}: need ≥ 1 answer and one start per answer")
        for a, s in zip(self.answers, self.answer_starts):
            if self.context[s:s + len(a)] != a:
                raise ValueError(f"example {self.id!r}: answer {a!r} is not at character {s} of the context")


def window_starts(n_tokens: int, capacity: int, stride: int) -> list[int]:
    """Start positions of the windows that cover ``n_tokens`` context tokens, ``capacity`` at a time,
    consecutive windows sharing ``stride`` tokens (step = capacity − stride).

    The last window is the first one that reaches the end, so nothing is left out and no window lies
    inside another: (10, 4, 1) → [0, 3, 6]; a context that fits gives [0].  Same windows as
    ``transformers`` (``truncation="only_second", stride=…, return_overflowing_tokens=True``).
    """
    if capacity < 1:
        raise ValueError(f"capacity must be ≥ 1 token; got {capacity}")
    if not 0 <= stride < capacity:
        raise ValueError(f"stride (the overlap) must be in [0, capacity={capacity}); got {stride}")
    starts, start = [0], 0
    while start + capacity < n_tokens:
        start += capacity - stride
        starts.append(start)
    return starts


@dataclass
class Window:
    """One model input cut from an example: ``[CLS] question [SEP] context[a:b] [SEP]``.

    ``offsets[t]`` is token t's ``(start, end)`` in the *context* string, or None for the question and
    special tokens; ``start_position``/``end_position`` are the answer's token span in this window, or
    (0, 0) — [CLS] — when the window does not contain the whole answer.
    """

    example: int
    input_ids: list[int]
    token_type_ids: list[int]
    offsets: list[tuple[int, int] | None]
    start_position: int = 0
    end_position: int = 0

    @property
    def context_mask(self) -> list[bool]:
        """True on the context tokens (the only tokens an answer may use)."""
        return [o is not None for o in self.offsets]


def encode_qa(tokenizer, question: str, context: str, answer_start: int | None = None,
              answer_text: str | None = None, max_length: int = 128, stride: int = 32,
              max_query_length: int = 32, example: int = 0,
              _context_tokens: tuple[list[str], list[tuple[int, int]]] | None = None) -> list[Window]:
    """Encode a (question, context) pair into one or more windows of at most ``max_length`` tokens.

    Only the context is cut (the question, truncated to ``max_query_length`` pieces, is in every window);
    consecutive windows share ``stride`` context tokens (:func:`window_starts`).  With ``answer_start`` and
    ``answer_text`` each window gets the answer's token span (first token whose characters reach the
    answer's start, last token that begins before its end), or (0, 0) if the answer is not wholly inside.
    """
    q_tokens = tokenizer.tokenize(question)[:max_query_length]
    c_tokens, c_off = _context_tokens or tokenizer.tokenize_with_offsets(context)
    capacity = max_length - len(q_tokens) - 3
    if capacity < 1:
        raise ValueError(f"max_length={max_length} leaves no room for the context after a "
                         f"{len(q_tokens)}-token question and 3 special tokens")
    q_ids, c_ids = tokenizer.convert_tokens_to_ids(q_tokens), tokenizer.convert_tokens_to_ids(c_tokens)
    span = None
    if answer_start is not None:
        if answer_text is None or context[answer_start:answer_start + len(answer_text)] != answer_text:
            raise ValueError(f"answer {answer_text!r} is not at character {answer_start} of the context")
        a_end = answer_start + len(answer_text)
        inside = [t for t, (s, e) in enumerate(c_off) if s < a_end and e > answer_start]
        if not inside:
            raise ValueError(f"answer {answer_text!r} covers no token of the context (only white space?)")
        span = (inside[0], inside[-1])
    windows = []
    head = [tokenizer.cls_id] + q_ids + [tokenizer.sep_id]
    for a in window_starts(len(c_ids), capacity, min(stride, capacity - 1)):
        b = min(a + capacity, len(c_ids))
        w = Window(example=example, input_ids=head + c_ids[a:b] + [tokenizer.sep_id],
                   token_type_ids=[0] * len(head) + [1] * (b - a + 1),
                   offsets=[None] * len(head) + list(c_off[a:b]) + [None])
        if span is not None and a <= span[0] and span[1] < b:
            w.start_position, w.end_position = span[0] - a + len(head), span[1] - a + len(head)
        windows.append(w)
    return windows


def encode_examples(tokenizer, examples: Sequence[QAExample], max_length: int = 128, stride: int = 32,
                    max_query_length: int = 32, with_answers: bool = True) -> dict:
    """Every example's windows as padded tensors for :func:`bertlab.finetuning.fine_tune` / ``predict_logits``:
    ``input_ids``, ``token_type_ids``, ``attention_mask`` (N, T), ``start_positions``, ``end_positions``,
    ``example_index`` (N,), and the list ``windows`` (:class:`Window`, with the offsets)."""
    windows: list[Window] = []
    cache: dict[str, tuple[list[str], list[tuple[int, int]]]] = {}
    for i, ex in enumerate(examples):
        if ex.context not in cache:
            cache[ex.context] = tokenizer.tokenize_with_offsets(ex.context)
        kw = {"answer_start": ex.answer_starts[0], "answer_text": ex.answers[0]} if with_answers else {}
        windows += encode_qa(tokenizer, ex.question, ex.context, max_length=max_length, stride=stride,
                             max_query_length=max_query_length, example=i, _context_tokens=cache[ex.context], **kw)
    if not windows:
        raise ValueError("encode_examples: no examples")
    width = max(len(w.input_ids) for w in windows)
    pad = tokenizer.pad_id

    def padded(rows, value):
        return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)

    return {
        "input_ids": padded([w.input_ids for w in windows], pad),
        "token_type_ids": padded([w.token_type_ids for w in windows], 0),
        "attention_mask": padded([[1] * len(w.input_ids) for w in windows], 0),
        "start_positions": torch.tensor([w.start_position for w in windows]),
        "end_positions": torch.tensor([w.end_position for w in windows]),
        "example_index": torch.tensor([w.example for w in windows]),
        "windows": windows,
    }


def span_to_text(context: str, offsets: Sequence[tuple[int, int] | None], start: int, end: int) -> str:
    """The exact substring of ``context`` that tokens ``start … end`` (inclusive) of a window cover:
    from the first token's start character to the last token's end character."""
    if offsets[start] is None or offsets[end] is None:
        raise ValueError(f"tokens {start}…{end} are not both context tokens")
    return context[offsets[start][0]:offsets[end][1]]


# ----------------------------------------------------------------------------- the model and its loss
@dataclass
class QAOutput:
    """What :class:`BertForQuestionAnswering` returns: ``logits`` (B, T, 2) = start and end logits."""

    logits: torch.Tensor
    last_hidden_state: torch.Tensor | None = None

    @property
    def start_logits(self) -> torch.Tensor:
        """(B, T)"""
        return self.logits[..., 0]

    @property
    def end_logits(self) -> torch.Tensor:
        """(B, T)"""
        return self.logits[..., 1]


class BertForQuestionAnswering(nn.Module):
    """BERT + one linear layer H → 2 on every token: a start score and an end score (no dropout before it,
    as in the original).  ``transformers`` calls this layer ``qa_outputs``; here it is ``classifier`` like
    the course's other heads, so :func:`bertlab.weights.load_pretrained` gives it a fresh initialisation."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.classifier = nn.Linear(config.hidden_size, 2)
        init_weights(self.classifier, config.initializer_range)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None) -> QAOutput:
        """input_ids, token_type_ids, attention_mask: (B, T). Returns logits (B, T, 2)."""
        h = self.bert(input_ids, token_type_ids, attention_mask).last_hidden_state  # (B, T, H)
        return QAOutput(self.classifier(h), h)


def qa_loss(logits: torch.Tensor, start_positions: torch.Tensor, end_positions: torch.Tensor) -> torch.Tensor:
    """½ (cross-entropy of the start logits (B, T) with the start positions (B,) + the same for the end):
    each is a softmax over the window's T positions."""
    start_loss = nn.functional.cross_entropy(logits[..., 0], start_positions)
    end_loss = nn.functional.cross_entropy(logits[..., 1], end_positions)
    return (start_loss + end_loss) / 2


def set_dropout(model: nn.Module, p: float) -> nn.Module:
    """Every dropout layer's probability to ``p`` (a checkpoint pre-trained without dropout is fine-tuned with)."""
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = p
    return model


def qa_model(path, pretrained: bool = True, seed: int = 0, dropout: float | None = 0.1):
    """``(model, tokenizer)``: the Hugging Face-format BERT folder ``path`` with a fresh span head, or the same
    architecture with random weights (``pretrained=False``); dropout set to ``dropout`` (None: as saved)."""
    from .weights import load_pretrained

    torch.manual_seed(seed)
    model, tok = load_pretrained(path, BertForQuestionAnswering)
    if not pretrained:
        model = BertForQuestionAnswering(model.config)
    if dropout is not None:
        set_dropout(model, dropout)
    return model, tok


# ----------------------------------------------------------------------------- decoding
def span_scores(start_logits: torch.Tensor, end_logits: torch.Tensor, context_mask: torch.Tensor,
                max_answer_length: int = 30) -> torch.Tensor:
    """(T, T) scores start_logits[i] + end_logits[j], −inf where the span (i, j) is not allowed:
    j < i, i or j outside the context, or longer than ``max_answer_length`` tokens."""
    t = start_logits.shape[-1]
    scores = start_logits[:, None] + end_logits[None, :]  # (T, T)
    i = torch.arange(t)[:, None]
    j = torch.arange(t)[None, :]
    mask = context_mask.bool()
    allowed = (j >= i) & (j - i < max_answer_length) & mask[:, None] & mask[None, :]
    return scores.masked_fill(~allowed, float("-inf"))


def best_span(start_logits: torch.Tensor, end_logits: torch.Tensor, context_mask: torch.Tensor,
              max_answer_length: int = 30) -> tuple[int, int]:
    """The span (s, e) maximising start_logits[s] + end_logits[e] with s ≤ e, both context tokens and
    e − s + 1 ≤ ``max_answer_length``.  1-D tensors over T tokens; ``context_mask`` bool (T,)."""
    s, e, _ = best_span_with_score(start_logits, end_logits, context_mask, max_answer_length)
    return s, e


def best_span_with_score(start_logits: torch.Tensor, end_logits: torch.Tensor, context_mask: torch.Tensor,
                         max_answer_length: int = 30) -> tuple[int, int, float]:
    """:func:`best_span` and its score start_logits[s] + end_logits[e]."""
    if start_logits.ndim != 1 or start_logits.shape != end_logits.shape or context_mask.shape != start_logits.shape:
        raise ValueError(f"best_span needs three 1-D tensors of equal length; got {tuple(start_logits.shape)}, "
                         f"{tuple(end_logits.shape)}, {tuple(context_mask.shape)}")
    if not bool(context_mask.any()):
        raise ValueError("best_span: the context mask selects no token")
    scores = span_scores(start_logits.float(), end_logits.float(), context_mask, max_answer_length)
    flat = int(scores.argmax())
    t = start_logits.shape[0]
    return flat // t, flat % t, float(scores.view(-1)[flat])


@dataclass
class Prediction:
    """The decoded answer of one example: its text, score, and where it came from."""

    text: str
    score: float
    window: int  # index into the features' windows
    token_span: tuple[int, int]
    char_span: tuple[int, int]


def decode(logits: torch.Tensor, features: dict, examples: Sequence[QAExample],
           max_answer_length: int = 30) -> list[Prediction]:
    """Best span per example over all its windows (highest start + end logit), mapped back to the
    context's characters.  ``logits`` (N, T, 2) for the N windows of ``features``."""
    windows: list[Window] = features["windows"]
    if len(windows) != len(logits):
        raise ValueError(f"{len(logits)} rows of logits for {len(windows)} windows")
    best: dict[int, Prediction] = {}
    for n, w in enumerate(windows):
        t = len(w.input_ids)
        mask = torch.tensor(w.context_mask)
        s, e, score = best_span_with_score(logits[n, :t, 0], logits[n, :t, 1], mask, max_answer_length)
        if w.example not in best or score > best[w.example].score:
            cs, ce = w.offsets[s][0], w.offsets[e][1]
            best[w.example] = Prediction(examples[w.example].context[cs:ce], score, n, (s, e), (cs, ce))
    missing = [i for i in range(len(examples)) if i not in best]
    if missing:
        raise ValueError(f"examples {missing[:5]} have no window")
    return [best[i] for i in range(len(examples))]


# ----------------------------------------------------------------------------- training and evaluation
MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")


def model_inputs(features: dict) -> dict[str, torch.Tensor]:
    """Only the tensors the model reads (what ``fine_tune`` / ``predict_logits`` pass to it)."""
    return {k: features[k] for k in MODEL_INPUTS}


@torch.no_grad()
def predict(model: nn.Module, features: dict, batch_size: int = 64) -> torch.Tensor:
    """Start/end logits (N, T, 2) of every window (eval mode, batches of similar length)."""
    from .finetuning import predict_logits

    return predict_logits(model, model_inputs(features), batch_size=batch_size)


def evaluate(model: nn.Module, features: dict, examples: Sequence[QAExample], max_answer_length: int = 30,
             logits: torch.Tensor | None = None) -> dict:
    """EM and F1 (percent) of ``model`` on ``examples``, and its ``predictions`` (:class:`Prediction`)."""
    logits = predict(model, features) if logits is None else logits
    preds = decode(logits, features, examples, max_answer_length)
    return {**squad_scores([p.text for p in preds], [ex.answers for ex in examples]), "predictions": preds}


def train_qa(model: nn.Module, features: dict, val: tuple[dict, Sequence[QAExample]] | None = None, *,
             epochs: float = 2.0, lr: float = 1e-4, batch_size: int = 32, warmup: float = 0.1, seed: int = 0,
             patience: int | None = None, evals_per_epoch: int = 1, progress: bool = False,
             max_answer_length: int = 30, desc: str = "fine-tuning (QA)"):
    """Fine-tune a :class:`BertForQuestionAnswering` with :func:`bertlab.finetuning.fine_tune` (AdamW without
    decay on biases/LayerNorm, warm-up + linear decay, clipping) and :func:`qa_loss`.  With
    ``val = (features, examples)`` it keeps the weights with the best validation F1."""
    from .finetuning import fine_tune

    starts, ends = features["start_positions"], features["end_positions"]

    def loss_fn(logits, batch, idx):
        return qa_loss(logits, starts[idx], ends[idx])

    score = None
    val_inputs = None
    if val is not None:
        val_features, val_examples = val
        val_inputs = model_inputs(val_features)

        def score(logits, _data):
            return squad_scores([p.text for p in decode(logits, val_features, val_examples, max_answer_length)],
                                [ex.answers for ex in val_examples])["f1"]

    return fine_tune(model, model_inputs(features), val_inputs, epochs=epochs, lr=lr, batch_size=batch_size,
                     warmup=warmup, seed=seed, patience=patience, evals_per_epoch=evals_per_epoch, score=score,
                     loss_fn=loss_fn, progress=progress, group_by_length=True, desc=desc)
