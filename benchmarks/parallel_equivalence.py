"""Data, sharded, tensor and pipeline parallelism on 2 CPU processes (gloo, loopback) against one process.

    .venv/bin/python benchmarks/parallel_equivalence.py [--steps 3] [--batch 16] [--seed 0]

The workload is chapter 10's: a 4-layer tiny BERT (hidden 128, 4 heads, the course's 8,000-token
vocabulary, no dropout) on masked KJV sentence pairs (MLM + NSP). One launch of 2 processes runs, with
PyTorch's own engines:

- ``DistributedDataParallel`` — AdamW steps on the two halves of each global batch (and the same with a
  hand-written gradient all-reduce): losses at every step and final weights;
- ``fully_shard`` (FSDP2) — the same steps, parameters / gradients / Adam state sharded: losses and weights;
- ``parallelize_module`` with ``ColwiseParallel`` / ``RowwiseParallel`` (Megatron split of every encoder layer)
  — loss and every gradient; plus the first layer split by hand (output);
- ``torch.distributed.pipelining`` (``PipelineStage`` + ``ScheduleGPipe``, 2 stages, 4 micro-batches) — the NSP
  loss and every gradient.

The same work is then done in this process. Prints per scheme the largest |difference| and, last, one line
``parallel equivalence: DDP <max|diff|>, FSDP <…>, tensor <…>, pipeline <…>``; exits 1 if any exceeds 1e-5.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="AdamW steps for DDP and FSDP")
    parser.add_argument("--batch", type=int, default=16, help="global batch (sentence pairs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="threads per process (and for the reference)")
    args = parser.parse_args(argv)

    from bertlab.parallel import data_parallel, equivalence
    from bertlab.parallel.workload import make_workload

    t0 = time.perf_counter()
    workload = make_workload(steps=args.steps, batch_size=args.batch, seed=args.seed)
    results = equivalence.run_schemes(workload, microbatches=(4,), repeats=1)
    print(f"2 processes (gloo, 127.0.0.1): {results['_seconds']:.1f} s including start-up; per job on rank 0: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in results["_job_seconds"][0].items()))
    one = data_parallel.train_one_process(workload, threads=args.threads)
    diffs = equivalence.differences(workload, results, one)
    ddp, fsdp = results["ddp"][0], results["fsdp"][0]
    print(f"one process: losses {[round(x, 6) for x in one['losses']]}")
    print(f"DDP:         losses {[round(x, 6) for x in ddp['losses']]}; all-reduced {ddp['bytes_per_step']:,.0f} bytes "
          f"per step = {ddp['parameters']:,} parameters × 4")
    print(f"FSDP:        losses {[round(x, 6) for x in fsdp['losses']]}; bytes per rank (params + grads + Adam) "
          f"{fsdp['memory']['total']:,} vs DDP {ddp['memory']['total']:,}")
    print(f"tensor:      loss {results['tensor'][0]['loss']:.6f}; Megatron layer by hand: "
          f"{results['tensor'][0]['manual_allreduce_calls']} all-reduces")
    print(f"pipeline:    micro-batch losses {[round(x, 6) for x in results['pipeline'][1]['losses']]}")
    print(f"({time.perf_counter() - t0:.1f} s in all; tolerance {equivalence.TOLERANCE:g})")
    print(equivalence.equivalence_line(diffs))
    return 0 if all(d <= equivalence.TOLERANCE for d in diffs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
