"""The longer ablations of chapter 09, run from the command line (too slow to run live in the notebook).

    python -m bertlab.runs.after_bert [--sections pretraining albert distillation pruning] [--threads 1] [--seed 0]

Sections (results are written after each run, so a partial run is still usable):

- ``pretraining``: the tiny BERT pre-trained for equal wall time with MLM+NSP / MLM only, dynamic / static
  masking, and ELECTRA (generator ¼ width); each encoder, and the same architecture from random init, is
  fine-tuned on ``--labels`` sentiment labels with **mean pooling** (none of these checkpoints has a trained
  [CLS] pooler without NSP, so [CLS] pooling would confound NSP with the pooler), the best of 3 epochs on the
  validation split kept, ``--finetune-seeds`` seeds → test accuracy;
- ``albert``: a 4-layer classifier trained from scratch on all sentiment labels, with and without
  cross-layer sharing / factorised embedding → parameters and test accuracy;
- ``distillation``: MiniLM (6 layers, mean pooling) fine-tuned on ``--distil-labels`` labels as the teacher;
  3-layer students (its layers 0, 2, 4) trained on the hard labels, distilled on the same labelled sentences
  (T = 2, α = 0.5), and distilled on all 10,201 *unlabelled* training sentences as transfer set (α = 1: the
  teacher's soft targets only), ``--finetune-seeds`` seeds each; then the teacher quantised to int8 (size,
  accuracy, agreement with fp32);
- ``pruning``: the same teacher (same recipe and seed: fine-tuned again unless the distillation section ran in
  the same process; its test accuracy is checked against the distillation section's), pruned by gradient head
  importance (Michel et al., 2019) measured on the whole validation split, beside random head orders as the
  baseline; then the latency of the teacher, a 3-layer student, the two int8 models and the half-pruned
  teacher on the same 64 test sentences, in interleaved rounds.

Accuracies are reported as mean ± sd (ddof = 1) over seeds; runs whose test predictions are ≥ 99 % one class
are flagged ``collapsed``. Writes ``data/after_bert_results.json`` and ``data/after_bert_results.md``
(each section records the command that measured it, seeds, threads and library versions).
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
from ..family.pruning import head_importance_gradient, masked_heads, prune_heads
from ..family.quantization import quantize_int8, state_size_mb
from ..finetuning import encode_sentences, fine_tune, is_collapsed, predict_logits
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


def mean_sd(accs) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; NaN for one value) of per-seed accuracies."""
    accs = np.asarray(accs, dtype=float)
    return float(accs.mean()), float(accs.std(ddof=1)) if len(accs) > 1 else float("nan")


def _scores(accs: list[float], collapsed: list[bool], seeds) -> dict:
    """Per-seed accuracies → mean ± sd (ddof = 1) over the runs that did not collapse."""
    kept = [a for a, c in zip(accs, collapsed) if not c]
    mean, sd = mean_sd(kept) if kept else (float("nan"), float("nan"))
    return {"test_acc_mean": mean, "test_acc_sd": sd, "test_accs": accs, "collapsed": collapsed, "n": len(kept),
            "seeds": list(seeds)}


def _finetune_scores(encoder, cfg, splits: tuple[dict, dict, dict], seeds, n_labels: int, epochs: float = 3.0,
                     lr: float = 5e-4) -> dict:
    """Fine-tune a mean-pooling classifier from ``encoder`` (or from random init of ``cfg`` if None) on ``n_labels``
    random training sentences per seed (seed s draws the sentences, the head and the batch order); the best of
    ``epochs`` epochs on the validation split is kept; test accuracy per seed."""
    train, val, test = splits
    accs, collapsed, val_accs = [], [], []
    for s in seeds:
        idx = np.random.default_rng(s).choice(len(train["labels"]), n_labels, replace=False)
        torch.manual_seed(s)
        clf = classifier_from_encoder(encoder, pooling="mean") if encoder is not None else \
            BertForSequenceClassification(cfg, 2, pooling="mean")
        log = fine_tune(clf, _subset(train, idx), val, epochs=epochs, lr=lr, seed=s, patience=None,
                        group_by_length=True)
        pred = predict_logits(clf, test).argmax(-1)
        accs.append(accuracy(pred, test["labels"]))
        collapsed.append(bool(is_collapsed(pred)))
        val_accs.append(log.best_score)
    return {**_scores(accs, collapsed, seeds), "val_accs": val_accs, "labels": n_labels, "pooling": "mean",
            "epochs": epochs, "lr": lr}


def run_pretraining(args, results: dict, save) -> None:
    tok = course_tokenizer()
    docs = tokenize_documents(data.load_pretraining_corpus("train"), tok)
    pairs = make_nsp_pairs(docs, tok, 64, random.Random(args.seed))
    pairs = random.Random(args.seed).sample(pairs, min(args.pretrain_pairs, len(pairs)))  # a small pool: several epochs
    splits = _sentiment(tok)
    seeds = list(range(args.seed, args.seed + args.finetune_seeds))
    cfg = tiny_config(len(tok), hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    gen_cfg = tiny_config(len(tok), hidden_size=32, num_attention_heads=1, intermediate_size=128)
    rows = {"none (random init)": {"steps": 0, "seconds": 0.0, **_finetune_scores(None, cfg, splits, seeds, args.labels)}}
    results["pretraining"] = {"rows": rows, "pretrain_seconds": args.pretrain_seconds, "pairs": len(pairs),
                              "config": cfg.to_dict(), "generator_config": gen_cfg.to_dict()}
    print("random init", f"{rows['none (random init)']['test_acc_mean']:.3f}", flush=True)
    save()
    for objective in ("mlm+nsp", "mlm", "static+nsp", "static", "electra"):
        # "passes": over the pool at batch 32 (not "epochs": the fine-tuning scores below carry their own)
        run = pretrain(objective, cfg, pairs, tok, args.pretrain_seconds, seed=args.seed,
                          generator_config=gen_cfg if objective == "electra" else None)
        scores = _finetune_scores(run.encoder, cfg, splits, seeds, args.labels)
        rows[objective] = {"steps": run.steps, "seconds": round(run.seconds, 1), "passes": run.steps * 32 / len(pairs),
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
        seeds = list(range(args.seed, args.seed + args.finetune_seeds))
        for s in seeds:
            torch.manual_seed(s)
            clf = BertForSequenceClassification(cfg, 2)
            if fact:
                factorize_embeddings(clf.bert, 32)
            if share:
                share_layers(clf.bert)
            log = fine_tune(clf, train, epochs=args.albert_epochs, lr=5e-4, seed=s)
            accs.append(_test_accuracy(clf, test))
            secs.append(log.seconds)
        rows[name] = {"parameters": count_parameters(clf), **_scores(accs, [False] * len(accs), seeds),
                      "train_seconds": float(np.mean(secs))}
        print(name, rows[name], flush=True)
        results["albert"] = {"rows": rows, "config": cfg.to_dict(), "epochs": args.albert_epochs,
                             "labels": len(train["labels"])}
        save()


_TEACHERS: dict = {}  # (seed, labels, threads) → (teacher, tokenizer, log): one fine-tuning per process


def fine_tuned_teacher(args):
    """MiniLM (mean pooling) fine-tuned for one epoch on ``args.distil_labels`` random training sentences (seed
    ``args.seed``, lr 1e-4): the teacher of the distillation and pruning sections, fine-tuned once per process."""
    key = (args.seed, args.distil_labels, args.threads)
    if key not in _TEACHERS:
        torch.manual_seed(args.seed)  # the new classification head's initialisation
        teacher, tok = load_pretrained(minilm_path(), BertForSequenceClassification, num_labels=2, pooling="mean")
        train, _, _ = _sentiment(tok)
        sub = _subset(train, np.random.default_rng(args.seed).choice(len(train["labels"]), args.distil_labels,
                                                                      replace=False))
        log = fine_tune(teacher, sub, epochs=1.0, lr=1e-4, seed=args.seed, group_by_length=True)
        _TEACHERS[key] = (teacher, tok, log, sub)
    return _TEACHERS[key]


def run_distillation(args, results: dict, save) -> None:
    teacher, tok, log, sub = fine_tuned_teacher(args)
    train, val, test = _sentiment(tok)
    teacher_pred = predict_logits(teacher, test).argmax(-1)
    rows = {"teacher (6 layers)": {"parameters": count_parameters(teacher), "test_acc": accuracy(teacher_pred, test["labels"]),
                                   "collapsed": bool(is_collapsed(teacher_pred)), "train_seconds": round(log.seconds, 1),
                                   "training_sentences": args.distil_labels}}
    seeds = list(range(args.seed, args.seed + args.finetune_seeds))
    results["distillation"] = {"rows": rows, "labels": args.distil_labels, "temperature": 2.0, "alpha": 0.5,
                               "transfer_sentences": len(train["labels"]), "seeds": seeds,
                               "note": f"one teacher (seed {args.seed}); the students start from its layers 0, 2, 4; "
                                       "seed s sets the students' batch order and dropout"}
    save()
    # the transfer set: every training sentence, unlabelled — the teacher's prediction stands in for the label
    # (alpha = 1, so the loss never reads it)
    transfer_logits = predict_logits(teacher, train)
    transfer = {**train, "labels": transfer_logits.argmax(-1)}
    students = {
        "student, hard labels only": lambda st, s: fine_tune(st, sub, epochs=1.0, lr=1e-4, seed=s, group_by_length=True),
        "student, distilled (same labelled sentences)": lambda st, s: distil(
            st, teacher, sub, temperature=2.0, alpha=0.5, epochs=1.0, lr=1e-4, seed=s, group_by_length=True),
        "student, distilled on unlabelled transfer set": lambda st, s: distil(
            st, teacher, transfer, temperature=2.0, alpha=1.0, teacher_logits=transfer_logits, epochs=1.0, lr=1e-4,
            seed=s, group_by_length=True),
    }
    for name, train_student in students.items():
        accs, collapsed, secs = [], [], []
        for s in seeds:
            student = student_from_teacher(teacher, [0, 2, 4])  # every other layer, as DistilBERT
            log = train_student(student, s)
            pred = predict_logits(student, test).argmax(-1)
            accs.append(accuracy(pred, test["labels"]))
            collapsed.append(bool(is_collapsed(pred)))
            secs.append(log.seconds)
            print(name, s, f"{accs[-1]:.3f}", flush=True)
        rows[name] = {"parameters": count_parameters(student), **_scores(accs, collapsed, seeds),
                      "train_seconds": round(float(np.mean(secs)), 1),
                      "training_sentences": len(transfer["labels"]) if "transfer" in name else args.distil_labels}
        save()

    # quantisation of the fine-tuned teacher: one int8 scale per matrix vs per output channel
    quant = {"fp32": {"size_mb": state_size_mb(teacher), "test_acc": rows["teacher (6 layers)"]["test_acc"],
                      "agreement": 1.0}, "test_sentences": len(test["labels"])}
    for name, per_channel in (("int8_per_tensor", False), ("int8_per_channel", True)):
        q = quantize_int8(teacher, per_channel=per_channel)
        p_int8 = predict_logits(q, test).argmax(-1)
        quant[name] = {"size_mb": state_size_mb(q), "test_acc": accuracy(p_int8, test["labels"]),
                       "agreement": float((teacher_pred == p_int8).float().mean())}
    results["quantization"] = quant
    print(quant, flush=True)
    save()


def run_pruning(args, results: dict, save) -> None:
    teacher, tok, _, _ = fine_tuned_teacher(args)
    _, val, test = _sentiment(tok)
    teacher_acc = _test_accuracy(teacher, test)
    recorded = results.get("distillation", {}).get("rows", {}).get("teacher (6 layers)", {}).get("test_acc")
    same = None if recorded is None else bool(abs(recorded - teacher_acc) < 1e-9)
    print("teacher test accuracy", f"{teacher_acc:.4f}", "· distillation section's teacher:", recorded, flush=True)

    # head pruning: importance by gradient on the whole validation split (Michel et al., 2019), test accuracy as
    # the least important heads are masked; random orders of the heads as the baseline
    imp = head_importance_gradient(teacher, val)
    n_heads = imp.size
    order = np.dstack(np.unravel_index(np.argsort(imp, axis=None, kind="stable"), imp.shape))[0]

    def masked_accuracy(heads) -> float:
        with masked_heads(teacher.bert, heads):
            return _test_accuracy(teacher, test)

    curve = [{"heads_removed": k, "test_acc": masked_accuracy([tuple(map(int, x)) for x in order[:k]])}
             for k in args.prune_steps]
    print(curve, flush=True)
    results["pruning"] = {"importance": imp.tolist(), "importance_method": "gradient (Michel et al., 2019), "
                          "layer-normalised", "importance_sentences": len(val["labels"]), "curve": curve,
                          "teacher_test_acc": teacher_acc, "same_teacher_as_distillation": same,
                          "random_orders": [], "test_sentences": len(test["labels"]),
                          "note": "heads masked least important first; random_orders: the same counts in random order"}
    save()
    for r in range(args.random_orders):
        shuffled = order[np.random.default_rng(r).permutation(n_heads)]
        results["pruning"]["random_orders"].append(
            [{"heads_removed": k, "test_acc": masked_accuracy([tuple(map(int, x)) for x in shuffled[:k]])}
             for k in args.random_prune_steps])
        print("random order", r, results["pruning"]["random_orders"][-1], flush=True)
        save()
    half = [tuple(map(int, x)) for x in order[:n_heads // 2]]
    models = {"teacher (6 layers)": teacher,
              # the students' architecture (every other layer); latency does not depend on the trained weights
              "student (3 layers)": student_from_teacher(teacher, [0, 2, 4]),
              "int8_per_tensor": quantize_int8(teacher, per_channel=False),
              "int8_per_channel": quantize_int8(teacher, per_channel=True)}
    try:  # remove half the heads for real (smaller matrices), not only masked
        pruned = copy.deepcopy(teacher)
        prune_heads(pruned.bert, half)
        models["pruned half"] = pruned
        pruned_info = {"heads_removed": len(half), "test_acc": _test_accuracy(pruned, test),
                       "parameters": count_parameters(pruned), "parameters_before": count_parameters(teacher)}
    except ValueError as e:  # a layer would lose all its heads
        pruned_info = {"skipped": str(e)}
    results["pruning"]["pruned_half"] = pruned_info
    save()

    # latency of every model above on the same 64 test sentences, in interleaved rounds (fair on a busy machine)
    bench = {k: test[k][:64] for k in ("input_ids", "token_type_ids", "attention_mask")}
    for m in models.values():
        m.eval()
    with torch.no_grad():
        ms = latency_table({name: (lambda m=m: m(**bench)) for name, m in models.items()}, rounds=args.latency_rounds)
    results["latency"] = {"ms_per_64_sentences": ms, "rounds": args.latency_rounds, "threads": args.threads,
                          "batch": "the first 64 test sentences, padded to 64 tokens",
                          "note": "median of interleaved rounds on a machine shared with other work: compare the "
                                  "ratios between rows, not the milliseconds with another machine"}
    print(ms, flush=True)
    save()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="chapter 09's longer ablations")
    parser.add_argument("--pretrain-seconds", type=float, default=90.0)
    parser.add_argument("--pretrain-pairs", type=int, default=2000,
                        help="size of the pre-training pool (small, so static masks are seen several times)")
    parser.add_argument("--labels", type=int, default=2000, help="sentiment labels for fine-tuning pre-trained models")
    parser.add_argument("--finetune-seeds", type=int, default=3)
    parser.add_argument("--albert-epochs", type=float, default=1.0)
    parser.add_argument("--distil-labels", type=int, default=2000)
    parser.add_argument("--prune-steps", type=int, nargs="+", default=[0, 6, 12, 24, 36, 48, 60])
    parser.add_argument("--random-orders", type=int, default=3, help="random head orders pruned as the baseline")
    parser.add_argument("--random-prune-steps", type=int, nargs="+", default=[6, 12, 24, 36, 48, 60])
    parser.add_argument("--latency-rounds", type=int, default=7)
    parser.add_argument("--sections", nargs="+", default=["pretraining", "albert", "distillation", "pruning"],
                        choices=["pretraining", "albert", "distillation", "pruning"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS_JSON)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = "python -m bertlab.runs.after_bert " + " ".join(argv if argv is not None else sys.argv[1:])
    results: dict = json.loads(args.out.read_text()) if args.out.is_file() else {}
    owned = {"pretraining": ["pretraining"], "albert": ["albert"],
             "distillation": ["distillation", "quantization"], "pruning": ["pruning", "latency"]}
    for name in args.sections:  # results of the sections run now are replaced, never mixed with older ones
        for key in owned[name]:
            results.pop(key, None)
    results.update({"command": command.strip(), "seed": args.seed, "threads": args.threads,
                    "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
                    "machine": platform.machine(), "times_s": results.get("times_s", {})})
    t_all = time.perf_counter()

    def save() -> None:
        results["times_s"]["total"] = round(time.perf_counter() - t_all, 1)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(to_markdown(results))

    sections = {"pretraining": run_pretraining, "albert": run_albert, "distillation": run_distillation,
                "pruning": run_pruning}
    for name in args.sections:  # in the order given
        t0 = time.perf_counter()
        sections[name](args, results, save)
        results["times_s"][name] = round(time.perf_counter() - t0, 1)
        for key in owned[name]:  # each section remembers the command that measured it, and how
            if key in results:
                results[key].update(command=command.strip(), threads=args.threads, torch=torch.__version__)
        save()
    return 0


def _acc(v: dict) -> str:
    """"mean ± sd (n = k)" of a row's per-seed test accuracies (sd with ddof = 1), collapsed runs left out and named."""
    accs, collapsed = v["test_accs"], v.get("collapsed", [False] * len(v["test_accs"]))
    kept = [a for a, c in zip(accs, collapsed) if not c]
    flag = f" · {sum(collapsed)} collapsed run(s) left out" if any(collapsed) else ""
    if not kept:
        return "all runs collapsed"
    mean, sd = mean_sd(kept)
    spread = f" ± {sd:.1%} (n = {len(kept)})" if len(kept) > 1 else " (one seed)"
    return f"{mean:.1%}{spread}{flag}"


def to_markdown(r: dict) -> str:
    """The results as readable tables (the JSON beside it is the source): mean ± sd (ddof = 1) over seeds."""
    lines = ["# Chapter 09 — measured ablations", "",
             f"Last command: `{r.get('command')}` · seed {r.get('seed')} · {r.get('threads')} thread(s) · "
             f"torch {r.get('torch')} · times (s): {r.get('times_s')}", ""]
    if r.get("note"):
        lines += [f"Note: {r['note']}", ""]
    sections = {k: r[k]["command"] for k in ("pretraining", "albert", "distillation", "quantization", "pruning",
                                             "latency") if k in r and "command" in r[k]}
    lines += ["Measured by (each section records its own command):", ""]
    lines += [f"- {k}: `{c}`" for k, c in sections.items()] + [""]

    def table(title: str, header: list[str], rows: list[list[str]]) -> None:
        lines.extend([f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)])
        lines.extend("| " + " | ".join(row) + " |" for row in rows)
        lines.append("")

    if "pretraining" in r:
        p = r["pretraining"]
        first = next(iter(p["rows"].values()))
        table(f"RoBERTa / ELECTRA: pre-training objectives at equal wall time ({p['pretrain_seconds']:g} s each), "
              f"then {first['labels']:,} labels, {first.get('pooling', 'cls')} pooling",
              ["objective", "steps", "test accuracy (mean ± sd over seeds)"],
              [[k, f"{v['steps']}", _acc(v)] for k, v in p["rows"].items()])
    if "albert" in r:
        table("ALBERT: parameter sharing and factorised embedding (trained from scratch)",
              ["model", "parameters", "test accuracy (mean ± sd over seeds)"],
              [[k, f"{v['parameters']:,}", _acc(v)] for k, v in r["albert"]["rows"].items()])
    ms = r.get("latency", {}).get("ms_per_64_sentences", {})

    def ms_of(name: str) -> str:
        return f"{ms[name]:.0f}" if name in ms else "—"

    if "distillation" in r:
        d = r["distillation"]
        table(f"DistilBERT: distillation from MiniLM (6 layers) to 3 layers ({d['labels']:,} labels; "
              f"transfer set {d.get('transfer_sentences', '—')} unlabelled sentences)",
              ["model", "trained on", "parameters", "test accuracy", "ms / 64 sentences (latency section)"],
              [[k, f"{v.get('training_sentences', d['labels']):,} sentences", f"{v['parameters']:,}",
                _acc(v) if "test_accs" in v else f"{v['test_acc']:.1%} (one teacher)",
                ms_of(k if k.startswith("teacher") else "student (3 layers)")] for k, v in d["rows"].items()])
    if "quantization" in r:
        q = r["quantization"]
        lines += ["## Dynamic int8 quantisation of the fine-tuned teacher", "",
                  "| | size MB | ms / 64 sentences (latency section) | test accuracy | same prediction as fp32 |",
                  "|---|---|---|---|---|"]
        lines += [f"| {k} | {q[k]['size_mb']:.1f} | {ms_of('teacher (6 layers)' if k == 'fp32' else k)} | "
                  f"{q[k]['test_acc']:.1%} | {q[k].get('agreement', float('nan')):.1%} |"
                  for k in ("fp32", "int8_per_tensor", "int8_per_channel") if k in q]
        lines += ["", f"On {q['test_sentences']} test sentences.", ""]
    if "pruning" in r:
        pr = r["pruning"]
        randoms = pr.get("random_orders", [])
        by_k = {c["heads_removed"]: [rc["test_acc"] for curve in randoms for rc in curve
                                     if rc["heads_removed"] == c["heads_removed"]] for c in pr["curve"]}
        lines += [f"## Head pruning (importance: {pr.get('importance_method', 'accuracy drop when masked')}, on "
                  f"{pr.get('importance_sentences')} validation sentences; least important first)", "",
                  "| heads removed | test accuracy | random order (mean ± sd) |", "|---|---|---|"]
        for c in pr["curve"]:
            rnd = by_k[c["heads_removed"]]
            rnd_s = _acc({"test_accs": rnd}) if rnd else "—"
            lines.append(f"| {c['heads_removed']} | {c['test_acc']:.1%} | {rnd_s} |")
        half = pr.get("pruned_half", {})
        if "test_acc" in half:
            lines += ["", f"Half the heads ({half['heads_removed']}) removed for real: {half['parameters']:,} parameters, "
                          f"{ms_of('pruned half')} ms / 64 sentences, test accuracy {half['test_acc']:.1%}."]
        lines.append("")
    if "latency" in r:
        lat = r["latency"]
        table(f"Latency: one batch of 64 test sentences, median of {lat.get('rounds')} interleaved rounds, "
              f"{lat.get('threads')} thread(s)", ["model", "ms"], [[k, f"{v:.0f}"] for k, v in ms.items()])
        if lat.get("note"):
            lines += [lat["note"], ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
