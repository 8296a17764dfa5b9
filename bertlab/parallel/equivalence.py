"""Every scheme against one process: the comparison behind chapter 10, its tests and
``benchmarks/parallel_equivalence.py``.

:func:`run_schemes` starts the worker processes once for all four schemes; :func:`differences` recomputes
the same work in this process and returns, per scheme, the largest absolute difference:

- DDP and FSDP: the loss at every step and every weight after the last AdamW step;
- tensor: the Megatron layer's output (by hand) and the loss and every gradient (``parallelize_module``);
- pipeline: the loss (mean of the micro-batches') and every gradient of the pipelined stages.
"""

from __future__ import annotations

from typing import Any

import torch

from ..pretraining import pretraining_loss
from .data_parallel import train_one_process
from .launch import launch
from .pipeline import nsp_loss_and_grads
from .workload import build_model, max_abs_diff, threads

SCHEMES = ("ddp", "fsdp", "tensor", "pipeline")
TOLERANCE = 1e-5


def run_schemes(workload: dict[str, Any], schemes: tuple[str, ...] = SCHEMES, world_size: int = 2,
                microbatches: tuple[int, ...] = (4,), timing_batch: dict[str, torch.Tensor] | None = None,
                repeats: int = 1, hello: bool = False, timeout: float = 300.0) -> dict[str, Any]:
    """Run ``schemes`` on ``world_size`` processes in one launch; ``launch`` results by scheme name."""
    jobs: dict[str, dict[str, Any]] = {"hello": {}} if hello else {}
    for name in schemes:
        jobs[name] = {"workload": workload}
    if "pipeline" in schemes:
        jobs["pipeline"].update(microbatches=list(microbatches), repeats=repeats,
                                timing_batch=timing_batch if timing_batch is not None else workload["batches"][0])
    return launch(jobs, world_size=world_size, timeout=timeout)


def differences(workload: dict[str, Any], results: dict[str, Any], one_process: dict[str, Any] | None = None,
                num_threads: int | None = 1) -> dict[str, float]:
    """Largest |parallel − one process| per scheme present in ``results`` (see the module docstring).

    ``one_process``: :func:`~bertlab.parallel.data_parallel.train_one_process` output, if already computed.
    The one-process work runs with ``num_threads`` threads.
    """
    with threads(num_threads):
        return _differences(workload, results, one_process)


def _differences(workload: dict[str, Any], results: dict[str, Any], one_process: dict[str, Any] | None) -> dict[str, float]:
    diffs: dict[str, float] = {}
    if "ddp" in results or "fsdp" in results:
        one_process = one_process or train_one_process(workload)
    for name in ("ddp", "fsdp"):
        if name in results:
            rank0 = results[name][0]
            diffs[name] = max(max_abs_diff(rank0["losses"], one_process["losses"]),
                              max_abs_diff(rank0["state"], one_process["state"]))
            if name == "ddp":  # the hand-made all-reduce must agree too
                diffs[name] = max(diffs[name], max_abs_diff(rank0["manual_losses"], one_process["losses"]),
                                  max_abs_diff(rank0["manual_state"], one_process["state"]))
    if "tensor" in results:
        rank0 = results["tensor"][0]
        batch = workload["batches"][0]
        model = build_model(workload)
        with torch.no_grad():
            x = model.bert.embeddings(batch["input_ids"], batch["token_type_ids"])
            layer_out = model.bert.encoder.layer[0](x, batch["attention_mask"])
        loss = pretraining_loss(model, batch)[0]
        loss.backward()
        grads = {n: p.grad for n, p in model.named_parameters()}
        diffs["tensor"] = max(max_abs_diff(rank0["layer_output"], layer_out), abs(rank0["loss"] - loss.item()),
                              max_abs_diff(rank0["grads"], grads))
    if "pipeline" in results:
        loss, grads = nsp_loss_and_grads(build_model(workload), workload["batches"][0])
        stages = results["pipeline"]
        piped = {name: g for stage in stages for name, g in stage["grads"].items()}
        losses = stages[-1]["losses"]
        diffs["pipeline"] = max(abs(sum(losses) / len(losses) - loss), max_abs_diff(piped, grads))
    return diffs


def equivalence_line(diffs: dict[str, float]) -> str:
    """``parallel equivalence: DDP 1.2e-07, FSDP …, tensor …, pipeline …``"""
    label = {"ddp": "DDP", "fsdp": "FSDP", "tensor": "tensor", "pipeline": "pipeline"}
    return "parallel equivalence: " + ", ".join(f"{label[k]} {diffs[k]:.1e}" for k in SCHEMES if k in diffs)
