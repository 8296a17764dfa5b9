# Reference solutions for chapter 06 (fine-tuning).
# %% solution: classification_head
def classification_head(last_hidden_state, pooler_output, attention_mask, weight, bias, pooling="cls"):
    """Logits (B, C) from the encoder's outputs: pooled (B, H) @ weight.T (H, C) + bias (C,).

    'cls': the pooler output tanh(W h_[CLS] + b);  'mean': the average of the real tokens' hidden states.
    (Dropout sits between pooling and the linear layer in training; it is the identity at evaluation.)
    """
    if pooling == "cls":
        pooled = pooler_output                                            # (B, H)
    else:
        m = attention_mask.float().unsqueeze(-1)                          # (B, T, 1)
        pooled = (last_hidden_state * m).sum(1) / m.sum(1).clamp(min=1)   # (B, H): padding excluded
    return pooled @ weight.T + bias                                       # (B, C) logits, no softmax

# %% solution: align_labels
def align_labels(word_ids, word_labels):
    """One label per word piece: the word's label on its first piece, -100 elsewhere."""
    labels, previous = [], None
    for w in word_ids:
        if w is None:
            labels.append(-100)                  # [CLS], [SEP], [PAD]
        elif w != previous:
            labels.append(word_labels[w])        # first piece of a new word
        else:
            labels.append(-100)                  # continuation piece (##…)
        previous = w
    return labels

# %% solution: no_decay_groups
def no_decay_groups(model, weight_decay=0.01):
    """AdamW groups: decay the matrices; never biases or LayerNorm; frozen parameters left out."""
    norm = {id(p) for m in model.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters(recurse=False)}
    decay, no_decay = [], []
    for name, p in model.named_parameters():     # lists a tied (shared) tensor once
        if not p.requires_grad:
            continue
        if name.endswith("bias") or id(p) in norm or p.ndim < 2:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]

# %% solution: f1_from_confusion
def f1_from_confusion(cm):
    """Accuracy, per-class precision / recall / F1 and macro F1 from a (K, K) confusion matrix (rows = truth)."""
    cm = np.asarray(cm, dtype=float)
    tp = np.diag(cm)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)       # column sums, row sums
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)   # 0/0 → 0
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"accuracy": tp.sum() / cm.sum(), "precision": precision, "recall": recall, "f1": f1,
            "macro_f1": f1.mean()}
