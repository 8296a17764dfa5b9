"""Multimodal fusion on top of the course's (text-only) BERT — chapter 08.

BERT itself reads text only. The models here *extend* it with an image side and fuse the two:

- :mod:`~bertlab.fusion.encoders` — the two sides: ViT-style patches (:func:`~bertlab.fusion.encoders.patchify`,
  :func:`~bertlab.fusion.encoders.patch_embedding`, ``PatchEmbedding``, ``ImageEncoder``), a small CNN
  (``SmallCNN``) and BERT as a text encoder (``TextEncoder``, mean-pooled);
- :mod:`~bertlab.fusion.models` — the fusion styles: unimodal baselines, late fusion (concatenation, the gated
  weighted sum :func:`~bertlab.fusion.models.gated_fusion`), early fusion (one stream, VisualBERT/UNITER-style),
  co-attention (two streams, ViLBERT/LXMERT-style) and CLIP's dual encoder;
- :mod:`~bertlab.fusion.objectives` — image–text matching negatives, the symmetric InfoNCE loss, batches of
  distinct classes (no false negatives) and retrieval recall@k;
- :mod:`~bertlab.fusion.training` — image–text sets to tensors, and contrastive training.

Every classifier's ``forward(input_ids, attention_mask, images)`` returns a ``FusionOutput`` with ``.logits``,
so the classifiers train with the course's one supervised loop, :func:`bertlab.finetuning.fine_tune`, and
predict with :func:`bertlab.finetuning.predict_logits`.
"""
