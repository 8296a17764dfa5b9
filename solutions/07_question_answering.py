# Reference solutions for chapter 07 (question answering).
# %% solution: window_starts
def window_starts(n_tokens, capacity, stride):
    """Starts of windows of `capacity` tokens over `n_tokens`, consecutive windows sharing `stride` tokens."""
    starts, start = [0], 0
    while start + capacity < n_tokens:       # this window does not reach the end yet
        start += capacity - stride           # step = capacity − overlap
        starts.append(start)
    return starts

# %% solution: span_to_text
def span_to_text(context, offsets, start, end):
    """The exact substring of the context covered by tokens start…end (inclusive)."""
    return context[offsets[start][0]:offsets[end][1]]

# %% solution: best_span
def best_span(start_logits, end_logits, context_mask, max_answer_length):
    """argmax over s ≤ e, both in the context, e − s + 1 ≤ max_answer_length, of start[s] + end[e]."""
    t = start_logits.shape[0]
    scores = start_logits[:, None] + end_logits[None, :]             # (T, T): scores[s, e]
    s = torch.arange(t)[:, None]
    e = torch.arange(t)[None, :]
    allowed = (e >= s) & (e - s + 1 <= max_answer_length)            # start ≤ end, not too long
    allowed &= context_mask[:, None] & context_mask[None, :]          # both ends in the context
    scores = scores.masked_fill(~allowed, float("-inf"))
    flat = int(scores.argmax())
    return flat // t, flat % t

# %% solution: squad_f1
def squad_f1(prediction, truth):
    """SQuAD v1.1 F1 of two answers: bag-of-words overlap after normalisation."""
    def normalize(s):
        s = s.lower()
        s = "".join(ch for ch in s if ch not in set(string.punctuation))   # delete, not replace
        s = re.sub(r"\b(a|an|the)\b", " ", s)                               # whole words only
        return s.split()                                                    # also collapses white space

    pred, gold = normalize(prediction), normalize(truth)
    same = sum((Counter(pred) & Counter(gold)).values())                    # a bag: counts matter
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)
