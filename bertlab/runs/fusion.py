"""Chapter 08's experiments over seeds: fusion styles × image encoders × pooling, image–text matching and the dual
encoder's prompt classification — the tables the notebook quotes beside its one live seed.

    python -m bertlab.runs.fusion --threads 1                      # everything, ~20 min on one busy thread
    python -m bertlab.runs.fusion --sections claims --seeds 0 1 2 3 4

Sections (results are saved after every run; runs already in the file are kept, not repeated):

- ``digits``: the two image encoders (ViT-style patches, small CNN) as plain 10-class digit classifiers;
- ``claims``: the both-modalities task (``multimodal_data.digit_claims``): the unimodal baselines, late fusion
  (concatenation, gated weighted sum) with each image encoder, early fusion, co-attention, and two pooling
  ablations of late concatenation ([CLS]-pooled text, mean-pooled CNN map);
- ``itm``: the co-attention model on image–text matching (negatives from another digit);
- ``clip``: the dual encoder (InfoNCE); classification by prompts in the training captions' wording and in two
  held-out wordings; retrieval recall; the learned temperature; and a held-out-*class* run (captions of the
  digits 0–7 only, then images of 8 and 9).

One recipe for every classifier, the course's :func:`bertlab.finetuning.fine_tune` (AdamW, no decay on biases
and LayerNorm, 10 % warm-up then linear decay, clipping at 1.0, batch 64) for up to ``--epochs`` epochs with one
validation evaluation per epoch, the best validation weights kept, patience 3 after 2 epochs. The learning
rate is the one setting searched (``--lrs``): each model gets the rate with the best *mean validation* accuracy
over the seeds, and only then is its test accuracy read. Seed s fixes the initial weights and the batch order.
Writes ``data/fusion_results.json`` (every run, command, threads, versions) and ``data/fusion_results.md``.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .. import data
from .. import multimodal_data as md
from ..finetuning import fine_tune, is_collapsed, predict_logits
from ..fusion.models import (
    CrossAttentionFusion,
    DualEncoder,
    EarlyFusion,
    ImageOnly,
    LateFusionConcat,
    LateFusionGated,
    TextOnly,
)
from ..fusion.objectives import distinct_class_batches, itm_pairs, retrieval_recall
from ..fusion.training import to_tensors, train_contrastive
from ..model import BertConfig
from ..pretraining import tiny_config
from ..tokenizer import WordPieceTokenizer
from ..training.metrics import accuracy

RESULTS_JSON = data.DATA_DIR / "fusion_results.json"
PATCH = 4  # 8×8 digits → 4 patches of 4×4
SECTIONS = ("digits", "claims", "itm", "clip")


def chapter_setup() -> tuple[WordPieceTokenizer, BertConfig]:
    """The tokenizer and the tiny BERT configuration chapter 08 uses (1 layer, hidden 64, no dropout)."""
    tok = WordPieceTokenizer(md.chapter_vocab())
    return tok, tiny_config(len(tok), hidden_size=64, num_hidden_layers=1, max_position_embeddings=64, dropout=0.0)


def claim_models(cfg: BertConfig) -> dict[str, tuple[str, Callable[[], torch.nn.Module]]]:
    """name → (group, build) for the both-modalities task."""
    return {
        "text-only": ("unimodal", lambda: TextOnly(cfg)),
        "image-only (cnn)": ("unimodal", lambda: ImageOnly(cfg, 8, PATCH, encoder="cnn")),
        "image-only (patch)": ("unimodal", lambda: ImageOnly(cfg, 8, PATCH, encoder="patch")),
        "late concat (cnn)": ("fusion", lambda: LateFusionConcat(cfg, 8, PATCH, encoder="cnn")),
        "late concat (patch)": ("fusion", lambda: LateFusionConcat(cfg, 8, PATCH, encoder="patch")),
        "late weighted sum (cnn)": ("fusion", lambda: LateFusionGated(cfg, 8, PATCH, encoder="cnn")),
        "late weighted sum (patch)": ("fusion", lambda: LateFusionGated(cfg, 8, PATCH, encoder="patch")),
        "early (patch)": ("fusion", lambda: EarlyFusion(cfg, 8, PATCH)),
        "cross-attention (patch)": ("fusion", lambda: CrossAttentionFusion(cfg, 8, PATCH)),
        "late concat (cnn), [CLS]-pooled text": ("pooling", lambda: LateFusionConcat(cfg, 8, PATCH, encoder="cnn",
                                                                                     text_pooling="cls")),
        "late concat (cnn), mean-pooled image": ("pooling", lambda: LateFusionConcat(cfg, 8, PATCH, encoder="cnn",
                                                                                     image_pooling="mean")),
    }


def _classifier_run(build, train: dict, val: dict, test: dict, lr: float, seed: int, epochs: float,
                    test_classes: np.ndarray | None = None) -> dict:
    torch.manual_seed(seed)
    model = build()
    res = fine_tune(model, train, val, epochs=epochs, lr=lr, batch_size=64, patience=3, min_epochs=2, seed=seed)
    pred = predict_logits(model, test).argmax(-1)
    out = {"val": res.best_score, "test": accuracy(pred, test["labels"]), "best_step": res.best_step,
           "steps": res.steps, "steps_per_epoch": -(-len(train["labels"]) // 64),
           "val_curve": [round(s, 4) for _, s in res.val_scores], "seconds": round(res.seconds, 1),
           "collapsed": bool(is_collapsed(pred))}
    if test_classes is not None:  # accuracy per digit: where a plateau comes from
        right = (pred == test["labels"]).numpy()
        out["test_by_digit"] = [round(float(right[test_classes == d].mean()), 4) for d in range(10)]
    return out


def _grid(results: dict, save, section: str, models: dict, splits: tuple[dict, dict, dict], lrs, seeds,
          epochs: float, unimodal_lr: float, test_classes: np.ndarray | None = None) -> None:
    done = {(r["section"], r["model"], r["lr"], r["seed"]) for r in results["runs"]}
    for name, (group, build) in models.items():
        for lr in ([unimodal_lr] if group == "unimodal" else lrs):
            for seed in seeds:
                if (section, name, lr, seed) in done:
                    continue
                run = _classifier_run(build, *splits, lr=lr, seed=seed, epochs=epochs, test_classes=test_classes)
                results["runs"].append({"section": section, "model": name, "group": group, "lr": lr, "seed": seed,
                                        **run})
                print(f"{section:7} {name:38} lr {lr:g} seed {seed}: val {run['val']:.3f} test {run['test']:.3f} "
                      f"({run['seconds']:.0f} s)", flush=True)
                save()


def run_digits(args, results: dict, save) -> None:
    tok, cfg = chapter_setup()
    splits = tuple(to_tensors(md.digit_captions(s), tok) for s in md.SPLITS)
    models = {f"digits ({kind})": ("image", lambda kind=kind: ImageOnly(cfg, 8, PATCH, num_labels=10, encoder=kind))
              for kind in ("patch", "cnn")}
    _grid(results, save, "digits", models, splits, args.lrs, args.seeds, args.epochs, args.lrs[0])


def run_claims(args, results: dict, save) -> None:
    tok, cfg = chapter_setup()
    sets = [md.digit_claims(s) for s in md.SPLITS]
    splits = tuple(to_tensors(s, tok) for s in sets)
    _grid(results, save, "claims", claim_models(cfg), splits, args.lrs, args.seeds, args.epochs, args.lrs[0],
          test_classes=sets[2].classes)


def run_itm(args, results: dict, save) -> None:
    tok, cfg = chapter_setup()
    splits = tuple(to_tensors(itm_pairs(md.digit_captions(s), np.random.default_rng(k)), tok)
                   for k, s in enumerate(md.SPLITS))
    models = {"ITM cross-attention (patch)": ("fusion", lambda: CrossAttentionFusion(cfg, 8, PATCH))}
    _grid(results, save, "itm", models, splits, args.lrs, args.seeds, args.epochs, args.lrs[0])


@torch.no_grad()
def prompt_scores(model: DualEncoder, tok: WordPieceTokenizer, images: torch.Tensor, classes: torch.Tensor,
                  template: str, candidates: tuple[int, ...] = tuple(range(10))) -> float:
    """Accuracy of giving each image the digit whose prompt (in ``template``'s wording) is most similar, among
    ``candidates``."""
    prompts = tok.encode_batch([md.digit_prompt(d, template) for d in candidates])
    sim = model.encode_image(images) @ model.encode_text(prompts["input_ids"], prompts["attention_mask"]).T
    pred = torch.as_tensor(candidates)[sim.argmax(1)]
    return float((pred == classes).float().mean())


@torch.no_grad()
def recalls(model: DualEncoder, tok: WordPieceTokenizer, test: dict, classes: np.ndarray) -> dict:
    """Image → text recall@1/5 over the ten prompts; text → image recall@1/5 over galleries of ten test images,
    one per digit (chance 0.1 / 0.5 for both)."""
    prompts = tok.encode_batch([md.digit_prompt(d) for d in range(10)])
    text_emb = model.encode_text(prompts["input_ids"], prompts["attention_mask"])  # (10, D)
    image_emb = model.encode_image(test["images"])  # (N, D)
    sim = image_emb @ text_emb.T
    ranks = (sim > sim.gather(1, test["labels"][:, None])).sum(1)
    out = {f"i2t@{k}": float((ranks < k).float().mean()) for k in (1, 5)}
    t2i = [retrieval_recall(text_emb[test["labels"][torch.as_tensor(g)]] @ image_emb[torch.as_tensor(g)].T, (1, 5))
           for g in distinct_class_batches(classes, np.random.default_rng(0)) if len(g) == 10]
    out.update({f"t2i@{k}": float(np.mean([r[k] for r in t2i])) for k in (1, 5)})
    return out


def run_clip(args, results: dict, save) -> None:
    tok, cfg = chapter_setup()
    train_caps, test_caps = md.digit_captions("train"), md.digit_captions("test")
    train, test = to_tensors(train_caps, tok), to_tensors(test_caps, tok)
    done = {(r["section"], r["model"], r["seed"]) for r in results["runs"]}
    seen_classes = np.flatnonzero(train_caps.classes < 8)
    for seed in args.seeds:
        for name in ("dual encoder", "dual encoder, digits 0-7 only"):
            if ("clip", name, seed) in done:
                continue
            held_out = name.endswith("only")
            idx = seen_classes if held_out else np.arange(len(train_caps))
            sub = {k: v[torch.as_tensor(idx)] for k, v in train.items()}
            torch.manual_seed(seed)
            model = DualEncoder(cfg, 8, PATCH, embed_dim=32)
            run = train_contrastive(model, sub, train_caps.classes[idx], epochs=args.clip_epochs, lr=args.clip_lr,
                                    seed=seed, progress=False)
            row = {"section": "clip", "model": name, "seed": seed, "lr": args.clip_lr, "epochs": args.clip_epochs,
                   "steps": len(run["losses"]), "seconds": round(run["seconds"], 1),
                   "loss_first_20": float(np.mean(run["losses"][:20])), "loss_last_20": float(np.mean(run["losses"][-20:])),
                   "temperature_start": run["temperatures"][0], "temperature_end": run["temperatures"][-1]}
            labels = test["labels"]
            if held_out:
                new = labels >= 8
                row["held_out_images_all_10_prompts"] = prompt_scores(model, tok, test["images"][new], labels[new],
                                                                      md.CAPTION_TEMPLATE)
                row["held_out_images_prompts_8_9"] = prompt_scores(model, tok, test["images"][new], labels[new],
                                                                   md.CAPTION_TEMPLATE, (8, 9))
                row["seen_images_prompts_0_7"] = prompt_scores(model, tok, test["images"][~new], labels[~new],
                                                               md.CAPTION_TEMPLATE, tuple(range(8)))
            else:
                row["prompts"] = {t: prompt_scores(model, tok, test["images"], labels, t)
                                  for t in (md.CAPTION_TEMPLATE, *md.HELD_OUT_TEMPLATES)}
                row.update(recalls(model, tok, test, test_caps.classes))
            results["runs"].append(row)
            print(f"clip    {name:38} seed {seed}: " + json.dumps({k: v for k, v in row.items() if k not in (
                "section", "model", "seed")}), flush=True)
            save()


def sd(values) -> float:
    """Sample standard deviation (ddof = 1); NaN for fewer than two values."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def summarize(runs: list[dict], section: str) -> dict[str, dict]:
    """Per model of a classifier section: the learning rate with the best mean validation accuracy, and at that
    rate the validation and test accuracy (mean, sd with ddof = 1, n, per seed) and the collapsed runs (those
    whose test predictions are ≥ 99 % one class): left out of the mean and named — except for the unimodal
    baselines, which score exactly 50 % whatever they predict, so their one-class runs are averaged in (and
    still named)."""
    table: dict[str, dict] = {}
    for name in dict.fromkeys(r["model"] for r in runs if r["section"] == section):
        mine = [r for r in runs if r["section"] == section and r["model"] == name]
        by_lr = {lr: [r for r in mine if r["lr"] == lr] for lr in dict.fromkeys(r["lr"] for r in mine)}
        lr = max(by_lr, key=lambda k: np.mean([r["val"] for r in by_lr[k]]))
        rows = sorted(by_lr[lr], key=lambda r: r["seed"])
        unimodal = rows[0].get("group") == "unimodal"  # at exactly 50 % whatever it predicts: one class is no failure
        ok = rows if unimodal else [r for r in rows if not r["collapsed"]]
        tests = [r["test"] for r in ok]
        table[name] = {"group": rows[0].get("group"), "lr": lr, "n": len(ok), "seeds": [r["seed"] for r in rows],
                       "collapsed_seeds": [r["seed"] for r in rows if r["collapsed"]],
                       "val_mean": float(np.mean([r["val"] for r in ok])) if ok else float("nan"),
                       "test_mean": float(np.mean(tests)) if ok else float("nan"), "test_sd": sd(tests),
                       "tests": [r["test"] for r in rows], "seconds_mean": float(np.mean([r["seconds"] for r in rows])),
                       "epochs_to_best": float(np.mean([r["best_step"] / r["steps_per_epoch"] for r in rows])),
                       "val_by_lr": {str(k): float(np.mean([r["val"] for r in v])) for k, v in by_lr.items()}}
    return table


def summarize_clip(runs: list[dict]) -> dict:
    """Mean and sd (ddof = 1) over seeds of every number of the ``clip`` section."""
    out: dict[str, dict] = {}
    for name in dict.fromkeys(r["model"] for r in runs if r["section"] == "clip"):
        rows = [r for r in runs if r["section"] == "clip" and r["model"] == name]
        flat = [{**{k: v for k, v in r.items() if isinstance(v, float) and k != "lr"},
                 **{f"prompts: {t}": a for t, a in r.get("prompts", {}).items()}} for r in rows]
        out[name] = {"n": len(rows), "seeds": [r["seed"] for r in rows], "steps": rows[0]["steps"],
                     **{k: {"mean": float(np.mean([f[k] for f in flat])), "sd": sd([f[k] for f in flat])}
                        for k in flat[0]}}
    return out


def versions() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "machine": platform.machine()}


def _pm(mean: float, s: float) -> str:
    return f"{100 * mean:.1f} ± {100 * s:.1f} %" if np.isfinite(s) else f"{100 * mean:.1f} % (one seed)"


def to_markdown(results: dict) -> str:
    """The tables, mean ± sd (ddof = 1) over seeds at the validation-chosen learning rate."""
    lines = ["# Chapter 08 — fusion over seeds", "",
             "Produced by `python -m bertlab.runs.fusion` (commands in order: "
             + "; ".join(f"`{c}`" for c in results["commands"]) + f"). {results['threads']} thread, on a 2-core "
             "machine shared with other work (seconds are wall-clock, comparable only roughly). Recipe: "
             f"{results['recipe']}", ""]
    for section, title in (("digits", "Image encoders as digit classifiers (10 classes, chance 10 %)"),
                           ("claims", "The both-modalities task (yes/no; majority class and chance: 50 %)"),
                           ("itm", "Image–text matching (balanced, chance 50 %)")):
        table = results.get("summary", {}).get(section)
        if not table:
            continue
        lines += [f"## {title}", "", "| model | lr (chosen on validation) | validation | test (mean ± sd) | n | "
                  "epochs to best | s / run |", "|---|---|---|---|---|---|---|"]
        for name, t in table.items():
            flag = ""
            if t["collapsed_seeds"]:
                flag = (f" · seeds {t['collapsed_seeds']} predict one class (no worse, here)" if t["group"] == "unimodal"
                        else f" · collapsed seeds {t['collapsed_seeds']} left out")
            lines.append(f"| {name} | {t['lr']:g} | {100 * t['val_mean']:.1f} % | {_pm(t['test_mean'], t['test_sd'])}"
                         f"{flag} | {t['n']} | {t['epochs_to_best']:.1f} | {t['seconds_mean']:.0f} |")
        lines.append("")
    clip = results.get("summary", {}).get("clip")
    if clip:
        lines += ["## Dual encoder (InfoNCE)", "", "| measure | mean ± sd |", "|---|---|"]
        for name, t in clip.items():
            for k, v in t.items():
                if isinstance(v, dict):
                    lines.append(f"| {name}: {k} | {v['mean']:.4f} ± {v['sd']:.4f} (n = {t['n']}) |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="chapter 08's fusion experiments over seeds")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 3e-3],
                        help="learning rates tried per model (the first one alone for the unimodal baselines)")
    parser.add_argument("--epochs", type=float, default=8.0, help="at most; the best validation epoch is kept")
    parser.add_argument("--clip-epochs", type=int, default=5)
    parser.add_argument("--clip-lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS_JSON)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = ("python -m bertlab.runs.fusion " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    results = json.loads(args.out.read_text()) if args.out.is_file() else {"commands": [], "runs": []}
    results["commands"].append(command)
    lrs = sorted({r["lr"] for r in results["runs"] if r["section"] != "clip"} | set(args.lrs))
    results.update(threads=args.threads, versions=versions(), recipe=(
        f"fine_tune, batch 64, up to {args.epochs:g} epochs, 1 validation evaluation per epoch, best kept, "
        f"patience 3 after 2 epochs, clip 1.0, warm-up 10 %, lr chosen among {lrs} by mean validation "
        f"accuracy; dual encoder: train_contrastive, {args.clip_epochs} epochs, lr {args.clip_lr:g}"))
    t_all = time.perf_counter()

    def save() -> None:
        results["summary"] = {s: summarize(results["runs"], s) for s in ("digits", "claims", "itm")
                              if any(r["section"] == s for r in results["runs"])}
        if any(r["section"] == "clip" for r in results["runs"]):
            results["summary"]["clip"] = summarize_clip(results["runs"])
        results.setdefault("times_s", {})["last_command"] = round(time.perf_counter() - t_all, 1)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(to_markdown(results))

    run = {"digits": run_digits, "claims": run_claims, "itm": run_itm, "clip": run_clip}
    for name in args.sections:
        t0 = time.perf_counter()
        run[name](args, results, save)
        results["times_s"][name] = round(time.perf_counter() - t0, 1)
        save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
