"""Scale-out: ``python -m bertlab.runs.make_checkpoint`` under torchrun with 2 CPU processes (DistributedDataParallel,
gloo) computes the same losses, step by step, as one process on the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ARGS = ["--steps", "4", "--log-every", "1", "--max-docs", "40", "--no-eval", "--save-every", "0",
        "--batch-size", "8", "--max-len", "32", "--threads", "1", "--seed", "0", "--lr", "3e-3", "--warmup", "1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], out: Path) -> list[dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([*cmd, *ARGS, "--out", str(out)], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "training.json").read_text())["log"]


@pytest.mark.slow
def test_two_process_ddp_losses_match_one_process_on_the_same_global_batch(tmp_path):
    single = _run([sys.executable, "-m", "bertlab.runs.make_checkpoint"], tmp_path / "single")
    ddp = _run([sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
                "--master_addr=127.0.0.1", f"--master_port={_free_port()}", "-m", "bertlab.runs.make_checkpoint"],
               tmp_path / "ddp")
    assert [r["step"] for r in single] == [r["step"] for r in ddp] == [1, 2, 3, 4]
    for one, two in zip(single, ddp):
        # same loss at every step: the same masks, the exact share of each process, averaged gradients
        assert abs(one["mlm"] - two["mlm"]) < 1e-3 and abs(one["nsp"] - two["nsp"]) < 1e-3, (one, two)
    assert ddp[-1]["mlm"] < ddp[0]["mlm"]  # and the steps really trained the model
    assert json.loads((tmp_path / "ddp" / "training.json").read_text())["processes"] == 2
