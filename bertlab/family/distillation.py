"""DistilBERT (Sanh et al., 2019) and knowledge distillation (Hinton et al., 2015): a student trained on a
teacher's temperature-softened probabilities."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..finetuning import FineTuneResult, fine_tune, predict_logits
from ..model import BertConfig, BertForSequenceClassification


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
           alpha: float = 0.5, teacher_logits: torch.Tensor | None = None, **fine_tune_kwargs) -> FineTuneResult:
    """Train ``student`` on :func:`distillation_loss` against ``teacher``'s logits on ``train`` (computed once,
    in eval mode, unless given as ``teacher_logits`` (N, C)), with the fine-tuning recipe of
    :func:`bertlab.finetuning.fine_tune`.

    With ``alpha=1`` only the teacher's soft targets count, so ``train`` may be an *unlabelled* transfer set
    (its ``labels`` are then ignored by the loss; fill them with the teacher's predictions)."""
    if teacher_logits is None:
        teacher_logits = predict_logits(teacher, train)  # (N, C)
    elif len(teacher_logits) != len(train["input_ids"]):
        raise ValueError(f"teacher_logits has {len(teacher_logits)} rows but train has {len(train['input_ids'])}")

    def loss_fn(logits: torch.Tensor, batch: dict, idx: torch.Tensor) -> torch.Tensor:
        return distillation_loss(logits, teacher_logits[idx], batch["labels"], temperature, alpha)

    return fine_tune(student, train, loss_fn=loss_fn, **fine_tune_kwargs)
