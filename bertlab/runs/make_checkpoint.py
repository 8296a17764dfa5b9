"""Pre-train the course's tiny BERT from the command line (chapter 05), single process or with torchrun.

    python -m bertlab.runs.make_checkpoint --config tiny --minutes 20 --out runs/tiny-bert [--seed 0 --threads 1]
    torchrun --nproc_per_node=2 -m bertlab.runs.make_checkpoint --config tiny --minutes 5 --out runs/ddp
    python -m bertlab.runs.make_checkpoint --config course-bert --out data/course-bert     # chapter 06's checkpoint

``--config tiny``: MLM + NSP on the King James Bible with the course vocabulary (``data/tiny-bert``).
``--config course-bert``: task-adaptive pre-training (Gururangan et al., 2020) — MLM only, on the 10,201
*unlabelled* training sentences of the review task (never a validation or test sentence; the labels are
never read), with a WordPiece vocabulary trained on the same sentences, for a fixed number of **steps**
(12,000 ≈ 28 min on one idle CPU thread), checkpoints along the way (``step3000/`` …) so that one run gives a
curve; held-out MLM accuracy is measured on the validation sentences (scored, never trained on).

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
from pathlib import Path

import torch

from .. import data
from ..course_vocab import course_tokenizer
from ..model import BertForPreTraining
from ..pretraining import (
    IGNORE_INDEX,
    baselines,
    evaluate,
    fixed_eval_batches,
    length_grouped_order,
    make_nsp_pairs,
    masked_batch,
    pretraining_loss,
    sentence_examples,
    tiny_config,
    tokenize_documents,
)
from ..tokenizer import WordPieceTokenizer, train_wordpiece
from ..training.param_groups import no_decay_groups
from ..training.schedule import warmup_linear_schedule
from ..weights import save_pretrained

# --config course-bert: the recipe chosen by the ladder in data/course-bert/README.md (its defaults; any flag
# still overrides them)
COURSE_BERT = {"steps": 12_000, "minutes": 0.0, "batch_size": 64, "max_len": 64, "lr": 1e-3, "warmup": 300,
               "dropout": 0.1, "threads": 1, "vocab_size": 8000, "mlm_probability": 0.15, "no_nsp": True,
               "save_at": [3000, 6000, 9000], "log_every": 250}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pre-train the course's tiny BERT (MLM + NSP)")
    parser.add_argument("--config", default="tiny", choices=["tiny", "course-bert"])
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
    parser.add_argument("--vocab-size", type=int, default=8000, help="course-bert: WordPiece vocabulary size")
    parser.add_argument("--mlm-probability", type=float, default=0.15)
    parser.add_argument("--save-at", type=int, nargs="*", default=[],
                        help="course-bert: also save checkpoints at these steps (in <out>/step<N>/)")
    if parser.parse_known_args(argv)[0].config == "course-bert":
        parser.set_defaults(**COURSE_BERT)
    args = parser.parse_args(argv)
    if args.config == "course-bert":
        return pretrain_course_bert(args, "python -m bertlab.runs.make_checkpoint " + " ".join(
            argv if argv is not None else sys.argv[1:]))

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
    deadline, last_save = (args.minutes * 60 if args.minutes > 0 else float("inf")), 0.0

    def finish(seconds: float) -> None:  # rank 0: evaluate and write the checkpoint + training.json
        model.eval()
        scores = evaluate(model, eval_batches, tok.mask_id) if eval_batches else {}
        base = baselines(pairs, eval_batches, tok) if eval_batches else {}
        out = save_pretrained(model, tok, args.out)
        record = {"command": "python -m bertlab.runs.make_checkpoint " + " ".join(argv if argv is not None else sys.argv[1:]),
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


def pretrain_course_bert(args: argparse.Namespace, command: str) -> int:
    """Task-adaptive MLM on the unlabelled review training sentences (one process): see the module docstring.

    Seconds are training time only: evaluating and saving the intermediate checkpoints is not counted.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise SystemExit("--config course-bert runs in one process (no torchrun)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng, gen = random.Random(args.seed), torch.Generator().manual_seed(args.seed)
    texts = data.load_sentiment("train")[0]  # the sentences only: the labels are never read
    t_vocab = time.perf_counter()
    tok = WordPieceTokenizer(train_wordpiece(texts, args.vocab_size))
    vocab_seconds = time.perf_counter() - t_vocab
    examples = sentence_examples(texts, tok, args.max_len)
    held = sentence_examples(data.load_sentiment("validation")[0], tok, args.max_len)  # scored, never trained on
    eval_batches = fixed_eval_batches(held, tok)
    model = BertForPreTraining(tiny_config(len(tok), dropout=args.dropout,
                                           max_position_embeddings=max(128, args.max_len)))
    opt = torch.optim.AdamW(no_decay_groups(model, 0.01), lr=args.lr)
    sched = warmup_linear_schedule(opt, min(args.warmup, args.steps), args.steps)
    out = Path(args.out)
    lengths = [len(e["input_ids"]) for e in examples]
    batches: list[list[int]] = []
    log: list[dict] = []
    saved: list[dict] = []
    passes, excluded = 0, 0.0
    t0 = time.perf_counter()
    model.train()
    for step in range(1, args.steps + 1):
        if not batches:
            batches = length_grouped_order(lengths, args.batch_size, rng)
            passes += 1
        batch = masked_batch([examples[i] for i in batches.pop()], tok, gen, args.mlm_probability)
        _, l_mlm, _ = pretraining_loss(model, batch, use_nsp=False)
        opt.zero_grad(set_to_none=True)
        l_mlm.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        seconds = time.perf_counter() - t0 - excluded
        if step % args.log_every == 0 or step == 1:
            log.append({"step": step, "seconds": round(seconds, 1), "mlm": round(l_mlm.item(), 4)})
            print(f"step {step}: mlm {l_mlm.item():.4f} ({seconds:.0f} s)", flush=True)
        if step in args.save_at or step == args.steps:
            t_save = time.perf_counter()
            model.eval()
            scores = {k: v for k, v in evaluate(model, eval_batches, tok.mask_id).items() if k != "nsp_acc"}
            model.train()
            folder = out if step == args.steps else out / f"step{step}"
            save_pretrained(model, tok, folder)
            saved.append({"step": step, "seconds": round(seconds, 1), "folder": str(folder), "heldout": scores})
            record = {"command": command, "config": "course-bert", "args": vars(args), "steps": step,
                      "seconds": round(seconds, 1), "threads": args.threads, "vocab_seconds": round(vocab_seconds, 1),
                      "examples": len(examples), "passes": passes, "examples_seen": step * args.batch_size,
                      "heldout_split": "validation sentences of the review task (scored, never trained on)",
                      "heldout": scores, "baselines": baselines(examples, eval_batches, tok),
                      "checkpoints": saved, "log": log}
            (folder / "training.json").write_text(json.dumps(record, indent=2) + "\n")
            print(json.dumps({"saved": str(folder), "step": step, "seconds": round(seconds), **scores}), flush=True)
            excluded += time.perf_counter() - t_save
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
