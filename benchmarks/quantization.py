"""Which int8 tool on a CPU? One MiniLM-sized feed-forward block (384 → 1536 → 384, GELU) on 4,096 tokens:
fp32 vs ``torch.ao.quantization.quantize_dynamic`` (one scale per matrix, and per output channel — what
``bertlab.family.quantization.quantize_int8`` calls) vs ``torchao`` (int8 dynamic, int8 weight-only) when it is
installed (it is not part of the course's requirements; ``pip install torchao`` to add those rows).

    .venv/bin/python benchmarks/quantization.py [--threads 2] [--rounds 15] [--out data/quantization_benchmark.json]

The variants run in interleaved rounds (A, B, C, A, B, C, …) so that a busy moment of a shared machine hits all
alike; prints the median milliseconds per forward pass and writes them, with the command, thread count and
library versions, to the JSON file chapter 09 quotes.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

OUT = Path(__file__).resolve().parents[1] / "data" / "quantization_benchmark.json"


def ffn(hidden: int = 384, inner: int = 1536) -> nn.Module:
    """BERT's feed-forward block without its LayerNorm: Linear → GELU → Linear."""
    return nn.Sequential(nn.Linear(hidden, inner), nn.GELU(), nn.Linear(inner, hidden)).eval()


def torchao_variants(model: nn.Module) -> tuple[dict[str, nn.Module], str]:
    """torchao's int8 dynamic and int8 weight-only versions of ``model``, or none if torchao is not installed."""
    try:
        import torchao
        from torchao.quantization import quantize_
    except ImportError:
        return {}, "not installed"
    try:
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, Int8WeightOnlyConfig
        configs = {"torchao int8 dynamic": Int8DynamicActivationInt8WeightConfig(),
                   "torchao int8 weight-only": Int8WeightOnlyConfig()}
    except ImportError:  # older torchao names
        from torchao.quantization import int8_dynamic_activation_int8_weight, int8_weight_only
        configs = {"torchao int8 dynamic": int8_dynamic_activation_int8_weight(),
                   "torchao int8 weight-only": int8_weight_only()}
    out = {}
    for name, config in configs.items():
        m = copy.deepcopy(model)
        quantize_(m, config)
        out[name] = m
    return out, torchao.__version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from bertlab.family.quantization import quantize_int8

    torch.manual_seed(0)
    model = ffn()
    x = torch.randn(args.tokens, 384)
    variants = {"fp32": model, "torch.ao quantize_dynamic int8 (per matrix)": quantize_int8(model, per_channel=False),
                "torch.ao quantize_dynamic int8 (per channel)": quantize_int8(model, per_channel=True)}
    extra, torchao_version = torchao_variants(model)
    variants.update(extra)
    times: dict[str, list[float]] = {name: [] for name in variants}
    with torch.inference_mode():
        for m in variants.values():  # warm-up
            m(x)
        for _ in range(args.rounds):
            for name, m in variants.items():
                t0 = time.perf_counter()
                m(x)
                times[name].append((time.perf_counter() - t0) * 1e3)
    ms = {name: statistics.median(t) for name, t in times.items()}
    for name, v in ms.items():
        print(f"{name:46s} {v:7.1f} ms  ({ms['fp32'] / v:.2f}× fp32 speed)")
    command = ("python benchmarks/quantization.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    record = {"command": command, "threads": args.threads, "rounds": args.rounds, "tokens": args.tokens,
              "shape": "384 → 1536 → 384 (Linear, GELU, Linear)", "ms": ms, "torch": torch.__version__,
              "torchao": torchao_version, "python": platform.python_version(), "machine": platform.machine(),
              "note": "median of interleaved rounds on a 2-core machine shared with other work"}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print("written", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
