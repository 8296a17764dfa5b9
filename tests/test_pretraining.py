"""bertlab.pretraining: masking statistics on large samples, NSP pairs, losses, and a checkpoint both
bertlab and transformers load."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from bertlab import pretraining as P
from bertlab.model import BertForPreTraining
from bertlab.tokenizer import SPECIAL_TOKENS, WordPieceTokenizer

TOK = WordPieceTokenizer(list(SPECIAL_TOKENS) + [f"w{i}" for i in range(995)])  # ids 0-4 special, vocab 1000


def _ids(rows=2000, cols=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 1000, (rows, cols), generator=g)
    ids[:, 0], ids[:, 60], ids[:, 100:] = TOK.cls_id, TOK.sep_id, TOK.pad_id
    return ids


def test_masked_share_and_80_10_10_split_within_tight_tolerance_on_200k_tokens():
    ids = _ids()
    masked, labels = P.mask_tokens(ids, TOK.special_ids, 1000, TOK.mask_id, generator=torch.Generator().manual_seed(1))
    special = torch.isin(ids, torch.tensor(sorted(TOK.special_ids)))
    chosen = labels != P.IGNORE_INDEX
    n = chosen.sum().item()
    assert abs(n / (~special).sum().item() - 0.15) < 0.003
    assert abs(((masked == TOK.mask_id) & chosen).sum().item() / n - 0.8) < 0.01
    assert abs(((masked == ids) & chosen).sum().item() / n - 0.1) < 0.01
    assert abs(((masked != ids) & (masked != TOK.mask_id) & chosen).sum().item() / n - 0.1) < 0.01


def test_specials_are_never_chosen_random_replacements_never_special_and_labels_use_minus_100():
    ids = _ids(500)
    masked, labels = P.mask_tokens(ids, TOK.special_ids, 1000, TOK.mask_id, generator=torch.Generator().manual_seed(2))
    special = torch.isin(ids, torch.tensor(sorted(TOK.special_ids)))
    assert (labels[special] == -100).all() and (masked[special] == ids[special]).all()
    replaced = (labels != -100) & (masked != ids) & (masked != TOK.mask_id)
    assert replaced.any() and not torch.isin(masked[replaced], torch.tensor(sorted(TOK.special_ids))).any()
    assert set(labels.unique().tolist()) - {-100} <= set(range(5, 1000))


def test_same_seed_same_batch_and_the_input_is_not_modified():
    ids = _ids(50)
    before = ids.clone()
    a = P.mask_tokens(ids, TOK.special_ids, 1000, TOK.mask_id, generator=torch.Generator().manual_seed(3))
    b = P.mask_tokens(ids, TOK.special_ids, 1000, TOK.mask_id, generator=torch.Generator().manual_seed(3))
    c = P.mask_tokens(ids, TOK.special_ids, 1000, TOK.mask_id, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[1], c[1])
    assert torch.equal(ids, before)


def _docs(n_docs=40, n_sent=12):
    return [[[5 + (d * 7 + s * 3 + k) % 50 for k in range(4 + s % 5)] for s in range(n_sent)] for d in range(n_docs)]


def _traceable_docs(n_docs=40, n_sent=12):
    """Sentence s of document d starts with the unique token 5 + 12·d + s, so every segment can be traced."""
    return [[[5 + 12 * d + s] + [600 + k for k in range(3 + s % 5)] for s in range(n_sent)] for d in range(n_docs)]


def test_nsp_pairs_are_balanced_packed_and_notnext_comes_from_another_document():
    pairs = P.make_nsp_pairs(_traceable_docs(), TOK, 32, random.Random(0))
    labels = [p["next_sentence_label"] for p in P.make_nsp_pairs(_docs(100, 400), TOK, 32, random.Random(1))]
    assert len(labels) > 10_000 and abs(sum(labels) / len(labels) - 0.5) < 0.015  # balanced: ±3 standard errors
    for p in pairs:
        ids = p["input_ids"]
        cut = ids.index(TOK.sep_id)
        assert len(ids) <= 32 and ids[0] == TOK.cls_id and ids.count(TOK.sep_id) == 2 and ids[-1] == TOK.sep_id
        assert p["token_type_ids"] == [0] * (cut + 1) + [1] * (len(ids) - cut - 1)
        doc_a, doc_b = (ids[1] - 5) // 12, (ids[cut + 1] - 5) // 12
        if p["next_sentence_label"] == P.NOT_NEXT:
            assert doc_a != doc_b  # never the same document
        else:
            a_last = max(i for i in ids[1:cut] if i < 600)
            assert ids[cut + 1] == a_last + 1  # B starts with the sentence right after A


def test_mlm_loss_counts_only_chosen_positions_and_padding_cannot_leak_in():
    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(6, 7, generator=g), torch.randint(0, 7, (6,), generator=g)
    assert torch.allclose(P.mlm_loss(logits, labels), -logits.log_softmax(-1)[torch.arange(6), labels].mean())
    with pytest.raises(ValueError, match="logit rows"):
        P.mlm_loss(logits, labels[:3])


def test_gather_first_loss_equals_full_vocabulary_loss():
    torch.manual_seed(0)
    model = BertForPreTraining(P.tiny_config(1000, hidden_size=32, intermediate_size=64)).eval()
    batch = P.masked_batch(P.make_nsp_pairs(_docs(), TOK, 32, random.Random(0))[:16], TOK, torch.Generator().manual_seed(0))
    total, l_mlm, _ = P.pretraining_loss(model, batch)
    full = model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]).prediction_logits
    assert torch.allclose(l_mlm, F.cross_entropy(full.reshape(-1, 1000), batch["labels"].reshape(-1)), atol=1e-5)


def test_a_few_hundred_steps_lower_the_loss():
    torch.manual_seed(0)
    pairs = P.make_nsp_pairs(_docs(), TOK, 32, random.Random(0))
    model = BertForPreTraining(P.tiny_config(1000, hidden_size=32, intermediate_size=64, hidden_dropout_prob=0.0))
    hist = P.train(model, pairs, TOK, steps=150, batch_size=16, lr=3e-3, warmup=10, progress=False)
    assert sum(hist.mlm[-20:]) / 20 < sum(hist.mlm[:20]) / 20 - 0.5


def test_rebuilt_pairs_give_each_pass_new_notnext_partners_and_train_uses_them():
    docs = _traceable_docs()
    first, second = (P.make_nsp_pairs(docs, TOK, 32, random.Random(s)) for s in (0, 1))
    assert [p["input_ids"] for p in first] != [p["input_ids"] for p in second]
    built = []

    def rebuild(rng):
        built.append(P.make_nsp_pairs(docs, TOK, 32, rng))
        return built[-1]

    torch.manual_seed(0)
    model = BertForPreTraining(P.tiny_config(1000, hidden_size=16, intermediate_size=32))
    hist = P.train(model, first, TOK, steps=3 * len(first) // 16, batch_size=16, progress=False, rebuild_pairs=rebuild)
    assert hist.passes == 3 and len(built) == 2  # passes 2 and 3 were rebuilt, pass 1 used the given pairs
    assert [p["input_ids"] for p in built[0]] != [p["input_ids"] for p in built[1]]


def test_baselines_score_left_right_and_both_neighbours_on_the_masked_positions():
    # training text: "w1 w2 w3" always; the held-out sentence masks w2 — every neighbour baseline gets it right
    tok = TOK
    train = [{"input_ids": [tok.cls_id, 6, 7, 8, tok.sep_id] * 1}] * 5 + [{"input_ids": [tok.cls_id, 9, 7, 10, tok.sep_id]}]
    batch = {"input_ids": torch.tensor([[tok.cls_id, 6, tok.mask_id, 8, tok.sep_id],
                                        [tok.cls_id, 9, tok.mask_id, 11, tok.sep_id]]),
             "labels": torch.tensor([[-100, -100, 7, -100, -100], [-100, -100, 12, -100, -100]])}
    base = P.baselines(train, [batch], tok)
    assert base["left_neighbour"] == base["right_neighbour"] == base["both_neighbours"] == 0.5
    # "between 9 and 10" was seen once (7); between 6 and 8 five times (7): both-neighbours needs both sides
    batch["input_ids"][1, 3] = 10
    batch["labels"][1, 2] = 7
    base = P.baselines(train, [batch], tok)
    assert base["both_neighbours"] == 1.0


def test_sentence_examples_and_length_grouped_batches():
    texts = [" ".join(f"w{i}" for i in range(1 + k % 20)) for k in range(200)] + [""]
    ex = P.sentence_examples(texts, TOK, max_len=12)
    assert len(ex) == 200 and all(e["input_ids"][0] == TOK.cls_id and e["input_ids"][-1] == TOK.sep_id for e in ex)
    assert max(len(e["input_ids"]) for e in ex) == 12 and all(e["token_type_ids"] == [0] * len(e["input_ids"]) for e in ex)
    lengths = [len(e["input_ids"]) for e in ex]
    batches = P.length_grouped_order(lengths, 8, random.Random(0))
    flat = [i for b in batches for i in b]
    assert len(flat) == len(set(flat)) == 200 and all(len(b) == 8 for b in batches)  # 200 = 25 full batches
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 3  # similar lengths together (random batches would span ~11 tokens)


@pytest.mark.parametrize("bad", [dict(mlm_probability=0.0), dict(mlm_probability=1.5)])
def test_bad_masking_probability(bad):
    with pytest.raises(ValueError, match="mlm_probability"):
        P.mask_tokens(_ids(2), TOK.special_ids, 1000, TOK.mask_id, **bad)


def test_nsp_needs_two_documents_and_room():
    with pytest.raises(ValueError, match="two non-empty documents"):
        P.make_nsp_pairs(_docs(1), TOK, 32, random.Random(0))
    with pytest.raises(ValueError, match="too short"):
        P.make_nsp_pairs(_docs(), TOK, 5, random.Random(0))


@pytest.mark.slow
def test_pretrain_command_writes_a_folder_that_bertlab_and_transformers_load_identically(tmp_path):
    import subprocess
    import sys

    from transformers import BertForPreTraining as HFBertForPreTraining

    from bertlab.weights import load_pretrained

    out = tmp_path / "tiny"
    args = ["--steps", "3", "--max-docs", "20", "--no-eval", "--save-every", "0", "--batch-size", "8",
            "--threads", "1", "--out", str(out)]
    done = subprocess.run([sys.executable, "-m", "bertlab.runs.make_checkpoint", *args], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert {"config.json", "model.safetensors", "vocab.txt", "training.json"} <= {p.name for p in out.iterdir()}
    ours, tok = load_pretrained(out, model_class=BertForPreTraining)
    theirs = HFBertForPreTraining.from_pretrained(str(out), attn_implementation="eager").eval()
    enc = tok.encode_batch(["and god said let there be light"], ["and there was light"])
    with torch.no_grad():
        a = ours(**enc)
        b = theirs(**enc)
    assert (a.prediction_logits - b.prediction_logits).abs().max() < 1e-4  # the MLM head is tied and mapped right
    assert (a.seq_relationship_logits - b.seq_relationship_logits).abs().max() < 1e-4
