"""Chapter 09 checks: the references pass; realistic wrong answers fail with a hint naming the mistake."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bertlab import checks
from bertlab._solutions import solution_source
from bertlab.family import albert, distillation, electra
from tests.conftest import assert_check_passes, assert_check_rejects

NS: dict = {"torch": torch, "F": F}
for _n in ("distillation_loss", "rtd_labels", "albert_embedding_params"):
    exec(solution_source(_n), NS)


def test_references_pass():
    assert_check_passes(checks.distillation_loss, NS["distillation_loss"])
    assert_check_passes(checks.rtd_labels, NS["rtd_labels"])
    assert_check_passes(checks.albert_embedding_params, NS["albert_embedding_params"])


def test_package_versions_pass_the_checks_too():
    assert_check_passes(checks.distillation_loss, distillation.distillation_loss)
    assert_check_passes(checks.rtd_labels, electra.rtd_labels)
    assert_check_passes(checks.albert_embedding_params, albert.albert_embedding_params)


def _distil(t2=True, reverse=False, student_t=True, teacher_t=True, hard=True, swap=False, reduction="batchmean"):
    def fn(s, t, y, T=2.0, alpha=0.5):
        if reverse:
            soft = F.kl_div(F.log_softmax(t / T, -1), F.softmax(s / T, -1), reduction=reduction)
        else:
            soft = F.kl_div(F.log_softmax(s / T if student_t else s, -1), F.softmax(t / T if teacher_t else t, -1),
                            reduction=reduction)
        soft = soft * (T * T if t2 else 1)
        a = 1 - alpha if swap else alpha
        return a * soft + ((1 - a) * F.cross_entropy(s, y) if hard else 0)
    return fn


def distil_no_grad(s, t, y, T=2.0, alpha=0.5):
    return torch.tensor(NS["distillation_loss"](s, t, y, T, alpha).item())


@pytest.mark.filterwarnings("ignore:reduction")  # the reduction='mean' mistake makes torch warn
@pytest.mark.parametrize("wrong, hint", [
    (_distil(t2=False), "t² factor"),
    (_distil(reverse=True), "reversed"),
    (_distil(student_t=False), "student's softmax is taken without the temperature"),
    (_distil(teacher_t=False), "teacher's softmax is taken without the temperature"),
    (_distil(hard=False), "hard labels are ignored"),
    (_distil(swap=True), "swapped"),
    (_distil(reduction="mean"), "batchmean"),
    (distil_no_grad, "gradient"),
])
def test_distillation_loss_rejects(wrong, hint):
    assert_check_rejects(checks.distillation_loss, wrong, hint)


def rtd_all_chosen(o, c, chosen, m, s):
    return chosen.long().masked_fill((m == 0) | torch.isin(o, torch.tensor(list(s))), -100)


def rtd_pad_labelled(o, c, chosen, m, s):
    return (chosen & (c != o)).long().masked_fill(torch.isin(o, torch.tensor(list(s))) & (m == 1), -100)


def rtd_specials_labelled(o, c, chosen, m, s):
    return (chosen & (c != o)).long().masked_fill(m == 0, -100)


def rtd_inverted(o, c, chosen, m, s):
    return (~(chosen & (c != o))).long().masked_fill((m == 0) | torch.isin(o, torch.tensor(list(s))), -100)


def rtd_bool(o, c, chosen, m, s):
    return chosen & (c != o)


@pytest.mark.parametrize("wrong, hint", [
    (rtd_all_chosen, "sampled the original token back"),
    (rtd_pad_labelled, "padding"),
    (rtd_specials_labelled, "special tokens"),
    (rtd_inverted, "inverted"),
    (rtd_bool, "dtype"),
])
def test_rtd_labels_rejects(wrong, hint):
    assert_check_rejects(checks.rtd_labels, wrong, hint)


@pytest.mark.parametrize("wrong, hint", [
    (lambda v, e, h: v * e, "projection"),
    (lambda v, e, h: v * h, "unfactorised"),
    (lambda v, e, h: v * e + e * h + 512 * h, "position embeddings"),
    (lambda v, e, h: v * e + e * h + 512 * e, "position embeddings"),
    (lambda v, e, h: v * e + e * h + h, "bias"),
    (lambda v, e, h: v * e * h, "multiplied"),
    (lambda v, e, h: float(v * e + e * h), "expected an int"),
])
def test_albert_embedding_params_rejects(wrong, hint):
    assert_check_rejects(checks.albert_embedding_params, wrong, hint)
