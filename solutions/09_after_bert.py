# Reference solutions for chapter 09 (after BERT).
# %% solution: distillation_loss
def distillation_loss(student_logits, teacher_logits, labels, temperature=2.0, alpha=0.5):
    """α · T² · KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 − α) · CE(student, labels)."""
    T = temperature
    soft = F.kl_div(F.log_softmax(student_logits / T, dim=-1),     # the student's LOG-probabilities
                    F.softmax(teacher_logits / T, dim=-1),          # the teacher's probabilities
                    reduction="batchmean") * T * T                  # T² keeps the gradient scale
    hard = F.cross_entropy(student_logits, labels)
    return alpha * soft + (1 - alpha) * hard

# %% solution: rtd_labels
def rtd_labels(original_ids, corrupted_ids, chosen, attention_mask, special_ids):
    """1 = replaced, 0 = original, -100 = padding or special token (not scored)."""
    labels = (chosen & (corrupted_ids != original_ids)).long()      # sampled back the original → 0
    ignore = (attention_mask == 0) | torch.isin(original_ids, torch.tensor(list(special_ids)))
    return labels.masked_fill(ignore, -100)

# %% solution: albert_embedding_params
def albert_embedding_params(vocab_size, embedding_size, hidden_size):
    """V×E token table + E×H projection (weights only; no bias, no position/segment embeddings)."""
    return vocab_size * embedding_size + embedding_size * hidden_size
