"""After BERT (chapter 09): the ideas that followed BERT, one per module, each small code on top of
:mod:`bertlab.model`.

- :mod:`~bertlab.family.objectives` — pre-training objectives at equal wall time: BERT's MLM + NSP, RoBERTa's
  dynamic masking and no NSP, static masking, ELECTRA (``pretrain``), and a classifier from the result;
- :mod:`~bertlab.family.albert` — ALBERT: the factorised token embedding and cross-layer sharing;
- :mod:`~bertlab.family.electra` — ELECTRA: replaced-token-detection labels and the generator/discriminator step;
- :mod:`~bertlab.family.distillation` — DistilBERT: the distillation loss and a student from the teacher's layers;
- :mod:`~bertlab.family.pruning` — masking and pruning attention heads by importance;
- :mod:`~bertlab.family.quantization` — dynamic int8 quantisation and model size;
- :mod:`~bertlab.family.efficiency` — latency measurements, attention cost vs sequence length;
- :mod:`~bertlab.family.map` — the family map (encoder-only, decoder-only, encoder–decoder, multimodal) and its figure.

The command that runs the long ablations is ``python -m bertlab.runs.after_bert``.
"""
