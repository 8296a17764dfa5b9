"""What pre-training buys, and when: learning curves on the review sentences (chapter 06), full runs.

    python -m bertlab.runs.learning_curves --threads 1                 # the whole grid, resumable (hours on one thread)
    python -m bertlab.runs.learning_curves --learners course-bert random-init --sizes 1000 --seeds 0 1 2 3 4
    python -m bertlab.runs.learning_curves --task ner                  # name tagging on the KJV, ~15 min

Seven learners, each trained on ``n`` labelled sentences of the training split (``n`` = 250, 1,000, 4,000 or
all 10,201), early-stopped on the validation split and scored once on the test split (1,276 sentences):

- ``majority``            always the most frequent class of its labelled sentences (the floor);
- ``tfidf``               TF-IDF of word uni+bigrams → logistic regression (C picked on validation);
- ``random-init``         the course BERT's architecture and vocabulary, random weights;
- ``course-bert``         the same network from ``data/course-bert`` (task-adaptive pre-training, chapter 05);
- ``minilm-probe``        all-MiniLM-L6-v2 frozen, mean-pooled features → logistic regression;
- ``minilm``              all-MiniLM-L6-v2 fully fine-tuned (mean pooling, as it was pre-trained);
- ``minilm-random-init``  MiniLM's architecture (6 layers, 384 wide, its vocabulary), random weights.

**Seed s** draws the labelled sentences (the first n of permutation s of the training split), the new
head's (or the whole random network's) initial weights and the batch order, so the spread over seeds is
what a learner gets from *some* n labelled sentences. Every run is one row of ``"runs"`` in
``data/finetune_results.json`` (the contract ``tests/test_finetune_results.py`` reads):
``{"learner", "labels" (int or "all"), "seed", "accuracy", "macro_f1", "confusion", "collapsed", …}``.
A run whose test predictions are ≥ 99 % one class is ``"collapsed": true`` — tables show it apart,
never averaged in. The command is resumable: runs already in the file are kept, not repeated.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .. import data
from ..finetuning import encode_sentences, encode_tagged, fine_tune, is_collapsed, predict_logits
from ..learners import (
    LEARNERS,
    RECIPES,
    classifier,
    minilm_features,
    run_majority,
    run_probe,
    run_tfidf,
    scores,
    subset,
    summarize,
    tag_scores,
    token_classifier,
)
from ..ner_data import TAGS, load_ner

SIZES = ("250", "1000", "4000", "all")
SEEDS = (0, 1, 2)
# Seeds per (learner, size) where one run takes more than 5 minutes on one thread; everything else gets SEEDS.
EXPENSIVE = {("minilm", "250"): (0,), ("minilm", "4000"): (0,), ("minilm", "all"): (0,),
             ("minilm-random-init", "250"): (0,), ("minilm-random-init", "1000"): (0,)}
PLAN = {"minilm-random-init": ("250", "1000")}  # sizes run for a learner by default (all sizes otherwise)


def planned_seeds(learner: str, size: str, seeds: tuple[int, ...] | None) -> tuple[int, ...]:
    """The seeds to run: ``--seeds`` if given, else 1 seed for the expensive cells, 3 otherwise."""
    if seeds is not None:
        return seeds
    return EXPENSIVE.get((learner, size), SEEDS)


def run_one(learner: str, n: int | None, seed: int, train, val, test, features: dict | None,
            progress: bool) -> dict:
    """One learner × labels × seed: train on the labelled subset, score on test."""
    sub = subset(*train, n, seed)
    if learner == "majority":
        return run_majority(sub, test)
    if learner == "tfidf":
        return run_tfidf(sub, val, test)
    if learner == "minilm-probe":
        idx = np.random.default_rng(seed).permutation(len(train[0]))[: n or len(train[0])]
        return run_probe(features, idx, val[1], test[1])
    recipe = RECIPES[learner]
    model, tok = classifier(learner, seed)
    tr, va, te = encode_sentences(tok, *sub), encode_sentences(tok, *val), encode_sentences(tok, *test)
    epochs = recipe["epochs"][str(n) if str(n) in recipe["epochs"] else "all"]
    res = fine_tune(model, tr, va, epochs=epochs, lr=recipe["lr"], patience=recipe["patience"],
                    min_epochs=recipe["min_epochs"], evals_per_epoch=1 if n else 2, seed=seed,
                    group_by_length=True, progress=progress, desc=f"{learner} n={n or 'all'} seed {seed}")
    pred = predict_logits(model, te).argmax(-1).numpy()
    out = scores(test[1], pred)
    return {**out, "collapsed": is_collapsed(pred), "train_seconds": res.seconds, "steps": res.steps,
            "best_step": res.best_step, "best_val_accuracy": res.best_score, "stopped_early": res.stopped_early,
            "val_curve": res.val_scores, "lr": recipe["lr"], "epochs_planned": epochs}


def versions() -> dict:
    """Library versions and the repository commit, for the record."""
    import sklearn

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=data.DATA_DIR.parent, capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "sklearn": sklearn.__version__, "machine": platform.machine(), "repo_commit": commit}


def to_markdown(results: dict) -> str:
    """Mean ± sd (ddof = 1) test accuracy by learner × labels; collapsed runs listed apart."""
    table = summarize(results["runs"])
    sizes = [s for s in SIZES if any(str(r["labels"]) == s for r in results["runs"])]
    lines = ["# Chapter 06 — what pre-training buys, and when", "",
             "Produced by `python -m bertlab.runs.learning_curves` (commands in order: "
             + "; ".join(f"`{c}`" for c in results["commands"]) + f"). {results['threads']} thread per run on a "
             "2-core machine shared with other work (seconds are wall-clock, comparable only roughly). "
             f"Test split: {results['n_test']} sentences.", "",
             "Test accuracy %, mean ± sd over seeds (n = runs) [mean training seconds]. Seed s draws the labelled "
             "sentences, the initial weights and the batch order. Collapsed runs (≥ 99 % of test predictions one "
             "class) are not in the mean; they are counted after it.", "",
             "| learner | " + " | ".join(sizes) + " |", "|---|" + "---|" * len(sizes)]
    for learner in LEARNERS:
        cells = []
        for s in sizes:
            cell = table.get((learner, s))
            if cell is None:
                cells.append("—")
                continue
            sd = f" ± {100 * cell['sd']:.1f}" if cell["n"] > 1 else ""
            text = f"{100 * cell['mean']:.1f}{sd} (n = {cell['n']}) [{cell['seconds']:.0f} s]" if cell["n"] else "—"
            if cell["collapsed"]:
                text += f" + {cell['collapsed']} collapsed"
            cells.append(text)
        if any(c != "—" for c in cells):
            lines.append(f"| {learner} | " + " | ".join(cells) + " |")
    lines += ["", "Recipes: " + "; ".join(f"{k}: lr {v['lr']}, epochs {v['epochs']}, patience {v['patience']} after "
                                         f"warm-up and {v['min_epochs']} epochs" for k, v in results["recipes"].items())]
    return "\n".join(lines) + "\n"


NER_RECIPES = {"random": {"lr": 1e-3, "epochs": 4}, "tiny": {"lr": 1e-3, "epochs": 4}, "minilm": {"lr": 1e-4, "epochs": 3}}


def run_ner(models: list[str], seed: int, out: Path, progress: bool) -> dict:
    """Train each tagger on the KJV name set; score seen-name and held-out-name verses."""
    ner = load_ner()
    results = {"command": "python -m bertlab.runs.learning_curves --task ner", "seed": seed, "threads": torch.get_num_threads(),
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


def save_runs(out: Path, results: dict, new_runs: list[dict], command: str) -> dict:
    """Merge ``new_runs`` into the results file under an exclusive lock and write it (and its table) back.

    The file is re-read inside the lock, so several commands can fill one grid at once (e.g. MiniLM on one
    core, the tiny models on the other) without losing each other's runs; a run measured again replaces the
    old one with the same (learner, labels, seed).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = {**results, "runs": [], "commands": []}
        if out.exists():
            old = json.loads(out.read_text())
            merged["runs"], merged["commands"] = old.get("runs", []), old.get("commands", [])
        if command not in merged["commands"]:
            merged["commands"].append(command)
        index = merged["commands"].index(command)
        keys = {(r["learner"], str(r["labels"]), r["seed"]) for r in new_runs}
        merged["runs"] = [r for r in merged["runs"] if (r["learner"], str(r["labels"]), r["seed"]) not in keys]
        merged["runs"] += [{**r, "command": index} for r in new_runs]
        merged["versions"] = versions()
        out.write_text(json.dumps(merged, indent=1) + "\n")
        out.with_suffix(".md").write_text(to_markdown(merged))
    return merged


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bertlab.runs.learning_curves", description=__doc__.split("\n")[0])
    p.add_argument("--task", choices=("sentiment", "ner"), default="sentiment")
    p.add_argument("--learners", nargs="+", default=None, choices=LEARNERS)
    p.add_argument("--sizes", nargs="+", default=None, help="numbers of labelled examples, or 'all'")
    p.add_argument("--seeds", nargs="+", type=int, default=None,
                   help="default: 0 1 2, and only 0 for the cells that take > 5 min per run")
    p.add_argument("--seed", type=int, default=0, help="--task ner: the one seed")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=data.DATA_DIR / "finetune_results.json")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    for s in args.sizes or ():
        if s != "all" and not (s.isdigit() and int(s) > 0):
            p.error(f"--sizes: {s!r} is neither a positive number nor 'all'")
    torch.set_num_threads(args.threads)
    command = "python -m bertlab.runs.learning_curves " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.task == "ner":
        out = args.out if args.out != p.get_default("out") else data.DATA_DIR / "finetune_ner_results.json"
        models = args.learners or list(NER_RECIPES)
        if bad := [m for m in models if m not in NER_RECIPES]:
            p.error(f"--task ner trains {sorted(NER_RECIPES)}; not {bad}")
        run_ner(models, args.seed, out, not args.no_progress)
        return 0
    train, val, test = (data.load_sentiment(s) for s in ("train", "validation", "test"))
    results = {"commands": [], "threads": args.threads, "versions": versions(),
               "n_train": len(train[0]), "n_val": len(val[0]), "n_test": len(test[0]),
               "recipes": {k: v for k, v in RECIPES.items()}, "runs": []}
    if args.out.exists():  # resume: runs already measured are kept, never repeated
        old = json.loads(args.out.read_text())
        results["runs"], results["commands"] = old.get("runs", []), old.get("commands", [])
    done = {(r["learner"], str(r["labels"]), r["seed"]) for r in results["runs"]}
    features, new_runs, t_all = None, [], time.perf_counter()
    for learner in args.learners or LEARNERS:
        for s in args.sizes or PLAN.get(learner, SIZES):
            n = None if s == "all" else int(s)
            for seed in planned_seeds(learner, s, tuple(args.seeds) if args.seeds else None):
                if (learner, s, seed) in done:
                    continue
                if learner == "minilm-probe" and features is None:
                    features = minilm_features(train, val, test)
                t0 = time.perf_counter()
                r = run_one(learner, n, seed, train, val, test, features, not args.no_progress)
                row = {"learner": learner, "labels": n or "all", "seed": seed, **r,
                       "wall_seconds": time.perf_counter() - t0, "threads": args.threads}
                new_runs.append(row)
                flag = "  COLLAPSED (one class)" if r.get("collapsed") else ""
                print(f"{learner:>18} n={s:>5} seed {seed}: test accuracy {100 * r['accuracy']:.1f}%  "
                      f"macro F1 {100 * r['macro_f1']:.1f}  ({row['wall_seconds']:.0f} s){flag}", flush=True)
                save_runs(args.out, results, new_runs, command)
    print(f"done in {time.perf_counter() - t_all:.0f} s → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
