"""The longer ablations of chapter 09, run from the command line (too slow to run live in the notebook).

    python -m bertlab.runs.after_bert [--pretrain-seconds 150] [--threads 1] [--seed 0]

Sections (results are written after each one, so a partial run is still usable):

- ``roberta``: tiny BERT pre-trained for equal wall time with MLM+NSP / MLM only, dynamic / static masking,
  then fine-tuned on 2,000 sentiment labels (3 seeds) → test accuracy;
- ``electra``: ELECTRA (generator ¼ width) for the same wall time, same fine-tuning;
- ``albert``: a 4-layer classifier trained from scratch on all sentiment labels, with and without
  cross-layer sharing / factorised embedding → parameters and test accuracy;
- ``distillation``: MiniLM (6 layers) fine-tuned as teacher; 3-layer students trained on hard labels vs
  distilled (T = 2, α = 0.5) → accuracy and latency;
- ``cheap``: the teacher quantised to int8 (size, latency, accuracy, agreement) and pruned by head importance.

Writes ``data/after_bert_results.json`` and ``data/after_bert_results.md`` (command, seed, times).
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .. import data
from ..course_vocab import course_tokenizer
from ..family.albert import factorize_embeddings, share_layers
from ..family.distillation import distil, student_from_teacher
from ..family.efficiency import latency_table
from ..family.objectives import classifier_from_encoder, pretrain
from ..family.pruning import head_importance, masked_heads, prune_heads
from ..family.quantization import quantize_int8, state_size_mb
from ..finetuning import encode_sentences, fine_tune, predict_logits
from ..model import BertForSequenceClassification, count_parameters
from ..pretraining import make_nsp_pairs, tiny_config, tokenize_documents
from ..training.metrics import accuracy
from ..weights import load_pretrained, minilm_path

RESULTS_JSON = data.DATA_DIR / "after_bert_results.json"
RESULTS_MD = data.DATA_DIR / "after_bert_results.md"


def _sentiment(tok, max_length: int = 64) -> tuple[dict, dict, dict]:
    """The sentiment splits (train, validation, test), encoded for ``tok``."""
    return tuple(encode_sentences(tok, *data.load_sentiment(split), max_length=max_length)
                 for split in ("train", "validation", "test"))


def _subset(enc: dict, idx) -> dict:
    """Rows ``idx`` of every tensor of an encoded split."""
    idx = torch.as_tensor(np.asarray(idx), dtype=torch.long)
    return {k: v[idx] for k, v in enc.items()}


def _test_accuracy(model, enc: dict) -> float:
    """Accuracy of ``model``'s predictions on an encoded split."""
    return accuracy(predict_logits(model, enc), enc["labels"])


def _finetune_scores(encoder, tok, train: dict, test: dict, seeds, n_labels: int, epochs: float = 3.0,
                     lr: float = 5e-4) -> dict:
    """Fine-tune a classifier from ``encoder`` (or from random init if None) on ``n_labels`` random training
    sentences per seed; test accuracy per seed."""
    accs = []
    for s in seeds:
        idx = np.random.default_rng(s).choice(len(train["labels"]), n_labels, replace=False)
        torch.manual_seed(s)
        clf = classifier_from_encoder(encoder) if encoder is not None else \
            BertForSequenceClassification(tiny_config(len(tok)), 2)
        fine_tune(clf, _subset(train, idx), epochs=epochs, lr=lr, seed=s)
        accs.append(_test_accuracy(clf, test))
    return {"test_acc_mean": float(np.mean(accs)), "test_acc_std": float(np.std(accs)), "test_accs": accs,
            "labels": n_labels, "seeds": list(seeds)}


def run_pretraining(args, results: dict, save) -> None:
    tok = course_tokenizer()
    docs = tokenize_documents(data.load_pretraining_corpus("train"), tok)
    pairs = make_nsp_pairs(docs, tok, 64, random.Random(args.seed))
    pairs = random.Random(args.seed).sample(pairs, min(args.pretrain_pairs, len(pairs)))  # a small pool: several epochs
    train, _, test = _sentiment(tok)
    seeds = list(range(args.seed, args.seed + args.finetune_seeds))
    cfg = tiny_config(len(tok), hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    gen_cfg = tiny_config(len(tok), hidden_size=32, num_attention_heads=1, intermediate_size=128)
    rows = {"none (random init)": {"steps": 0, "seconds": 0.0,
                                   **_finetune_scores(None, tok, train, test, seeds, args.labels)}}
    results["pretraining"] = {"rows": rows, "pretrain_seconds": args.pretrain_seconds, "pairs": len(pairs),
                              "config": cfg.to_dict(), "generator_config": gen_cfg.to_dict()}
    save()
    for objective in ("mlm+nsp", "mlm", "static+nsp", "static", "electra"):
        run = pretrain(objective, cfg, pairs, tok, args.pretrain_seconds, seed=args.seed,
                          generator_config=gen_cfg if objective == "electra" else None)
        scores = _finetune_scores(run.encoder, tok, train, test, seeds, args.labels)
        rows[objective] = {"steps": run.steps, "seconds": round(run.seconds, 1), "epochs": run.steps * 32 / len(pairs),
                           "final_loss": float(np.mean(run.losses[-20:])), **scores}
        print(objective, rows[objective]["steps"], f"{scores['test_acc_mean']:.3f}", flush=True)
        save()


def run_albert(args, results: dict, save) -> None:
    tok = course_tokenizer()
    train, _, test = _sentiment(tok)
    cfg = tiny_config(len(tok), num_hidden_layers=4, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    rows = {}
    for name, fact, share in [("BERT (4 layers)", False, False), ("shared layers", False, True),
                              ("factorised E=32", True, False), ("ALBERT: both", True, True)]:
        accs, secs = [], []
        for s in range(args.seed, args.seed + args.finetune_seeds):
            torch.manual_seed(s)
            clf = BertForSequenceClassification(cfg, 2)
            if fact:
                factorize_embeddings(clf.bert, 32)
            if share:
                share_layers(clf.bert)
            log = fine_tune(clf, train, epochs=args.albert_epochs, lr=5e-4, seed=s)
            accs.append(_test_accuracy(clf, test))
            secs.append(log.seconds)
        rows[name] = {"parameters": count_parameters(clf), "test_acc_mean": float(np.mean(accs)),
                      "test_acc_std": float(np.std(accs)), "test_accs": accs, "train_seconds": float(np.mean(secs))}
        print(name, rows[name], flush=True)
        results["albert"] = {"rows": rows, "config": cfg.to_dict(), "epochs": args.albert_epochs,
                             "labels": len(train["labels"])}
        save()


def run_distillation_and_cheap(args, results: dict, save) -> None:
    teacher, tok = load_pretrained(minilm_path(), BertForSequenceClassification, num_labels=2, pooling="mean")
    train, val, test = _sentiment(tok)
    sub = _subset(train, np.random.default_rng(args.seed).choice(len(train["labels"]), args.distil_labels,
                                                                  replace=False))
    log = fine_tune(teacher, sub, epochs=1.0, lr=1e-4, seed=args.seed)
    models = {"teacher (6 layers)": teacher}
    rows = {"teacher (6 layers)": {"parameters": count_parameters(teacher), "test_acc": _test_accuracy(teacher, test),
                                   "train_seconds": round(log.seconds, 1)}}
    results["distillation"] = {"rows": rows, "labels": args.distil_labels, "temperature": 2.0, "alpha": 0.5}
    save()
    for name, distilled in (("student, hard labels only", False), ("student, distilled", True)):
        student = student_from_teacher(teacher, [0, 2, 4])  # every other layer, as DistilBERT
        if distilled:
            log = distil(student, teacher, sub, temperature=2.0, alpha=0.5, epochs=1.0, lr=1e-4, seed=args.seed)
        else:
            log = fine_tune(student, sub, epochs=1.0, lr=1e-4, seed=args.seed)
        models[name] = student
        rows[name] = {"parameters": count_parameters(student), "test_acc": _test_accuracy(student, test),
                      "train_seconds": round(log.seconds, 1)}
        print(name, rows[name], flush=True)
        save()

    # quantisation of the fine-tuned teacher: one int8 scale per matrix vs per output channel
    p_float = predict_logits(teacher, test).argmax(-1)
    quant = {"fp32": {"size_mb": state_size_mb(teacher), "test_acc": rows["teacher (6 layers)"]["test_acc"],
                      "agreement": 1.0}, "test_sentences": len(test["labels"])}
    for name, per_channel in (("int8_per_tensor", False), ("int8_per_channel", True)):
        q = quantize_int8(teacher, per_channel=per_channel)
        p_int8 = predict_logits(q, test).argmax(-1)
        models[name] = q
        quant[name] = {"size_mb": state_size_mb(q), "test_acc": _test_accuracy(q, test),
                       "agreement": float((p_float == p_int8).float().mean())}
    results["quantization"] = quant
    print(quant, flush=True)
    save()

    # head pruning by importance (importance measured on validation sentences, accuracy on test)
    vsub = _subset(val, np.arange(args.importance_sentences))
    imp = head_importance(teacher.bert, lambda: _test_accuracy(teacher, vsub))
    order = np.dstack(np.unravel_index(np.argsort(imp, axis=None, kind="stable"), imp.shape))[0]
    curve = []
    for k in args.prune_steps:
        heads = [tuple(map(int, x)) for x in order[:k]]
        with masked_heads(teacher.bert, heads):
            curve.append({"heads_removed": k, "test_acc": _test_accuracy(teacher, test)})
    half = [tuple(map(int, x)) for x in order[:len(order) // 2]]
    try:  # remove half the heads for real (smaller matrices), not only masked
        pruned = copy.deepcopy(teacher)
        prune_heads(pruned.bert, half)
        models["pruned half"] = pruned
        pruned_info = {"heads_removed": len(half), "test_acc": _test_accuracy(pruned, test),
                       "parameters": count_parameters(pruned)}
    except ValueError as e:  # a layer would lose all its heads
        pruned_info = {"skipped": str(e)}
    results["pruning"] = {"importance": imp.tolist(), "curve": curve, "pruned_half": pruned_info,
                          "importance_sentences": len(vsub["labels"]), "note": "heads removed least important first"}
    print(curve, flush=True)
    save()

    # latency of every model above on the same 64 test sentences, in interleaved rounds (fair on a busy machine)
    bench = {k: test[k][:64] for k in ("input_ids", "token_type_ids", "attention_mask")}
    with torch.no_grad():
        ms = latency_table({name: (lambda m=m: m(**bench)) for name, m in models.items()}, rounds=7)
    for name, row in rows.items():
        row["ms_per_64_sentences"] = ms[name]
    quant["fp32"]["ms_per_64_sentences"] = ms["teacher (6 layers)"]
    for name in ("int8_per_tensor", "int8_per_channel"):
        quant[name]["ms_per_64_sentences"] = ms[name]
    if "pruned half" in ms:
        pruned_info["ms_per_64_sentences"] = ms["pruned half"]
    results["latency"] = {"ms_per_64_sentences": ms, "rounds": 7, "note": "median of interleaved rounds"}
    print(ms, flush=True)
    save()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="chapter 09's longer ablations")
    parser.add_argument("--pretrain-seconds", type=float, default=150.0)
    parser.add_argument("--pretrain-pairs", type=int, default=2000,
                        help="size of the pre-training pool (small, so static masks are seen several times)")
    parser.add_argument("--labels", type=int, default=2000, help="sentiment labels for fine-tuning pre-trained models")
    parser.add_argument("--finetune-seeds", type=int, default=3)
    parser.add_argument("--albert-epochs", type=float, default=2.0)
    parser.add_argument("--distil-labels", type=int, default=3000)
    parser.add_argument("--importance-sentences", type=int, default=300)
    parser.add_argument("--prune-steps", type=int, nargs="+", default=[0, 6, 12, 24, 36, 48, 60])
    parser.add_argument("--sections", nargs="+", default=["pretraining", "albert", "distillation"],
                        choices=["pretraining", "albert", "distillation"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS_JSON)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = "python -m bertlab.runs.after_bert " + " ".join(argv if argv is not None else sys.argv[1:])
    results: dict = json.loads(args.out.read_text()) if args.out.is_file() else {}
    owned = {"pretraining": ["pretraining"], "albert": ["albert"],
             "distillation": ["distillation", "quantization", "pruning"]}
    for name in args.sections:  # results of the sections run now are replaced, never mixed with older ones
        for key in owned[name]:
            results.pop(key, None)
    results.update({"command": command.strip(), "seed": args.seed, "threads": args.threads,
                    "torch": torch.__version__, "machine": platform.machine(), "times_s": results.get("times_s", {})})
    t_all = time.perf_counter()

    def save() -> None:
        results["times_s"]["total"] = round(time.perf_counter() - t_all, 1)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(to_markdown(results))

    sections = {"pretraining": run_pretraining, "albert": run_albert, "distillation": run_distillation_and_cheap}
    for name in args.sections:  # in the order given
        t0 = time.perf_counter()
        sections[name](args, results, save)
        results["times_s"][name] = round(time.perf_counter() - t0, 1)
        for key in owned[name]:  # each section remembers the command that measured it
            if key in results:
                results[key]["command"] = command.strip()
        save()
    return 0


def to_markdown(r: dict) -> str:
    """The results as readable tables (the JSON beside it is the source)."""
    lines = ["# Chapter 09 — measured ablations", "",
             f"Command: `{r.get('command')}` · seed {r.get('seed')} · {r.get('threads')} thread(s) · "
             f"torch {r.get('torch')} · times (s): {r.get('times_s')}", ""]
    if r.get("note"):
        lines += [f"Note: {r['note']}.", ""]
    sections = {k: r[k]["command"] for k in ("pretraining", "albert", "distillation") if k in r and "command" in r[k]}
    if len(set(sections.values())) > 1:
        lines += ["Measured by:", ""] + [f"- {k}: `{c}`" for k, c in sections.items()] + [""]
    def table(title: str, header: list[str], rows: list[list[str]]) -> None:
        lines.extend([f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)])
        lines.extend("| " + " | ".join(row) + " |" for row in rows)
        lines.append("")

    def acc(v: dict) -> str:
        return f"{v['test_acc_mean']:.1%} ± {v['test_acc_std']:.1%}"

    if "pretraining" in r:
        p = r["pretraining"]
        table(f"RoBERTa / ELECTRA: pre-training objectives at equal wall time ({p['pretrain_seconds']} s each)",
              ["objective", "steps", "test accuracy (mean ± sd over seeds)"],
              [[k, f"{v['steps']}", acc(v)] for k, v in p["rows"].items()])
    if "albert" in r:
        table("ALBERT: parameter sharing and factorised embedding (trained from scratch)",
              ["model", "parameters", "test accuracy"],
              [[k, f"{v['parameters']:,}", acc(v)] for k, v in r["albert"]["rows"].items()])
    if "distillation" in r:
        table("DistilBERT: distillation from MiniLM (6 layers) to 3 layers",
              ["model", "parameters", "test accuracy", "ms / 64 sentences"],
              [[k, f"{v['parameters']:,}", f"{v['test_acc']:.1%}", f"{v.get('ms_per_64_sentences', float('nan')):.0f}"]
               for k, v in r["distillation"]["rows"].items()])
    if "quantization" in r:
        q = r["quantization"]
        lines += ["## Dynamic int8 quantisation of the fine-tuned teacher", "",
                  "| | size MB | ms / 64 sentences | test accuracy | same prediction as fp32 |", "|---|---|---|---|---|"]
        lines += [f"| {k} | {q[k]['size_mb']:.1f} | {q[k].get('ms_per_64_sentences', float('nan')):.0f} | "
                  f"{q[k]['test_acc']:.1%} | {q[k].get('agreement', float('nan')):.1%} |"
                  for k in ("fp32", "int8_per_tensor", "int8_per_channel") if k in q]
        lines += ["", f"On {q['test_sentences']} test sentences.", ""]
    if "pruning" in r:
        lines += ["## Head pruning (least important first)", "", "| heads removed | test accuracy |", "|---|---|"]
        lines += [f"| {c['heads_removed']} | {c['test_acc']:.1%} |" for c in r["pruning"]["curve"]]
        half = r["pruning"]["pruned_half"]
        if "test_acc" in half:
            lines += ["", f"Half the heads ({half['heads_removed']}) removed for real: {half['parameters']:,} parameters, "
                          f"{half.get('ms_per_64_sentences', float('nan')):.0f} ms / 64 sentences, "
                          f"test accuracy {half['test_acc']:.1%}."]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
