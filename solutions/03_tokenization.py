# Reference solutions for chapter 03 (tokenization).
# %% solution: wordpiece_word
def wordpiece_word(word, vocab, unk="[UNK]", max_chars=100):
    """Greedy longest-match-first WordPiece of one word."""
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
            end -= 1
        else:  # no piece matched: the whole word is unknown
            return [unk]
        pieces.append(piece)
        start = end
    return pieces

# %% solution: build_pair
def build_pair(tokens_a, tokens_b):
    """[CLS] A [SEP] B [SEP] and its segment ids."""
    tokens = ["[CLS]"] + tokens_a + ["[SEP]"] + tokens_b + ["[SEP]"]
    token_type_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
    return tokens, token_type_ids

# %% solution: attention_mask_from_ids
def attention_mask_from_ids(input_ids, pad_id):
    """1 for real tokens, 0 for padding."""
    return [[0 if i == pad_id else 1 for i in row] for row in input_ids]
