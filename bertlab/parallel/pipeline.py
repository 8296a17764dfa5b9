"""Pipeline parallelism (GPipe, Huang et al. 2019): consecutive layers on consecutive processes.

With p stages and the batch cut into m micro-batches, GPipe runs all m forwards through the stages, then
all m backwards in reverse, then one optimizer step. Stage s can start micro-batch 1 only after stage
s − 1 has finished it, so at the start and at the turn-around every stage waits: with equal stage times
the idle share of the p × (time of the step) stage-seconds — the *bubble* — is

    bubble = (p − 1) / (m + p − 1)

(m = 1: only one stage works at a time; m → ∞: the bubble vanishes). The price: activations of all m
micro-batches are stored until their backward. The gradients are those of the whole batch (each
micro-batch's gradient is scaled by 1/m and accumulated), so pipelining leaves the maths unchanged.

:class:`BertStage` cuts the course's BERT into stages that ``torch.distributed.pipelining`` runs
(``PipelineStage`` + ``ScheduleGPipe``) and records when each micro-batch's forward and backward ran
(the timeline); :func:`measured_bubble` turns a timeline into the idle share.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .workload import build_model

Event = tuple[int, str, int, float, float]  # (stage, "F" or "B", micro-batch, start, end) — seconds


def bubble_fraction(stages: int, microbatches: int) -> float:
    """GPipe's idle share with equal stage times: (p − 1) / (m + p − 1)."""
    return (stages - 1) / (microbatches + stages - 1)


def gpipe_timeline(stages: int, microbatches: int, forward: float | Sequence[float] = 1.0,
                   backward: float | Sequence[float] = 2.0) -> list[Event]:
    """The GPipe schedule as ``torch.distributed.pipelining.ScheduleGPipe`` runs it: all forwards, then the
    backwards in micro-batch order 0 … m − 1, each stage waiting only for its neighbour.

    ``forward`` / ``backward``: seconds per micro-batch, one number for every stage or one per stage.
    Returns events ``(stage, kind, micro-batch, start, end)``.
    """
    fwd = [float(forward)] * stages if isinstance(forward, (int, float)) else [float(t) for t in forward]
    bwd = [float(backward)] * stages if isinstance(backward, (int, float)) else [float(t) for t in backward]
    events: list[Event] = []
    f_end = [[0.0] * microbatches for _ in range(stages)]
    for s in range(stages):
        for i in range(microbatches):
            start = max(f_end[s][i - 1] if i else 0.0, f_end[s - 1][i] if s else 0.0)
            f_end[s][i] = start + fwd[s]
            events.append((s, "F", i, start, f_end[s][i]))
    b_end = [[0.0] * microbatches for _ in range(stages)]
    for s in reversed(range(stages)):
        for i in range(microbatches):
            start = max(b_end[s][i - 1] if i else f_end[s][-1], b_end[s + 1][i] if s < stages - 1 else 0.0)
            b_end[s][i] = start + bwd[s]
            events.append((s, "B", i, start, b_end[s][i]))
    return events


def stage_times(events: Sequence[Event]) -> tuple[list[float], list[float]]:
    """Mean forward and backward seconds per micro-batch of each stage, from a (measured) timeline."""
    stages = sorted({e[0] for e in events})

    def mean(kind: str, s: int) -> float:
        d = [e[4] - e[3] for e in events if e[0] == s and e[1] == kind]
        return sum(d) / len(d)

    return [mean("F", s) for s in stages], [mean("B", s) for s in stages]


def measured_bubble(events: Sequence[Event]) -> float:
    """1 − (busy stage-seconds) / (stages × span), span = first start to last end over all stages."""
    stages = len({e[0] for e in events})
    span = max(e[4] for e in events) - min(e[3] for e in events)
    busy = sum(e[4] - e[3] for e in events)
    return 1.0 - busy / (stages * span)


def plot_timeline(events: Sequence[Event], ax=None, title: str = ""):
    """Draw a timeline: one row per stage, forward boxes light, backward boxes dark, micro-batch numbers inside."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    t0 = min(e[3] for e in events)
    stages = sorted({e[0] for e in events})
    for stage, kind, mb, start, end in events:
        colour = plt.cm.tab10(mb % 10)
        ax.barh(stage, end - start, left=start - t0, color=colour, alpha=0.45 if kind == "F" else 0.95,
                edgecolor="black", linewidth=0.5)
        ax.text((start + end) / 2 - t0, stage, f"{kind}{mb}", ha="center", va="center", fontsize=7)
    ax.set_yticks(stages, [f"stage {s}" for s in stages])
    ax.invert_yaxis()
    ax.set_xlabel("time")
    ax.set_title(title or f"bubble {measured_bubble(events):.0%}")
    return ax


class _Stamp(torch.autograd.Function):
    """Identity whose backward records the moment the gradient passes (to time a stage's backward)."""

    @staticmethod
    def forward(ctx, x, clock, tag):
        ctx.clock, ctx.tag = clock, tag
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        ctx.clock.append((ctx.tag, time.perf_counter()))
        return grad, None, None


class BertStage(nn.Module):
    """Encoder layers ``first … last − 1`` of a BERT model as one pipeline stage, with the embeddings on the first
    stage and the pooler + NSP head on the last. Shares its parameters with ``model``.

    First stage: ``(input_ids, token_type_ids, attention_mask)`` → ``(hidden (B, T, H), mask as float)``;
    middle stages: ``(hidden, mask)`` → ``(hidden, mask)``; last stage: → NSP logits (B, 2).
    ``clock`` (a list) collects (tag, time) records from which :meth:`timeline` builds the events.
    """

    def __init__(self, model: nn.Module, first: int, last: int, is_first: bool, is_last: bool):
        super().__init__()
        bert = model.bert
        self.embeddings = bert.embeddings if is_first else None
        self.layers = nn.ModuleList(bert.encoder.layer[first:last])
        self.pooler, self.head = (bert.pooler, model.nsp) if is_last else (None, None)
        self.clock: list = []
        self._calls = 0

    def forward(self, *inputs: torch.Tensor):
        start, mb = time.perf_counter(), self._calls
        self._calls += 1
        if self.embeddings is not None:
            input_ids, token_type_ids, mask = inputs
            x = self.embeddings(input_ids, token_type_ids)
        else:
            x, mask = inputs
        x = _Stamp.apply(x, self.clock, ("B_end", mb))  # the gradient reaches the stage's input: backward done
        for layer in self.layers:
            x = layer(x, mask)
        out = self.head(self.pooler(x)) if self.head is not None else x
        out = _Stamp.apply(out, self.clock, ("B_start", mb))  # the gradient arrives: backward starts
        self.clock.append((("F", mb), start, time.perf_counter()))
        return out if self.head is not None else (out, mask.float())

    def reset_clock(self) -> None:
        self.clock.clear()
        self._calls = 0

    def timeline(self, stage: int) -> list[Event]:
        """This stage's events ``(stage, kind, micro-batch, start, end)`` since the last :meth:`reset_clock`."""
        events: list[Event] = [(stage, "F", tag[1], t0, t1) for tag, t0, t1 in
                               (r for r in self.clock if len(r) == 3)]
        starts = {tag[1]: t for tag, t in (r for r in self.clock if len(r) == 2) if tag[0] == "B_start"}
        ends = {tag[1]: t for tag, t in (r for r in self.clock if len(r) == 2) if tag[0] == "B_end"}
        events += [(stage, "B", mb, starts[mb], ends[mb]) for mb in sorted(starts) if mb in ends]
        return events


def split_stages(model: nn.Module, stages: int, stage: int) -> BertStage:
    """Stage ``stage`` of ``stages``: the encoder layers divided as evenly as possible, in order."""
    n = len(model.bert.encoder.layer)
    if not 1 <= stages <= n:
        raise ValueError(f"cannot cut {n} layers into {stages} stages")
    bounds = [round(i * n / stages) for i in range(stages + 1)]
    return BertStage(model, bounds[stage], bounds[stage + 1], stage == 0, stage == stages - 1)


def nsp_loss_and_grads(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[float, dict[str, torch.Tensor]]:
    """One process: the NSP loss of the whole ``batch`` (B rows) and the gradients it gives ``{name: grad}``."""
    model.zero_grad(set_to_none=True)
    out = model.bert(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
    loss = F.cross_entropy(model.nsp(out.pooler_output), batch["next_sentence_label"])
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return loss.item(), grads


def _nsp_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels)


def pipeline_worker(args: dict[str, Any], rank: int, world: int) -> dict[str, Any]:
    """One stage of the pipeline demo (rank = stage), with ``ScheduleGPipe``:

    1. equivalence: one step on the workload's first batch with ``args["microbatches"][0]`` micro-batches —
       the losses of the micro-batches (last stage) and this stage's gradients (named as in the model);
    2. timing: for each m in ``args["microbatches"]``, ``args["repeats"]`` steps on ``args["timing_batch"]``
       (after one warm-up step), each step's timeline of this stage.
    """
    from torch.distributed.pipelining import PipelineStage, ScheduleGPipe

    workload = args["workload"]
    model = build_model(workload)
    names = {id(p): n for n, p in model.named_parameters()}
    module = split_stages(model, world, rank)
    is_last = rank == world - 1

    def run_step(schedule, batch, losses=None) -> None:
        module.zero_grad(set_to_none=True)
        if rank == 0:
            schedule.step(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
        elif is_last:
            schedule.step(target=batch["next_sentence_label"], losses=losses)
        else:
            schedule.step()

    def schedule_for(m: int):  # a stage fixes its message shapes at its first step: one per batch shape
        return ScheduleGPipe(PipelineStage(module, rank, world, torch.device("cpu")), n_microbatches=m,
                             loss_fn=_nsp_loss)  # the micro-batches' gradients are scaled by 1/m

    out: dict[str, Any] = {"stage": rank, "layers": len(module.layers), "timelines": {}}
    losses: list = []
    run_step(schedule_for(args["microbatches"][0]), workload["batches"][0], losses)
    out["grads"] = {names[id(p)]: p.grad.detach().clone() for p in module.parameters() if p.grad is not None}
    out["losses"] = [x.item() for x in losses] if is_last else []
    for m in args["microbatches"]:
        schedule = schedule_for(m)
        run_step(schedule, args["timing_batch"])  # warm-up
        runs = []
        for _ in range(args.get("repeats", 3)):
            module.reset_clock()
            torch.distributed.barrier()
            run_step(schedule, args["timing_batch"])
            runs.append(module.timeline(rank))
        out["timelines"][m] = runs
    return out
