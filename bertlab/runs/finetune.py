"""What pre-training buys, and when: learning curves on the review sentences (chapter 06), full runs.

    python -m bertlab.runs.finetune                      # everything: ~30 min on one thread
    python -m bertlab.runs.finetune --models tfidf tiny --sizes 250 1000 --out runs/quick.json

Five learners, each trained on the first n sentences of one fixed shuffle of the training split
(nested subsets: 250 ⊂ 1,000 ⊂ 4,000 ⊂ all 10,201), early-stopped on the validation split and scored
once on the test split (1,276 sentences):

- ``tfidf``   TF-IDF of word uni+bigrams → logistic regression (C picked on validation): no pre-training.
- ``random``  the course's tiny BERT architecture (2 layers, 128 wide, KJV vocabulary), random weights.
- ``tiny``    the same network from ``data/tiny-bert`` (pre-trained 28 min on the King James Bible).
- ``minilm-probe``  all-MiniLM-L6-v2 frozen, mean-pooled features → logistic regression (linear probe).
- ``minilm``  all-MiniLM-L6-v2 fully fine-tuned (mean pooling, as it was pre-trained).

The results go to ``data/finetune_results.json`` and ``.md``; chapter 06 prints them beside what it
measures live.

    python -m bertlab.runs.finetune --task ner           # name tagging on the KJV (bertlab.ner_data), ~15 min

trains ``random``, ``tiny`` and ``minilm`` token classifiers on the same verses and reports entity-level
precision / recall / F1 on verses with names seen in training and with held-out names, into
``data/finetune_ner_results.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .. import data
from ..finetuning import encode_sentences, encode_tagged, fine_tune, predict_logits
from ..learners import (
    RECIPES,
    minilm_classifier,
    minilm_features,
    run_probe,
    run_tfidf,
    subset,
    tag_scores,
    tiny_classifier,
    token_classifier,
)
from ..ner_data import TAGS, load_ner
from ..training.metrics import scores

SIZES = ("250", "1000", "4000", "all")
MODELS = ("tfidf", "random", "tiny", "minilm-probe", "minilm")


def run_finetune(name: str, n: int | None, train, val, test, seed: int, progress: bool) -> dict:
    """Fine-tune one learner on the first n training sentences; test scores of the best-validation weights."""
    recipe = RECIPES[name]
    if name == "minilm":
        model, tok = minilm_classifier(recipe["pooling"], seed)
    else:
        model, tok = tiny_classifier(name == "tiny", recipe["pooling"], seed)
    tr = encode_sentences(tok, *train)
    va, te = encode_sentences(tok, *val), encode_sentences(tok, *test)
    epochs = recipe["epochs"][n if n in recipe["epochs"] else None]
    res = fine_tune(model, tr, va, epochs=epochs, lr=recipe["lr"], patience=3, evals_per_epoch=1 if n else 2,
                    seed=seed, progress=progress)
    pred = predict_logits(model, te).argmax(-1).numpy()
    return {**scores(test[1], pred), "train_seconds": res.seconds, "steps": res.steps, "epochs_planned": epochs,
            "lr": recipe["lr"], "best_val_accuracy": res.best_score, "stopped_early": res.stopped_early}


def to_markdown(results: dict) -> str:
    """The learning-curve table: one row per learner, one column per number of labels."""
    sizes = results["sizes"]
    lines = ["# Chapter 06 — what pre-training buys, and when", "",
             f"Command: `{results['command']}` · seed {results['seed']} · "
             f"torch {results['torch']} · test split {results['n_test']} sentences", "",
             "Test accuracy (macro F1) [training seconds, threads] by number of labelled training sentences:", "",
             "| learner | " + " | ".join(sizes) + " |", "|---|" + "---|" * len(sizes)]
    for name, row in results["rows"].items():
        cells = []
        for s in sizes:
            r = row.get(s)
            cells.append("—" if r is None else f"{100 * r['accuracy']:.1f}% ({100 * r['macro_f1']:.1f}) "
                                               f"[{r['train_seconds']:.0f} s, {r.get('threads', '?')}]")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


NER_RECIPES = {"random": {"lr": 1e-3, "epochs": 4}, "tiny": {"lr": 1e-3, "epochs": 4}, "minilm": {"lr": 1e-4, "epochs": 3}}


def run_ner(models: list[str], seed: int, out: Path, progress: bool) -> dict:
    """Train each tagger on the KJV name set; score seen-name and held-out-name verses."""
    ner = load_ner()
    results = {"command": "python -m bertlab.runs.finetune --task ner", "seed": seed, "threads": torch.get_num_threads(),
               "stats": ner["stats"], "sizes": {k: len(ner[k]) for k in ("train", "test_seen", "test_unseen")},
               "rows": {}}
    for name in models:
        model, tok = token_classifier(name, len(TAGS), seed)
        recipe = NER_RECIPES[name]
        res = fine_tune(model, encode_tagged(tok, ner["train"].words, ner["train"].tag_ids()), None,
                        epochs=recipe["epochs"], lr=recipe["lr"], seed=seed, progress=progress)
        row = {"train_seconds": res.seconds, "steps": res.steps, **recipe,
               "seen": tag_scores(model, tok, ner["test_seen"]), "unseen": tag_scores(model, tok, ner["test_unseen"])}
        results["rows"][name] = row
        print(f"{name:>8}: F1 seen names {100 * row['seen']['f1']:.1f}  held-out names {100 * row['unseen']['f1']:.1f}"
              f"  ({res.seconds:.0f} s)", flush=True)
        out.write_text(json.dumps(results, indent=1))
        lines = ["# Chapter 06 — tagging names in the KJV (bertlab.ner_data)", "",
                 f"`{results['command']}` · train {results['sizes']['train']} verses · test {results['sizes']['test_seen']}"
                 f" (seen names) + {results['sizes']['test_unseen']} (held-out names) verses", "",
                 "| model | P / R / F1, seen names | P / R / F1, held-out names | training seconds |", "|---|---|---|---|"]
        for n, r in results["rows"].items():
            cells = [" / ".join(f"{100 * r[s][k]:.1f}" for k in ("precision", "recall", "f1")) for s in ("seen", "unseen")]
            lines.append(f"| {n} | {cells[0]} | {cells[1]} | {r['train_seconds']:.0f} |")
        out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bertlab.runs.finetune", description=__doc__.split("\n")[0])
    p.add_argument("--task", choices=("sentiment", "ner"), default="sentiment")
    p.add_argument("--models", nargs="+", default=None, choices=MODELS)
    p.add_argument("--sizes", nargs="+", default=list(SIZES), help="numbers of labelled examples, or 'all'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=data.DATA_DIR / "finetune_results.json")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    for s in args.sizes:
        if s != "all" and not (s.isdigit() and int(s) > 0):
            p.error(f"--sizes: {s!r} is neither a positive number nor 'all'")
    torch.set_num_threads(args.threads)
    if args.task == "ner":
        out = args.out if args.out != p.get_default("out") else data.DATA_DIR / "finetune_ner_results.json"
        models = args.models or list(NER_RECIPES)
        if bad := [m for m in models if m not in NER_RECIPES]:
            p.error(f"--task ner trains {sorted(NER_RECIPES)}; not {bad}")
        run_ner(models, args.seed, out, not args.no_progress)
        return 0
    args.models = args.models or list(MODELS)
    train, val, test = (data.load_sentiment(s) for s in ("train", "validation", "test"))
    results = {"command": "python -m bertlab.runs.finetune " + " ".join(argv if argv is not None else sys.argv[1:]),
               "seed": args.seed, "threads": args.threads, "torch": torch.__version__, "machine": platform.machine(),
               "n_train": len(train[0]), "n_val": len(val[0]), "n_test": len(test[0]), "sizes": args.sizes,
               "rows": {}}
    if args.out.exists():  # resume: keep rows already measured with the same seed (each row records its threads)
        old = json.loads(args.out.read_text())
        if old.get("seed") == args.seed:
            results["rows"] = old.get("rows", {})
            for row in results["rows"].values():
                for r in row.values():
                    r.setdefault("threads", old.get("threads"))
            if old.get("command") != results["command"]:
                results["command"] = f"{old.get('command')}; then {results['command']}"
    features = None
    t_all = time.perf_counter()
    for name in args.models:
        for s in args.sizes:
            if s in results["rows"].get(name, {}):
                continue
            n = None if s == "all" else int(s)
            sub = subset(*train, n, args.seed)
            t0 = time.perf_counter()
            if name == "tfidf":
                r = run_tfidf(sub, val, test)
            elif name == "minilm-probe":
                features = features or minilm_features(train, val, test)
                idx = np.random.default_rng(args.seed).permutation(len(train[0]))[: n or len(train[0])]
                r = run_probe(features, idx, val[1], test[1])
            else:
                r = run_finetune(name, n, sub, val, test, args.seed, not args.no_progress)
            results["rows"].setdefault(name, {})[s] = {**r, "threads": args.threads}
            print(f"{name:>13} n={s:>5}: test accuracy {100 * r['accuracy']:.1f}%  macro F1 {100 * r['macro_f1']:.1f}"
                  f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1))
            args.out.with_suffix(".md").write_text(to_markdown(results))
    print(f"done in {time.perf_counter() - t_all:.0f} s → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
