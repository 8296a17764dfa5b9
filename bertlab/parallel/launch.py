"""Start N CPU processes (gloo) from a notebook, a test or a script, and collect what they return.

    results = launch({"hello": {}, "ddp": {...}}, world_size=2)
    results["ddp"][0]        # what rank 0's ``ddp_worker`` returned (a dict)

Each process is a fresh ``python -m bertlab.parallel.worker SPEC OUT`` with the environment variables
that ``torchrun`` would set (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR=127.0.0.1``, ``MASTER_PORT``), so it
works the same in JupyterLab, under nbval, in pytest and from a terminal: nothing is pickled from the
notebook's ``__main__`` (which ``multiprocessing``'s *spawn* cannot re-import from a kernel). The jobs
and their arguments travel in a file written with ``torch.save`` and read back with
``weights_only=True``; so do the results. Everything stays on the loopback interface.

The same worker runs under torchrun by hand::

    torchrun --nproc_per_node=2 -m bertlab.parallel.worker spec.pt out/
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

# job name -> "module:function"; each function is called as fn(args: dict, rank: int, world: int) -> dict
JOBS: dict[str, str] = {
    "hello": "bertlab.parallel.launch:hello_worker",
    "ddp": "bertlab.parallel.data_parallel:ddp_worker",
    "fsdp": "bertlab.parallel.sharded:fsdp_worker",
    "tensor": "bertlab.parallel.tensor_parallel:tensor_worker",
    "pipeline": "bertlab.parallel.pipeline:pipeline_worker",
}


class LaunchError(RuntimeError):
    """The worker processes could not be started, or one of them failed (the message says which and why)."""


def can_launch() -> tuple[bool, str]:
    """Whether this torch build can run CPU process groups here, and if not, why (a sentence for the learner)."""
    if not torch.distributed.is_available():
        return False, ("this PyTorch build has no torch.distributed (some macOS/Windows/mobile builds); install the "
                       "CPU wheel from pytorch.org (requirements.txt pins one) to run the multi-process cells.")
    if not torch.distributed.is_gloo_available():
        return False, "this PyTorch build has no gloo backend, which CPU process groups need."
    return True, "gloo on CPU is available"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for MASTER_PORT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _loopback_interface() -> str | None:
    """The loopback interface's name ('lo' on Linux, 'lo0' on macOS), so gloo never binds to a real network."""
    try:
        names = [name for _, name in socket.if_nameindex()]
    except (OSError, AttributeError):  # Windows has no if_nameindex on older Pythons
        return None
    for candidate in ("lo", "lo0"):
        if candidate in names:
            return candidate
    return None


def worker_env(rank: int, world_size: int, port: int, threads: int = 1) -> dict[str, str]:
    """The environment torchrun would give rank ``rank``: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])  # the repository, so `-m bertlab…` always resolves
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_WORLD_SIZE=str(world_size),
               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS=str(threads),
               BERTLAB_WORKER_THREADS=str(threads))
    lo = _loopback_interface()
    if lo and "GLOO_SOCKET_IFNAME" not in os.environ:
        env["GLOO_SOCKET_IFNAME"] = lo
    return env


def launch(jobs: dict[str, dict[str, Any]], world_size: int = 2, threads: int = 1,
           timeout: float = 300.0) -> dict[str, list[dict[str, Any]]]:
    """Run ``jobs`` (name → arguments) in ``world_size`` processes, one process group, in the order given.

    Returns ``{name: [result of rank 0, result of rank 1, …]}`` plus ``"_job_seconds"`` (per rank: seconds
    of each job) and ``"_seconds"`` (the whole wall time, including the processes' start-up). Raises
    :class:`LaunchError` naming the failing rank and the end of its error output, or explaining why this
    platform cannot start the processes.
    """
    ok, why = can_launch()
    if not ok:
        raise LaunchError(f"cannot start {world_size} processes: {why}")
    unknown = [name for name in jobs if name not in JOBS]
    if unknown:
        raise ValueError(f"unknown job(s) {unknown}; known: {sorted(JOBS)}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bertlab-parallel-") as tmp:
        spec, out = Path(tmp) / "spec.pt", Path(tmp) / "out"
        out.mkdir()
        torch.save({"jobs": list(jobs.items())}, spec)
        port = free_port()
        procs, logs = [], []
        for rank in range(world_size):
            log = open(out / f"rank{rank}.log", "w+b")  # closed below
            logs.append(log)
            procs.append(subprocess.Popen([sys.executable, "-m", "bertlab.parallel.worker", str(spec), str(out)],
                                          env=worker_env(rank, world_size, port, threads), stdout=log,
                                          stderr=subprocess.STDOUT))
        failed: list[tuple[int, str]] = []
        try:
            deadline = time.perf_counter() + timeout
            while any(p.poll() is None for p in procs):
                if any(p.returncode not in (None, 0) for p in procs) or time.perf_counter() > deadline:
                    break  # one rank died (the others would wait for it forever) or time is up
                time.sleep(0.05)
        finally:
            for p in procs:  # stop only the processes started here
                if p.poll() is None:
                    p.kill()
                    p.wait()
            for rank, (p, log) in enumerate(zip(procs, logs)):
                if p.returncode != 0:
                    log.seek(0)
                    failed.append((rank, log.read().decode(errors="replace")[-2500:]))
                log.close()
        if failed:
            timed_out = time.perf_counter() - t0 > timeout
            # the rank that failed first has a traceback; the others only lost their connection to it
            rank, tail = next(((r, t) for r, t in failed if "Traceback" in t and "by peer" not in t),
                              next(((r, t) for r, t in failed if "Traceback" in t), failed[0]))
            raise LaunchError(
                (f"the {world_size} worker processes did not finish within {timeout:.0f} s" if timed_out else
                 f"worker rank {rank} of {world_size} failed") + f"; its output ends with:\n{tail}")
        results: dict[str, Any] = {name: [] for name in [*jobs, "_job_seconds"]}
        for rank in range(world_size):
            got = torch.load(out / f"result{rank}.pt", weights_only=True)
            for name in results:
                results[name].append(got[name])
    results["_seconds"] = time.perf_counter() - t0
    return results


def hello_worker(args: dict, rank: int, world: int) -> dict:
    """The smallest collective: each rank contributes ``rank + 1``; after ``all_reduce`` every rank holds the sum."""
    import torch.distributed as dist

    x = torch.tensor([float(rank + 1)])
    before = x.item()
    dist.all_reduce(x)  # default op: SUM, in place, on every rank
    return {"rank": rank, "world": world, "pid": os.getpid(), "before": before, "after": x.item(),
            "backend": dist.get_backend()}
