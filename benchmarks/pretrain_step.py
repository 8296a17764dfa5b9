"""One pre-training step (MLM + NSP, forward + backward + AdamW): bertlab vs transformers.BertForPreTraining.

    .venv/bin/python benchmarks/pretrain_step.py [--threads 2] [--rounds 8]

Same process, same config (2 layers, hidden 128, 2 heads, FFN 512, the course tokenizer's vocabulary),
same masked batch 32 × 128 (15 % chosen, 80/10/10). bertlab computes the vocabulary logits only at the
chosen positions (gather first); transformers scores every position and ignores the -100 labels. The two
models step alternately so machine noise hits both alike. Prints the median step times and the ratio
(goal ≥ 1.5×).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import BertConfig as HFConfig
    from transformers import BertForPreTraining as HFBertForPreTraining

    from bertlab.course_vocab import course_tokenizer
    from bertlab.model import BertForPreTraining
    from bertlab.pretraining import mask_tokens, pretraining_loss, tiny_config

    tok = course_tokenizer()
    cfg = tiny_config(len(tok), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    ours = BertForPreTraining(cfg).train()
    theirs = HFBertForPreTraining(HFConfig(**cfg.to_dict(), attn_implementation="sdpa")).train()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, len(tok), (args.batch, args.seq), generator=g)
    ids[:, 0], ids[:, args.seq // 2], ids[:, -1] = tok.cls_id, tok.sep_id, tok.sep_id
    types = torch.zeros_like(ids)
    types[:, args.seq // 2 + 1:] = 1
    masked, labels = mask_tokens(ids, tok.special_ids, len(tok), tok.mask_id, generator=g)
    batch = {"input_ids": masked, "token_type_ids": types, "attention_mask": torch.ones_like(ids),
             "labels": labels, "next_sentence_label": torch.randint(0, 2, (args.batch,), generator=g)}

    def step_ours(opt: torch.optim.Optimizer) -> None:
        pretraining_loss(ours, batch)[0].backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def step_theirs(opt: torch.optim.Optimizer) -> None:
        theirs(input_ids=masked, token_type_ids=types, attention_mask=batch["attention_mask"], labels=labels,
               next_sentence_label=batch["next_sentence_label"]).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    runs = {"bertlab": (step_ours, torch.optim.AdamW(ours.parameters(), lr=1e-4)),
            "transformers": (step_theirs, torch.optim.AdamW(theirs.parameters(), lr=1e-4))}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for fn, opt in runs.values():  # warm-up
        fn(opt)
    for _ in range(args.rounds):
        for name, (fn, opt) in runs.items():
            t0 = time.perf_counter()
            fn(opt)
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"config: 2 layers, hidden 128, 2 heads, FFN 512, vocab {len(tok):,}; batch {args.batch} × {args.seq}; "
          f"{args.threads} threads; median of {args.rounds}")
    for name, t in med.items():
        print(f"{name:<13} {t * 1000:7.0f} ms per step")
    print(f"ratio transformers / bertlab: {med['transformers'] / med['bertlab']:.2f}× (goal ≥ 1.5×)")


if __name__ == "__main__":
    main()
