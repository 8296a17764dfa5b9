"""Pre-train the course's tiny BERT from the command line (chapter 05), single process or with torchrun.

    python -m bertlab.runs.pretrain --config tiny --minutes 20 --out runs/tiny-bert [--seed 0 --threads 1]
    torchrun --nproc_per_node=2 -m bertlab.runs.pretrain --config tiny --minutes 5 --out runs/ddp

Writes a Hugging Face-format folder (config.json, model.safetensors, vocab.txt) that
``bertlab.weights.load_pretrained`` and ``transformers.BertForPreTraining`` both load, plus
``training.json`` (recipe, steps, seconds, held-out accuracies and baselines). Under torchrun, each of
the N processes takes batch_size / N examples of every global batch and DistributedDataParallel
averages the gradients (gloo on CPU, nccl on GPU).

The loop is :func:`bertlab.pretraining.train`'s recipe (the same toolkit: no-decay groups, warm-up + linear
decay, clipping, dynamic masking) plus what only a long, distributed run needs — each process's share of
the global batch with the MLM loss weighted by the global count, a wall-clock deadline broadcast to every
process, periodic checkpoints — so it stays a loop of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

import torch

from .. import data
from ..course_vocab import course_tokenizer
from ..model import BertForPreTraining
from ..pretraining import (
    IGNORE_INDEX,
    baselines,
    evaluate,
    fixed_eval_batches,
    make_nsp_pairs,
    masked_batch,
    pretraining_loss,
    tiny_config,
    tokenize_documents,
)
from ..training.param_groups import no_decay_groups
from ..training.schedule import warmup_linear_schedule
from ..weights import save_pretrained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pre-train the course's tiny BERT (MLM + NSP)")
    parser.add_argument("--config", default="tiny", choices=["tiny"])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--steps", type=int, default=100_000, help="upper bound; --minutes usually stops first")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch (split across processes)")
    parser.add_argument("--max-len", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--no-nsp", action="store_true")
    parser.add_argument("--replay-pairs", action="store_true",
                        help="build the NSP pairs once and replay them every pass (how data/tiny-bert was made); "
                             "by default they are rebuilt each pass: new cut points, new NotNext partners")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--max-docs", type=int, default=0, help="use only the first N training chapters (smoke runs)")
    parser.add_argument("--log-every", type=int, default=200)
    parser.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation and baselines")
    parser.add_argument("--save-every", type=float, default=5.0, help="minutes between checkpoints (0: only at the end)")
    args = parser.parse_args(argv)

    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if world > 1:
        torch.distributed.init_process_group("nccl" if device == "cuda" else "gloo")
        if device == "cuda":
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    if args.batch_size % world:
        raise SystemExit(f"--batch-size {args.batch_size} must be divisible by the {world} processes")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tok = course_tokenizer()
    train_text = data.load_pretraining_corpus("train")
    train_docs = tokenize_documents(train_text[:args.max_docs] if args.max_docs else train_text, tok)
    pairs = make_nsp_pairs(train_docs, tok, args.max_len, random.Random(args.seed))
    eval_batches = []
    if not args.no_eval:
        held_docs = tokenize_documents(data.load_pretraining_corpus("heldout"), tok)
        eval_batches = fixed_eval_batches(make_nsp_pairs(held_docs, tok, args.max_len, random.Random(1)), tok)
    cfg = tiny_config(len(tok), max_position_embeddings=max(128, args.max_len),
                      hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout)
    model = BertForPreTraining(cfg).to(device)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = torch.optim.AdamW(no_decay_groups(model, 0.01), lr=args.lr)
    sched = warmup_linear_schedule(opt, min(args.warmup, args.steps), args.steps)
    rng, gen = random.Random(args.seed), torch.Generator().manual_seed(args.seed)
    order: list[int] = []
    t0, step, log = time.perf_counter(), 0, []
    deadline, last_save = args.minutes * 60, 0.0

    def finish(seconds: float) -> None:  # rank 0: evaluate and write the checkpoint + training.json
        model.eval()
        scores = evaluate(model, eval_batches, tok.mask_id) if eval_batches else {}
        base = baselines(pairs, eval_batches, tok) if eval_batches else {}
        out = save_pretrained(model, tok, args.out)
        record = {"command": "python -m bertlab.runs.pretrain " + " ".join(argv if argv is not None else sys.argv[1:]),
                  "args": vars(args), "processes": world, "steps": step, "seconds": round(seconds, 1),
                  "examples_seen": step * args.batch_size, "passes": passes, "pairs_per_pass": len(pairs),
                  "heldout": scores, "baselines": base, "log": log}
        (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
        print(json.dumps({"steps": step, "seconds": round(seconds), **scores}), flush=True)
        model.train()
    passes = 0
    while step < args.steps:
        if len(order) < args.batch_size:
            if passes and not args.replay_pairs:  # same rng on every process: the same new pairs everywhere
                pairs = make_nsp_pairs(train_docs, tok, args.max_len, rng)
                order = []  # the leftover indices pointed into the old pairs
            passes += 1
            fresh = list(range(len(pairs)))
            rng.shuffle(fresh)
            order += fresh
        global_batch, order = order[:args.batch_size], order[args.batch_size:]
        # every process masks the whole global batch the same way (same seed), then keeps its rows:
        # the N processes together compute exactly what one process would on the global batch
        full = masked_batch([pairs[i] for i in global_batch], tok, gen)
        n_chosen = int((full["labels"] != IGNORE_INDEX).sum())
        batch = {k: v[rank::world].to(device) for k, v in full.items()}
        loss, l_mlm, l_nsp = pretraining_loss(net, batch, not args.no_nsp, mlm_count=n_chosen / world)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        if step % args.log_every == 0 or step == 1:
            losses = torch.stack([l_mlm.detach(), l_nsp.detach()]).cpu()
            if world > 1:  # the global batch's loss = mean of the processes' shares
                torch.distributed.all_reduce(losses)
                losses /= world
            elapsed = time.perf_counter() - t0
            log.append({"step": step, "seconds": round(elapsed, 1), "mlm": round(losses[0].item(), 6),
                        "nsp": round(losses[1].item(), 6)})
            if rank == 0:
                print(f"step {step}: mlm {losses[0]:.4f} nsp {losses[1]:.4f} ({elapsed:.0f} s)", flush=True)
        if rank == 0 and args.save_every and time.perf_counter() - t0 - last_save > args.save_every * 60:
            last_save = time.perf_counter() - t0
            finish(last_save)  # a periodic checkpoint: whatever the run has reached is usable
        stop = torch.tensor([time.perf_counter() - t0 > deadline], dtype=torch.int)
        if world > 1:
            torch.distributed.broadcast(stop, 0)  # all processes stop at the same step
        if stop.item():
            break
    seconds = time.perf_counter() - t0
    if rank == 0:
        model.cpu()
        finish(seconds)
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
