"""BERT at internet scale, on paper: memory per device, communication and time per step for each scheme.

Every number here is a formula of stated assumptions (printed by :func:`assumptions`), not a measurement.
Chapter 10 checks the formulas against what 2 CPU processes measured where the two overlap (bytes of
parameters, gradients and optimizer state per rank, bytes all-reduced per step, the tensor-parallel
activation all-reduces, the step time from measured speed and bandwidth).

Formulas (N devices, P parameters, L layers, hidden H, heads a, sequence S, global batch B sequences):

- model state per device — DDP: P·(p + g + o) bytes; FSDP / ZeRO-3: P·(p + g + o)/N; tensor parallel: the
  encoder layers' matrices / N, their LayerNorms and row-parallel biases, the embeddings and heads whole;
  pipeline: the largest stage (embeddings + L/N layers).
  fp32 Adam: p = g = 4, o = 8 (two moments) → 16 bytes per parameter; mixed precision (16-bit weights
  and gradients, fp32 master weights and moments): 2 + 2 + 12 = 16 bytes too (Rajbhandari et al. 2020).
- activations per device (16-bit, no recomputation; Korthikanti et al. 2022): S·b·H·(34 + 5·a·S/H) bytes per
  layer for b sequences; tensor parallelism divides all but 10 of the 34 (and the a·S/H term) by N.
- communication sent per device per step (ring collectives): all-reduce of X bytes = 2·(N−1)/N·X;
  all-gather or reduce-scatter = (N−1)/N·X. DDP: one all-reduce of the gradients; FSDP: all-gather
  (forward) + all-gather (backward) + reduce-scatter (gradients) = 3·(N−1)/N·P·bytes; tensor: 4 all-reduces
  of a (B, S, H) activation per layer (2 forward, 2 backward); pipeline: each stage boundary carries the
  activations forward and their gradients back, 2·B·S·H·bytes.
- compute per step: 6 FLOPs per parameter per token (2 forward, 4 backward) for the non-embedding
  parameters, + 6·L·S·H for attention scores (Kaplan et al. 2020), + 6·H·V for the MLM logits at the 15 %
  masked positions; divided over N devices at ``utilization`` × peak. Pipeline: divided by (1 − bubble).
- step time = compute + communication (no overlap: an upper bound; DDP and FSDP overlap much of it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEMES = ("ddp", "fsdp", "tensor", "pipeline")
BYTES_PER_PARAMETER = {  # parameters, gradients, optimizer state (Adam: two moments, + fp32 master in mixed)
    "fp32": {"params": 4, "grads": 4, "optimizer": 8},
    "mixed": {"params": 2, "grads": 2, "optimizer": 12},
}
ACTIVATION_BYTES = {"fp32": 4, "mixed": 2}


@dataclass(frozen=True)
class ModelShape:
    """The sizes that set BERT's cost (BertForPreTraining: encoder, pooler, MLM head tied to the embeddings, NSP)."""

    name: str
    layers: int
    hidden: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int = 512
    type_vocab: int = 2

    @classmethod
    def from_config(cls, config: Any, name: str = "tiny BERT") -> ModelShape:
        """From a :class:`~bertlab.model.BertConfig` (or its dict)."""
        c = config if isinstance(config, dict) else config.__dict__
        return cls(name, c["num_hidden_layers"], c["hidden_size"], c["num_attention_heads"], c["intermediate_size"],
                   c["vocab_size"], c["max_position_embeddings"], c["type_vocab_size"])

    def embedding_parameters(self) -> int:
        """Token, position and segment tables + their LayerNorm."""
        return (self.vocab + self.max_positions + self.type_vocab) * self.hidden + 2 * self.hidden

    def layer_parameters(self) -> int:
        """One encoder layer: Q, K, V, O (H×H + H each), W₁, W₂, two LayerNorms."""
        h, i = self.hidden, self.intermediate
        return 4 * (h * h + h) + (h * i + i) + (i * h + h) + 2 * 2 * h

    def head_parameters(self) -> int:
        """Pooler, MLM transform + LayerNorm + output bias (its matrix is the tied embedding), NSP."""
        h = self.hidden
        return (h * h + h) + (h * h + h) + 2 * h + self.vocab + (2 * h + 2)

    def parameters(self) -> int:
        """All parameters, tied embedding counted once."""
        return self.embedding_parameters() + self.layers * self.layer_parameters() + self.head_parameters()

    def flops_per_token(self, seq: int, mask_rate: float = 0.15) -> float:
        """Training FLOPs per token: 6 per non-embedding parameter, attention scores, MLM logits."""
        dense = self.layers * self.layer_parameters() + self.head_parameters()
        return 6 * dense + 6 * self.layers * seq * self.hidden + 6 * self.hidden * self.vocab * mask_rate


BERT_BASE = ModelShape("BERT-base", layers=12, hidden=768, heads=12, intermediate=3072, vocab=30522)
BERT_LARGE = ModelShape("BERT-large", layers=24, hidden=1024, heads=16, intermediate=4096, vocab=30522)


@dataclass(frozen=True)
class Cluster:
    """N devices with a peak speed, a sustained share of it, memory, and collective bandwidth per device."""

    name: str
    devices: int
    peak_flops: float  # FLOP/s per device
    utilization: float  # sustained share of the peak
    bandwidth: float  # bytes/s each device can send in a collective
    memory: float  # bytes per device


def model_state_bytes(model: ModelShape, scheme: str, devices: int, precision: str = "mixed") -> dict[str, float]:
    """Bytes per device of parameters, gradients and optimizer state (``total`` too) under ``scheme``."""
    per = BYTES_PER_PARAMETER[precision]
    p = model.parameters()
    if scheme == "ddp":
        count = p
    elif scheme == "fsdp":
        count = p / devices
    elif scheme == "tensor":  # split: Q, K, V, W₁ (with biases), W_O, W₂; whole: their output biases, LayerNorms
        whole = 2 * model.hidden + 4 * model.hidden
        split = model.layer_parameters() - whole
        count = model.embedding_parameters() + model.head_parameters() + model.layers * (split / devices + whole)
    elif scheme == "pipeline":
        if devices > model.layers:
            raise ValueError(f"{devices} pipeline stages for {model.layers} layers")
        count = model.embedding_parameters() + -(-model.layers // devices) * model.layer_parameters()
    else:
        raise ValueError(f"unknown scheme {scheme!r}; one of {SCHEMES}")
    out = {k: count * v for k, v in per.items()}
    out["total"] = sum(out.values())
    return out


def activation_bytes(model: ModelShape, scheme: str, devices: int, batch: int, seq: int) -> float:
    """Activations kept for the backward pass per device (16-bit, no recomputation; Korthikanti et al. 2022)."""
    h, a = model.hidden, model.heads
    per_token_layer = 34 * h + 5 * a * seq  # bytes per token per layer
    if scheme in ("ddp", "fsdp"):
        return batch / devices * seq * model.layers * per_token_layer
    if scheme == "tensor":
        return batch * seq * model.layers * (10 * h + (24 * h + 5 * a * seq) / devices)
    if scheme == "pipeline":  # GPipe keeps every micro-batch of its L/N layers
        return batch * seq * -(-model.layers // devices) * per_token_layer
    raise ValueError(f"unknown scheme {scheme!r}")


def communication_bytes(model: ModelShape, scheme: str, devices: int, batch: int, seq: int,
                        precision: str = "mixed") -> float:
    """Bytes each device sends per training step (ring collectives; see the module docstring)."""
    n = devices
    grad = BYTES_PER_PARAMETER[precision]["grads"]
    act = ACTIVATION_BYTES[precision]
    if n == 1:
        return 0.0
    if scheme == "ddp":
        return 2 * (n - 1) / n * model.parameters() * grad
    if scheme == "fsdp":
        return 3 * (n - 1) / n * model.parameters() * BYTES_PER_PARAMETER[precision]["params"]
    if scheme == "tensor":
        return 4 * model.layers * 2 * (n - 1) / n * batch * seq * model.hidden * act
    if scheme == "pipeline":
        return 2 * batch * seq * model.hidden * act
    raise ValueError(f"unknown scheme {scheme!r}")


def step_time(model: ModelShape, scheme: str, cluster: Cluster, batch: int, seq: int, microbatches: int = 32,
              precision: str = "mixed") -> dict[str, float]:
    """Seconds of compute and communication per step, their sum, and steps per second."""
    from .pipeline import bubble_fraction

    flops = model.flops_per_token(seq) * batch * seq
    compute = flops / (cluster.devices * cluster.peak_flops * cluster.utilization)
    if scheme == "pipeline":
        compute /= 1 - bubble_fraction(cluster.devices, microbatches)
    comm = communication_bytes(model, scheme, cluster.devices, batch, seq, precision) / cluster.bandwidth
    return {"compute_s": compute, "comm_s": comm, "step_s": compute + comm, "steps_per_s": 1 / (compute + comm)}


def ddp_break_even_batch(model: ModelShape, cluster: Cluster, seq: int, precision: str = "mixed") -> float:
    """Sequences per device below which DDP's all-reduce takes longer than the compute it parallelises."""
    comm = communication_bytes(model, "ddp", cluster.devices, 1, seq, precision) / cluster.bandwidth
    per_sequence = model.flops_per_token(seq) * seq / (cluster.peak_flops * cluster.utilization)
    return comm / per_sequence


def plan(models: list[ModelShape], clusters: list[Cluster], batch: int, seq: int, microbatches: int = 32,
         precision: str = "mixed", total_steps: int = 1_000_000) -> list[dict[str, Any]]:
    """One row per model × cluster × scheme: memory per device (GB), communication (GB/step), seconds per
    step and days for ``total_steps``; ``fits`` says whether model state + activations fit in memory."""
    rows = []
    for m in models:
        for c in clusters:
            for scheme in SCHEMES:
                if scheme == "pipeline" and c.devices > m.layers:
                    continue
                if scheme == "tensor" and m.heads % c.devices:
                    continue
                state = model_state_bytes(m, scheme, c.devices, precision)["total"]
                acts = activation_bytes(m, scheme, c.devices, batch, seq)
                t = step_time(m, scheme, c, batch, seq, microbatches, precision)
                rows.append({"model": m.name, "cluster": c.name, "scheme": scheme, "state_GB": state / 1e9,
                             "activations_GB": acts / 1e9, "fits": state + acts <= c.memory,
                             "comm_GB": communication_bytes(m, scheme, c.devices, batch, seq, precision) / 1e9,
                             "compute_s": t["compute_s"], "comm_s": t["comm_s"], "step_s": t["step_s"],
                             "days": t["step_s"] * total_steps / 86400})
    return rows


def format_plan(rows: list[dict[str, Any]]) -> str:
    """The rows of :func:`plan` as a fixed-width table."""
    head = (f"{'model':<11}{'cluster':<22}{'scheme':<9}{'state GB':>9}{'activ. GB':>10}{'fits':>6}"
            f"{'comm GB':>9}{'compute s':>10}{'comm s':>9}{'step s':>9}{'days/1M':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['model']:<11}{r['cluster']:<22}{r['scheme']:<9}{r['state_GB']:>9.2f}{r['activations_GB']:>10.1f}"
                     f"{'yes' if r['fits'] else 'NO':>6}{r['comm_GB']:>9.2f}{r['compute_s']:>10.3f}{r['comm_s']:>9.3f}"
                     f"{r['step_s']:>9.3f}{r['days']:>9.1f}")
    return "\n".join(lines)


def assumptions(clusters: list[Cluster], batch: int, seq: int, microbatches: int, precision: str) -> str:
    """The assumptions behind a :func:`plan`, as text to print beside it."""
    per = BYTES_PER_PARAMETER[precision]
    lines = [f"precision: {precision} — {per['params']} B weights + {per['grads']} B gradients + {per['optimizer']} B "
             f"Adam state per parameter; activations {ACTIVATION_BYTES[precision]} B per value",
             f"global batch: {batch} sequences × {seq} tokens; pipeline: {microbatches} micro-batches (GPipe)",
             "compute: 6 FLOPs per parameter per token + attention + MLM logits, spread evenly over the devices",
             "communication: ring collectives, not overlapped with compute (an upper bound on the step time)"]
    for c in clusters:
        lines.append(f"{c.name}: {c.devices} devices × {c.peak_flops / 1e12:.0f} TFLOP/s peak at "
                     f"{c.utilization:.0%}, {c.memory / 1e9:.0f} GB each, {c.bandwidth / 1e9:.1f} GB/s per device "
                     "in collectives")
    return "\n".join(lines)
