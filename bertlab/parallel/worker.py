"""The script each worker process runs: ``python -m bertlab.parallel.worker SPEC OUT``.

It reads its rank and the world size from the environment (as set by :func:`bertlab.parallel.launch.launch`
or by ``torchrun``), joins one gloo process group on 127.0.0.1, runs the jobs listed in ``SPEC`` in order
(each is a function ``fn(args, rank, world) -> dict`` named in ``launch.JOBS``) and writes
``OUT/result{rank}.pt``.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bertlab.parallel.worker SPEC OUT   (under bertlab.parallel.launch or torchrun)")
        return 2
    from .launch import JOBS

    spec, out = Path(argv[0]), Path(argv[1])
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    torch.set_num_threads(int(os.environ.get("BERTLAB_WORKER_THREADS", "1")))
    jobs = torch.load(spec, weights_only=True)["jobs"]
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=120))
    try:
        results, seconds = {}, {}
        for name, args in jobs:
            t0 = time.perf_counter()
            module, fn = JOBS[name].split(":")
            results[name] = getattr(importlib.import_module(module), fn)(args, rank, world)
            dist.barrier()  # the next job starts together on every rank
            seconds[name] = time.perf_counter() - t0
        results["_job_seconds"] = seconds
        torch.save(results, out / f"result{rank}.pt")
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
