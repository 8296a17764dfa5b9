"""The family after BERT as data — name, year, kind, the one idea it added — and as a figure."""

from __future__ import annotations

FAMILY: list[dict] = [
    {"name": "Transformer", "year": 2017, "kind": "encoder–decoder", "idea": "attention only, no recurrence"},
    {"name": "GPT", "year": 2018, "kind": "decoder-only", "idea": "generative pre-training, then fine-tune"},
    {"name": "BERT", "year": 2018, "kind": "encoder-only", "idea": "bidirectional MLM + NSP pre-training"},
    {"name": "GPT-2", "year": 2019, "kind": "decoder-only", "idea": "scale: zero-shot tasks from LM"},
    {"name": "RoBERTa", "year": 2019, "kind": "encoder-only", "idea": "drop NSP, dynamic masking, more data"},
    {"name": "ALBERT", "year": 2019, "kind": "encoder-only", "idea": "factorised embedding, shared layers, SOP"},
    {"name": "DistilBERT", "year": 2019, "kind": "encoder-only", "idea": "distil BERT into half the layers"},
    {"name": "ViLBERT", "year": 2019, "kind": "multimodal", "idea": "two streams, co-attention text↔image"},
    {"name": "T5", "year": 2019, "kind": "encoder–decoder", "idea": "every task as text-to-text"},
    {"name": "BART", "year": 2019, "kind": "encoder–decoder", "idea": "denoising seq2seq pre-training"},
    {"name": "ELECTRA", "year": 2020, "kind": "encoder-only", "idea": "replaced-token detection, all tokens learn"},
    {"name": "GPT-3", "year": 2020, "kind": "decoder-only", "idea": "few-shot in-context learning"},
    {"name": "DeBERTa", "year": 2020, "kind": "encoder-only", "idea": "disentangled content/position attention"},
    {"name": "VisualBERT", "year": 2019, "kind": "multimodal", "idea": "one encoder over words + image regions"},
    {"name": "CLIP", "year": 2021, "kind": "multimodal", "idea": "contrastive image–text pre-training"},
    {"name": "ModernBERT", "year": 2024, "kind": "encoder-only", "idea": "RoPE, long context, modern training"},
]
KINDS = ("encoder-only", "decoder-only", "encoder–decoder", "multimodal")


def family_map(ax=None):
    """The family as a figure: one row per model, grouped by kind, a dot at its year, labelled with its one idea."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 6.4))
    colours = dict(zip(KINDS, ("tab:blue", "tab:orange", "tab:green", "tab:purple")))
    y = 0.0
    for kind in KINDS:
        ax.text(2016.6, y, kind, fontsize=10, weight="bold", color=colours[kind], va="center")
        y -= 1
        for m in sorted((m for m in FAMILY if m["kind"] == kind), key=lambda m: (m["year"], m["name"])):
            ax.plot(m["year"], y, "o", color=colours[kind], ms=6)
            ax.annotate(f"{m['name']} — {m['idea']}", (m["year"], y), xytext=(7, 0), textcoords="offset points",
                        fontsize=8, va="center")
            y -= 1
        y -= 0.4
    ax.set_xlim(2016.5, 2030.5)
    ax.set_ylim(y + 0.6, 0.8)
    ax.set_yticks([])
    ax.set_xticks(range(2017, 2025))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("The family after BERT: kind, year, and the one idea each added")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    return ax
