"""The course BERT's pre-training ladder (issue 15): which task-adaptive recipe pays off downstream?

    .venv/bin/python benchmarks/course_bert_ladder.py pretrain --name R1 --steps 12000 --save 3000 6000 9000
    .venv/bin/python benchmarks/course_bert_ladder.py pretrain --name R3 --mlm-prob 0.4 --steps 12000 --save 6000
    .venv/bin/python benchmarks/course_bert_ladder.py pretrain --name R4 --objective electra --steps 8000 --save 2000
    .venv/bin/python benchmarks/course_bert_ladder.py finetune --ckpt runs/ladder/R1/step12000 --seeds 0 1 2 --lr 3e-4
    .venv/bin/python benchmarks/course_bert_ladder.py finetune --ckpt runs/ladder/R1/step12000 --random ...

``pretrain``: the course BERT's architecture (2 layers, hidden 128, 2 heads) on the 10,201 *unlabelled* training
sentences of the review task (``--corpus reviews``; ``kjv`` or ``reviews+kjv`` mix in the Bible), WordPiece
vocabulary trained on the same sentences (``--vocab reviews``), MLM (``--mlm-prob``) or ELECTRA-style
replaced-token detection (``--objective electra``: a 1-layer generator sharing the embeddings), checkpoints
in ``runs/ladder/<name>/step<N>/`` with the held-out MLM accuracy on the validation sentences.
``finetune``: 1,000 labelled sentences (seed s: subset s, initial head s, batch order s), mean pooling,
dropout 0.1, early stopping on validation, test accuracy; ``--random`` = the same architecture and vocabulary
from random weights. Each call appends one line to ``runs/ladder/results.jsonl``.

This is the experiment script behind ``data/course-bert/ladder.json``; the shipped checkpoint itself is made by
``python -m bertlab.runs.make_checkpoint --config course-bert`` (the same recipe as rung R1, step for step) and scored
by ``python -m bertlab.runs.learning_curves``.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

from bertlab import data
from bertlab.finetuning import encode_sentences, fine_tune, predict_logits
from bertlab.model import BertConfig, BertForPreTraining, BertForSequenceClassification
from bertlab.pretraining import IGNORE_INDEX, make_nsp_pairs, mask_tokens, masked_batch, pretraining_loss, tokenize_documents
from bertlab.tokenizer import WordPieceTokenizer, train_wordpiece
from bertlab.weights import load_pretrained, save_pretrained

HERE = Path(__file__).resolve().parent.parent / "runs" / "ladder"
RUNS = HERE


def build_vocab(kind: str, size: int) -> WordPieceTokenizer:
    cache = HERE / "vocab" / f"{kind}-{size}.txt"
    if cache.is_file():
        return WordPieceTokenizer.from_file(cache)
    texts = []
    if "reviews" in kind:
        texts += data.load_sentiment("train")[0]
    if "kjv" in kind:
        texts += [s for doc in data.load_pretraining_corpus("train") for s in doc]
    tok = WordPieceTokenizer(train_wordpiece(texts, size))
    cache.parent.mkdir(exist_ok=True)
    cache.write_text("\n".join(tok.ids_to_tokens) + "\n")
    return tok


def encode_single(tok: WordPieceTokenizer, texts: list[str], max_len: int) -> list[list[int]]:
    out = []
    for t in texts:
        ids = tok.convert_tokens_to_ids(tok.tokenize(t))[: max_len - 2]
        if ids:
            out.append([tok.cls_id] + ids + [tok.sep_id])
    return out


def pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad_id] * (n - len(r)) for r in rows])
    att = torch.tensor([[1] * len(r) + [0] * (n - len(r)) for r in rows])
    return ids, att


def length_grouped(lengths: list[int], bs: int, rng: random.Random) -> list[list[int]]:
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    batches = []
    for p in range(0, len(idx), 50 * bs):
        pool = sorted(idx[p:p + 50 * bs], key=lambda i: lengths[i])
        batches += [pool[i:i + bs] for i in range(0, len(pool), bs) if len(pool[i:i + bs]) == bs]
    rng.shuffle(batches)
    return batches


@torch.no_grad()
def heldout_mlm(model, tok, rows, seed=1234):
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    right = tot = rm = tm = 0
    loss_sum = 0.0
    for i in range(0, len(rows), 128):
        ids, att = pad(rows[i:i + 128], tok.pad_id)
        masked, labels = mask_tokens(ids, tok.special_ids, len(tok), tok.mask_id, 0.15, gen)
        chosen = labels != IGNORE_INDEX
        out = model(masked, torch.zeros_like(ids), att, masked_positions=chosen)
        gold = labels[chosen]
        loss_sum += torch.nn.functional.cross_entropy(out.prediction_logits, gold, reduction="sum").item()
        pred = out.prediction_logits.argmax(-1)
        at_mask = masked[chosen] == tok.mask_id
        right += (pred == gold).sum().item()
        tot += gold.numel()
        rm += (pred == gold)[at_mask].sum().item()
        tm += at_mask.sum().item()
    model.train()
    return {"mlm_loss": loss_sum / tot, "mlm_acc": right / tot, "mask_acc": rm / tm}


def cmd_pretrain(a) -> None:
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    tok = build_vocab(a.vocab, a.vocab_size)
    reviews = encode_single(tok, data.load_sentiment("train")[0], a.max_len) if "reviews" in a.corpus else []
    kjv_docs = data.load_pretraining_corpus("train") if "kjv" in a.corpus else []
    kjv = encode_single(tok, [s for d in kjv_docs for s in d], a.max_len) if kjv_docs and not a.nsp else []
    kjv_ids = tokenize_documents(kjv_docs, tok) if a.nsp else []
    held = encode_single(tok, data.load_sentiment("validation")[0], a.max_len)  # evaluation only, never trained on
    cfg = BertConfig(vocab_size=len(tok), hidden_size=a.hidden, num_hidden_layers=a.layers,
                     num_attention_heads=a.heads, intermediate_size=4 * a.hidden, max_position_embeddings=128,
                     hidden_dropout_prob=a.dropout, attention_probs_dropout_prob=a.dropout)
    model = BertForPreTraining(cfg)
    electra = None
    if a.objective == "electra":  # generator: 1 layer, same width, embeddings shared with the discriminator
        gcfg = BertConfig(vocab_size=len(tok), hidden_size=a.hidden, num_hidden_layers=1,
                          num_attention_heads=a.heads, intermediate_size=2 * a.hidden, max_position_embeddings=128,
                          hidden_dropout_prob=a.dropout, attention_probs_dropout_prob=a.dropout)
        gen_model = BertForPreTraining(gcfg)
        gen_model.bert.embeddings = model.bert.embeddings
        gen_model.mlm.word_embeddings = model.bert.embeddings.word_embeddings
        rtd_head = torch.nn.Linear(a.hidden, 1)
        electra = torch.nn.ModuleDict({"disc": model, "gen": gen_model, "rtd": rtd_head})
    params_of = electra if electra is not None else model
    decay = [p for p in params_of.parameters() if p.dim() > 1]
    no_decay = [p for p in params_of.parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, a.beta2))

    def lam(s):
        if s < a.warmup:
            return (s + 1) / a.warmup
        return max(0.0, (a.steps - s) / max(1, a.steps - a.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lam)
    out = RUNS / a.name
    out.mkdir(parents=True, exist_ok=True)  # runs/ is not committed
    log = {"args": vars(a), "command": " ".join(sys.argv), "n_reviews": len(reviews), "n_kjv": len(kjv),
           "params": sum(p.numel() for p in model.parameters()), "log": [], "saved": []}
    print(json.dumps({k: log[k] for k in ("n_reviews", "n_kjv", "params")}), flush=True)
    queues = {"reviews": [], "kjv": []}
    nsp_pairs, nsp_order = [], []

    def next_batch(kind: str, bs: int):
        src = reviews if kind == "reviews" else kjv
        while len(queues[kind]) < 1:
            queues[kind] += length_grouped([len(r) for r in src], bs, rng)
        return [src[i] for i in queues[kind].pop()]
    t0 = time.perf_counter()
    model.train()
    saves = set(a.save)
    for step in range(1, a.steps + 1):
        if a.nsp and kjv_docs and rng.random() >= a.review_share:
            if len(nsp_order) < a.batch_size:  # rebuild the pairs each pass: new cuts, new NotNext partners
                nsp_pairs = make_nsp_pairs(kjv_ids, tok, a.max_len, rng)
                nsp_order = list(range(len(nsp_pairs)))
                rng.shuffle(nsp_order)
            b = masked_batch([nsp_pairs[nsp_order.pop()] for _ in range(a.batch_size)], tok, gen)
            loss, l_mlm, l_nsp = pretraining_loss(model, b, True)
        else:
            kind = "reviews" if (not kjv or rng.random() < a.review_share) and reviews else "kjv"
            rows = next_batch(kind, a.batch_size)
            ids, att = pad(rows, tok.pad_id)
            masked, labels = mask_tokens(ids, tok.special_ids, len(tok), tok.mask_id, a.mlm_prob, gen)
            chosen = labels != IGNORE_INDEX
            if electra is not None:
                tt = torch.zeros_like(ids)
                go = electra["gen"](masked, tt, att, masked_positions=chosen)
                l_mlm = torch.nn.functional.cross_entropy(go.prediction_logits, labels[chosen])
                with torch.no_grad():
                    sampled = torch.multinomial(go.prediction_logits.float().softmax(-1), 1, generator=gen).squeeze(1)
                corrupted = ids.clone()
                corrupted[chosen] = sampled
                rl = (chosen & (corrupted != ids)).float()
                scored = (att == 1) & ~torch.isin(ids, torch.tensor(sorted(tok.special_ids)))
                h = model.bert(corrupted, tt, att).last_hidden_state
                lg = electra["rtd"](h).squeeze(-1)
                l_rtd = torch.nn.functional.binary_cross_entropy_with_logits(lg[scored], rl[scored])
                loss = l_mlm + a.disc_weight * l_rtd
            else:
                o = model(masked, torch.zeros_like(ids), att, masked_positions=chosen)
                loss = l_mlm = torch.nn.functional.cross_entropy(o.prediction_logits, labels[chosen])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params_of.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 250 == 0 or step == 1:
            el = time.perf_counter() - t0
            log["log"].append({"step": step, "seconds": round(el, 1), "mlm": round(l_mlm.item(), 4)})
            extra = f" rtd {l_rtd.item():.3f}" if electra is not None else ""
            print(f"step {step} mlm {l_mlm.item():.3f}{extra} {el:.0f}s", flush=True)
        if step in saves or step == a.steps:
            el = time.perf_counter() - t0
            h = heldout_mlm(model, tok, held)
            d = out / f"step{step}"
            save_pretrained(model, tok, d)
            rec = {"step": step, "seconds": round(el, 1), "heldout_val_reviews": h}
            log["saved"].append(rec)
            print("SAVE", json.dumps(rec), flush=True)
            (out / "log.json").write_text(json.dumps(log, indent=1))
            t0 += time.perf_counter() - t0 - el  # evaluation and saving are not counted as training time


def set_dropout(model, p):
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = p
    return model


def cmd_finetune(a) -> None:
    torch.set_num_threads(a.threads)
    folder = Path(a.ckpt)
    train, val, test = (data.load_sentiment(s) for s in ("train", "validation", "test"))
    accs, recs = [], []
    for seed in a.seeds:
        order = np.random.default_rng(seed).permutation(len(train[0]))[: a.labels or len(train[0])]
        sub = ([train[0][i] for i in order], train[1][order])  # seed s: subset s, init s, batch order s
        torch.manual_seed(seed)
        model, tok = load_pretrained(folder, BertForSequenceClassification, num_labels=2, pooling=a.pooling)
        if a.random:
            torch.manual_seed(seed)
            model = BertForSequenceClassification(model.config, num_labels=2, pooling=a.pooling)
        set_dropout(model, a.dropout)
        if a.freeze_embeddings:
            for p_ in model.bert.embeddings.word_embeddings.parameters():
                p_.requires_grad = False
        if a.reinit_top:
            from bertlab.model import init_weights
            for m in model.bert.encoder.layer[-1].modules():
                init_weights(m, model.config.initializer_range)
        tr, va, te = encode_sentences(tok, *sub), encode_sentences(tok, *val), encode_sentences(tok, *test)
        if a.lp_epochs:  # LP-FT (Kumar et al. 2022): train the head on frozen features first, then everything
            for p_ in model.bert.parameters():
                p_.requires_grad = False
            fine_tune(model, tr, va, epochs=a.lp_epochs, lr=a.lp_lr, patience=None, evals_per_epoch=1,
                      seed=seed, warmup=0.0, group_by_length=True)
            for p_ in model.bert.parameters():
                p_.requires_grad = True
        res = fine_tune(model, tr, va, epochs=a.epochs, lr=a.lr, patience=a.patience, evals_per_epoch=1,
                        seed=seed, warmup=a.warmup, group_by_length=True)
        pred = predict_logits(model, te).argmax(-1).numpy()
        acc = float((pred == test[1]).mean())
        val_acc = res.best_score
        accs.append(acc)
        recs.append({"seed": seed, "test": acc, "val": val_acc, "best_step": res.best_step, "steps": res.steps,
                     "seconds": round(res.seconds, 1), "pred_pos": float(pred.mean())})
        print(json.dumps(recs[-1]), flush=True)
    m, s = float(np.mean(accs)), float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0
    vals = [r["val"] for r in recs]
    summary = {"ckpt": str(folder), "random": a.random, "labels": a.labels, "lr": a.lr, "epochs": a.epochs,
               "pooling": a.pooling, "dropout": a.dropout, "patience": a.patience, "warmup": a.warmup,
               "freeze_embeddings": a.freeze_embeddings, "reinit_top": a.reinit_top, "lp_epochs": a.lp_epochs,
               "mean": m, "sd": s, "val_mean": float(np.mean(vals)), "n": len(accs), "runs": recs}
    print("SUMMARY", json.dumps({k: v for k, v in summary.items() if k != "runs"}), flush=True)
    HERE.mkdir(parents=True, exist_ok=True)
    with open(HERE / "results.jsonl", "a") as f:
        f.write(json.dumps(summary) + "\n")


def main() -> None:
    p = argparse.ArgumentParser()
    sp = p.add_subparsers(dest="cmd", required=True)
    q = sp.add_parser("pretrain")
    q.add_argument("--name", required=True)
    q.add_argument("--corpus", default="reviews")
    q.add_argument("--vocab", default="reviews")
    q.add_argument("--vocab-size", type=int, default=8000)
    q.add_argument("--layers", type=int, default=2)
    q.add_argument("--hidden", type=int, default=128)
    q.add_argument("--heads", type=int, default=2)
    q.add_argument("--dropout", type=float, default=0.1)
    q.add_argument("--steps", type=int, default=6000)
    q.add_argument("--save", type=int, nargs="*", default=[])
    q.add_argument("--batch-size", type=int, default=64)
    q.add_argument("--lr", type=float, default=1e-3)
    q.add_argument("--beta2", type=float, default=0.999)
    q.add_argument("--warmup", type=int, default=300)
    q.add_argument("--max-len", type=int, default=64)
    q.add_argument("--mlm-prob", type=float, default=0.15)
    q.add_argument("--review-share", type=float, default=1.0)
    q.add_argument("--nsp", action="store_true")
    q.add_argument("--objective", default="mlm", choices=["mlm", "electra"])
    q.add_argument("--disc-weight", type=float, default=50.0)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--threads", type=int, default=1)
    f = sp.add_parser("finetune")
    f.add_argument("--ckpt", required=True)
    f.add_argument("--random", action="store_true")
    f.add_argument("--labels", type=int, default=1000)
    f.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    f.add_argument("--lr", type=float, default=3e-4)
    f.add_argument("--epochs", type=float, default=15)
    f.add_argument("--patience", type=int, default=None)
    f.add_argument("--warmup", type=float, default=0.1)
    f.add_argument("--pooling", default="mean")
    f.add_argument("--dropout", type=float, default=0.1)
    f.add_argument("--threads", type=int, default=1)
    f.add_argument("--freeze-embeddings", action="store_true")
    f.add_argument("--reinit-top", action="store_true")
    f.add_argument("--lp-epochs", type=float, default=0)
    f.add_argument("--lp-lr", type=float, default=1e-2)
    a = p.parse_args()
    {"pretrain": cmd_pretrain, "finetune": cmd_finetune}[a.cmd](a)


if __name__ == "__main__":
    main()
