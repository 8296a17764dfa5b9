"""ELECTRA (Clark et al., 2020): a small MLM generator fills the masks, a discriminator says at every
position whether the token is the original or a replacement (replaced-token detection)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ..model import BertConfig, BertForPreTraining, BertModel
from ..pretraining import IGNORE_INDEX


def rtd_labels(original_ids: torch.Tensor, corrupted_ids: torch.Tensor, chosen: torch.Tensor,
               attention_mask: torch.Tensor | None = None, special_ids: Iterable[int] = ()) -> torch.Tensor:
    """ELECTRA's discriminator targets, (B, T) long: 1 = replaced, 0 = original, -100 = not scored.

    ``chosen`` (B, T) bool marks the positions the generator filled. A chosen position is "replaced" only if
    the sampled token *differs* from the original: where the generator sampled the original token back,
    the label is 0 (ELECTRA, section 2). Padding (``attention_mask == 0``) and special tokens ([CLS],
    [SEP], …) get -100, which the loss ignores.
    """
    for name, t in (("corrupted_ids", corrupted_ids), ("chosen", chosen)):
        if t.shape != original_ids.shape:
            raise ValueError(f"{name} has shape {tuple(t.shape)}; expected {tuple(original_ids.shape)} like original_ids")
    labels = (chosen.bool() & (corrupted_ids != original_ids)).long()  # (B, T)
    ignore = torch.isin(original_ids, torch.as_tensor(sorted(set(int(i) for i in special_ids)), dtype=torch.long))
    if attention_mask is not None:
        if attention_mask.shape != original_ids.shape:
            raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)}; expected "
                             f"{tuple(original_ids.shape)} like original_ids")
        ignore |= attention_mask == 0
    return labels.masked_fill(ignore, IGNORE_INDEX)


class Electra(nn.Module):
    """A small MLM generator and a discriminator (a BERT encoder + one logit per token: replaced?)."""

    def __init__(self, discriminator_config: BertConfig, generator_config: BertConfig):
        super().__init__()
        if generator_config.vocab_size != discriminator_config.vocab_size:
            raise ValueError("generator and discriminator must share the vocabulary")
        self.generator = BertForPreTraining(generator_config)
        self.discriminator = BertModel(discriminator_config)
        self.rtd_head = nn.Linear(discriminator_config.hidden_size, 1)

    def forward(self, batch: dict[str, torch.Tensor], original_ids: torch.Tensor, special_ids: Iterable[int],
                generator: torch.Generator | None = None, disc_weight: float = 50.0) -> dict[str, torch.Tensor]:
        """One ELECTRA step on a masked ``batch`` (input_ids masked, labels = original id or -100).

        Returns the total loss ``L_MLM(generator) + λ·L_RTD(discriminator)`` (λ = 50 as in the paper)
        and its parts. Sampling is not differentiated: the generator learns only from its MLM loss.
        """
        chosen = batch["labels"] != IGNORE_INDEX  # (B, T)
        gen_out = self.generator(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"],
                                 masked_positions=chosen)
        gen_loss = F.cross_entropy(gen_out.prediction_logits, batch["labels"][chosen])
        with torch.no_grad():  # sample a plausible replacement at every chosen position
            probs = gen_out.prediction_logits.float().softmax(-1)  # (N, V)
            sampled = torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (N,)
        corrupted = original_ids.clone()
        corrupted[chosen] = sampled
        labels = rtd_labels(original_ids, corrupted, chosen, batch["attention_mask"], special_ids)  # (B, T)
        hidden = self.discriminator(corrupted, batch["token_type_ids"], batch["attention_mask"]).last_hidden_state
        logits = self.rtd_head(hidden).squeeze(-1)  # (B, T)
        scored = labels != IGNORE_INDEX
        disc_loss = F.binary_cross_entropy_with_logits(logits[scored], labels[scored].float())
        acc = ((logits[scored] > 0).long() == labels[scored]).float().mean()
        return {"loss": gen_loss + disc_weight * disc_loss, "gen_loss": gen_loss, "disc_loss": disc_loss,
                "disc_acc": acc, "replaced_share": labels[scored].float().mean()}
