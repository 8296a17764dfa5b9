"""Checks for chapter 09 — after BERT: distillation, ELECTRA's labels, ALBERT's embedding count."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..family.albert import albert_embedding_params as ref_albert_embedding_params
from ..family.distillation import distillation_loss as ref_distillation_loss
from ..family.electra import rtd_labels as ref_rtd_labels
from ._core import Check, exercise

__all__ = ["distillation_loss", "rtd_labels", "albert_embedding_params"]


def _soft(s, t, temp, reverse=False, student_temp=True, teacher_temp=True, reduction="batchmean"):
    """The soft term of a WRONG answer: KL(teacher_T ‖ student_T) with one of the realistic slips (reversed,
    a softmax without T, averaged over every entry for reduction="mean")."""
    log_p_student = F.log_softmax(s / temp if student_temp else s, -1)
    p_teacher = F.softmax(t / temp if teacher_temp else t, -1)
    if reverse:  # KL(student ‖ teacher)
        log_p_student, p_teacher = F.log_softmax(t / temp, -1), F.softmax(s / temp, -1)
    total = F.kl_div(log_p_student, p_teacher, reduction="sum")
    return total / (s.numel() if reduction == "mean" else s.shape[0])


@exercise("distillation_loss")
def distillation_loss(c: Check, fn) -> None:
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(16, 5, generator=g) * 2, torch.randn(16, 5, generator=g) * 3
    y = torch.randint(0, 5, (16,), generator=g)
    for temp, alpha in ((3.0, 0.7), (2.0, 0.25)):
        got = c.call(fn, s, t, y, temp, alpha, what=f"distillation_loss(student (16, 5), teacher (16, 5), labels, "
                     f"temperature={temp}, alpha={alpha})")
        got = c.expect_torch(got, "distillation_loss")
        c.expect(got.dim() == 0, f"the loss has shape {tuple(got.shape)}; expected a scalar.",
                 "average the KL over the batch (reduction='batchmean') and the cross-entropy over the batch.")
        hard = F.cross_entropy(s, y)
        soft = _soft(s, t, temp)
        T2 = temp * temp
        expected = ref_distillation_loss(s, t, y, temp, alpha)
        mistakes = {
            "the soft term is missing its T² factor: the gradients of softened targets shrink as 1/T², so "
            "multiply the KL by temperature².": alpha * soft + (1 - alpha) * hard,
            "the KL divergence is reversed: use KL(teacher ‖ student) = F.kl_div(log_softmax(student/T), "
            "softmax(teacher/T)) — the first argument of F.kl_div is the student's LOG-probabilities.":
                alpha * T2 * _soft(s, t, temp, reverse=True) + (1 - alpha) * hard,
            "the student's softmax is taken without the temperature: divide the student logits by T too.":
                alpha * T2 * _soft(s, t, temp, student_temp=False) + (1 - alpha) * hard,
            "the teacher's softmax is taken without the temperature: divide the teacher logits by T too.":
                alpha * T2 * _soft(s, t, temp, teacher_temp=False) + (1 - alpha) * hard,
            "the hard labels are ignored: add (1 − α) · cross_entropy(student_logits, labels).": alpha * T2 * soft,
            "the hard labels are ignored (the soft term is not even weighted by α): add (1 − α) · CE on the labels.":
                T2 * soft,
            "α and 1 − α are swapped: α weights the soft (teacher) term, 1 − α the hard labels.":
                (1 - alpha) * T2 * soft + alpha * hard,
            "the KL is averaged over every class entry (reduction='mean'); the KL of a distribution sums over "
            "classes — use reduction='batchmean'.": alpha * T2 * _soft(s, t, temp, reduction="mean") + (1 - alpha) * hard,
            "the teacher's probabilities were passed as logits/log-probabilities: F.kl_div(input, target) wants "
            "log-probabilities of the student and probabilities of the teacher.":
                alpha * T2 * F.kl_div(F.log_softmax(s / temp, -1), F.log_softmax(t / temp, -1),
                                      reduction="batchmean") + (1 - alpha) * hard,
        }
        c.expect_array(got.detach().reshape(()), expected, what=f"the loss at T={temp}, α={alpha}", kind="torch",
                       atol=1e-5, mistakes={k: v.reshape(()) for k, v in mistakes.items()},
                       hint="α · T² · KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α) · CE(s, labels).")
    c.note("α · T² · KL(teacher_T ‖ student_T) + (1 − α) · CE, at T = 3 and T = 2")
    s2 = s.clone().requires_grad_(True)
    loss = c.call(fn, s2, t, y, 2.0, 0.5, what="distillation_loss with student logits that require grad")
    c.expect(isinstance(loss, torch.Tensor) and loss.requires_grad, "the loss does not carry a gradient back to the "
             "student's logits.", "use torch operations only (no .item(), .numpy() or torch.no_grad()).")
    loss.backward()
    c.expect(s2.grad is not None and torch.isfinite(s2.grad).all(), "the student's gradient is missing or not finite.")
    c.note("the gradient flows to the student's logits")


def _rtd_batch():
    """Two sequences of 10: [CLS] … [SEP] [PAD]…; chosen positions where the generator sometimes
    sampled the original token back."""
    CLS, SEP, PAD = 2, 3, 0
    original = torch.tensor([[CLS, 11, 12, 13, 14, 15, 16, SEP, PAD, PAD],
                             [CLS, 21, 22, 23, SEP, 24, 25, 26, 27, SEP]])
    attention = (original != PAD).long()
    chosen = torch.zeros_like(original, dtype=torch.bool)
    chosen[0, [1, 3, 5]] = True
    chosen[1, [2, 3, 6, 8]] = True
    corrupted = original.clone()
    corrupted[0, 1], corrupted[0, 3] = 40, 41  # replaced
    # (0, 5): the generator sampled the original token 15 back → not replaced
    corrupted[1, 2], corrupted[1, 8] = 42, 43  # replaced
    # (1, 3) and (1, 6): sampled the originals back
    return original, corrupted, chosen, attention, [0, 1, 2, 3, 4]


@exercise("rtd_labels")
def rtd_labels(c: Check, fn) -> None:
    original, corrupted, chosen, attention, specials = _rtd_batch()
    got = c.call(fn, original, corrupted, chosen, attention, specials,
                 what="rtd_labels(original_ids, corrupted_ids, chosen, attention_mask, special_ids)")
    got = c.expect_torch(got, "rtd_labels")
    c.expect(tuple(got.shape) == tuple(original.shape), f"the labels have shape {tuple(got.shape)}; expected "
             f"{tuple(original.shape)} — one label per token.")
    c.expect(not got.dtype.is_floating_point and got.dtype != torch.bool, f"the labels have dtype {got.dtype}; "
             "expected integers (1 replaced, 0 original, -100 ignored).", "return a torch.long tensor (.long()).")
    ignore = torch.isin(original, torch.tensor(specials)) | (attention == 0)
    replaced = chosen & (corrupted != original)
    expected = ref_rtd_labels(original, corrupted, chosen, attention, specials)
    pad, special = attention == 0, torch.isin(original, torch.tensor(specials)) & (attention == 1)
    if torch.equal(got[~ignore], (~replaced[~ignore]).long()):
        c.fail("the labels are inverted: original tokens got 1 and replaced tokens 0.",
               "ELECTRA's discriminator predicts 'replaced' = 1, 'original' = 0.")
    sampled_back = chosen & (corrupted == original)
    if (got[sampled_back] == 1).any():
        (b, t) = [int(i) for i in sampled_back.nonzero()[0]]
        c.fail(f"position ({b}, {t}) was chosen for the generator, but the generator sampled the original token "
               f"back ({int(original[b, t])}), and you labelled it 1 (replaced).",
               "label = 1 only where the corrupted token differs from the original (corrupted != original), "
               "not at every masked/chosen position: the generator sampled the original token back there.")
    if (got[pad] != -100).any():
        c.fail(f"padding positions have labels {got[pad].tolist()}; expected -100 (not scored).",
               "set the label to -100 where attention_mask == 0: padding must not count in the loss.")
    if (got[special] != -100).any():
        c.fail(f"special tokens ([CLS]/[SEP]) have labels {got[special].tolist()}; expected -100.",
               "set the label to -100 at special tokens: they are never replaced, so scoring them only "
               "rewards a trivial 'original' answer.")
    c.expect_array(got, expected, what="the RTD labels", kind="torch",
                   hint="1 where chosen and corrupted != original, 0 for other real tokens, -100 at padding/specials.")
    c.note("1 = replaced, 0 = original (including tokens sampled back), -100 at padding and specials")
    again = c.call(fn, original, original.clone(), chosen, attention, specials, what="rtd_labels with no replacement")
    c.expect(not (c.expect_torch(again, "rtd_labels") == 1).any(),
             "with corrupted_ids == original_ids, some labels are still 1.", "compare the tokens, not the positions.")


@exercise("albert_embedding_params")
def albert_embedding_params(c: Check, fn) -> None:
    cases = [(30000, 128, 768), (30000, 128, 4096), (100, 4, 8)]
    for v, e, h in cases:
        got = c.call(fn, v, e, h, what=f"albert_embedding_params(V={v}, E={e}, H={h})")
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        c.expect(isinstance(got, (int, np.integer)) and not isinstance(got, bool),
                 f"albert_embedding_params({v}, {e}, {h}) returned {got!r}; expected an int (a number of parameters).",
                 "return an integer count, e.g. V * E + E * H.")
        expected = ref_albert_embedding_params(v, e, h)
        if got == expected:
            continue
        diagnosis = {
            v * e: "you counted only the V×E table: the E×H projection that lifts it to the hidden size is part of "
                   "the factorisation.",
            v * h: "V·H is BERT's (unfactorised) embedding; ALBERT's is a V×E table plus an E×H projection.",
            v * e * h: "the two matrices are added, not multiplied: V·E + E·H.",
            v * h + e * h: "the table is V×E (E is the small embedding size), not V×H.",
            expected + h: "this includes a projection bias of H; the count here is the two weight matrices only.",
            v * e + v * h: "the projection is E×H (from embedding size to hidden size), not V×H.",
        }
        for positions in (512, 514, 128):
            for width, name in ((h, "H"), (e, "E")):
                diagnosis.setdefault(expected + positions * width,
                                     f"this adds position embeddings ({positions}×{name}); the count is only the "
                                     "token embedding: the V×E table and the E×H projection.")
                diagnosis.setdefault(expected + positions * width + 2 * width,
                                     "this adds position and segment embeddings; count only the token embedding's "
                                     "V×E table and E×H projection.")
        c.fail(f"albert_embedding_params(V={v}, E={e}, H={h}) = {got:,}; expected {expected:,}.",
               diagnosis.get(int(got), "count the V×E token table plus the E×H projection weights (no biases, "
                                       "no position/segment embeddings)."))
    v, e, h = cases[0]
    n = ref_albert_embedding_params(v, e, h)
    c.note(f"V·E + E·H: {n:,} parameters instead of BERT's V·H = {v * h:,} ({v * h / n:.1f}× fewer) "
           f"for V={v:,}, E={e}, H={h}")
