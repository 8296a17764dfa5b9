# Reference solutions for chapter 05 (pre-training with MLM and NSP).
# %% solution: mask_tokens
def mask_tokens(input_ids, special_ids, vocab_size, mask_id, mlm_probability=0.15, generator=None):
    """BERT's masking: 15 % chosen; of those 80 % [MASK], 10 % random non-special token, 10 % unchanged."""
    special = torch.isin(input_ids, torch.tensor(list(special_ids)))
    chosen = (torch.rand(input_ids.shape, generator=generator) < mlm_probability) & ~special
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    u = torch.rand(input_ids.shape, generator=generator)          # ONE draw decides 80 / 10 / 10
    allowed = torch.tensor([i for i in range(vocab_size) if i not in set(special_ids)])
    random_ids = allowed[torch.randint(len(allowed), input_ids.shape, generator=generator)]
    masked = input_ids.clone()
    masked[chosen & (u < 0.8)] = mask_id
    replace = chosen & (u >= 0.8) & (u < 0.9)
    masked[replace] = random_ids[replace]
    return masked, labels

# %% solution: nsp_pairs
def nsp_pairs(documents, cls_id, sep_id, rng):
    """One pair per consecutive sentence pair; half the time B comes from another document."""
    pairs = []
    for d, doc in enumerate(documents):
        for i in range(len(doc) - 1):
            a = doc[i]
            if rng.random() < 0.5:
                other = rng.choice([j for j in range(len(documents)) if j != d])
                b, label = rng.choice(documents[other]), 1                 # NotNext
            else:
                b, label = doc[i + 1], 0                                   # IsNext
            ids = [cls_id] + a + [sep_id] + b + [sep_id]
            types = [0] * (len(a) + 2) + [1] * (len(b) + 1)
            pairs.append((ids, types, label))
    return pairs

# %% solution: mlm_loss
def mlm_loss(logits, labels):
    """Cross-entropy at the chosen positions only (labels != -100)."""
    chosen = labels != -100
    return torch.nn.functional.cross_entropy(logits[chosen], labels[chosen])
