"""Throughput of bertlab's encoder vs transformers.BertModel (its default sdpa attention) on MiniLM.

    .venv/bin/python benchmarks/encoder_throughput.py [--threads 2] [--rounds 6]

Same process, same weights, batch 32 × 128 tokens, no gradients; the two models run alternately so
machine noise hits both alike. Prints the median time per forward pass and the ratio (goal ≥ 1.0×).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import transformers
    from transformers import BertModel as HFBertModel

    from bertlab.weights import load_pretrained, minilm_path

    transformers.logging.disable_progress_bar()
    ours, _ = load_pretrained(minilm_path())
    theirs = HFBertModel.from_pretrained(str(minilm_path())).eval()  # default attention implementation (sdpa)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 30000, (args.batch, args.seq), generator=g)
    mask = torch.ones_like(ids)
    mask[: args.batch // 2, args.seq * 3 // 4:] = 0  # half the batch padded: the mask path is exercised
    times: dict[str, list[float]] = {"bertlab": [], "transformers": []}
    with torch.inference_mode():
        for m in (ours, theirs):  # warm-up
            m(input_ids=ids, attention_mask=mask)
        for _ in range(args.rounds):
            for name, m in (("bertlab", ours), ("transformers", theirs)):
                t0 = time.perf_counter()
                m(input_ids=ids, attention_mask=mask)
                times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    tokens = args.batch * args.seq
    for k, v in med.items():
        print(f"{k:>12}: {v * 1000:7.1f} ms per forward ({tokens / v:,.0f} tokens/s)")
    print(f"ratio (transformers time / bertlab time): {med['transformers'] / med['bertlab']:.2f}× "
          f"({args.threads} threads, batch {args.batch} × {args.seq})")


if __name__ == "__main__":
    main()
