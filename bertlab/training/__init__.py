"""The training toolkit every loop of the course uses — one definition of each piece:

- :mod:`~bertlab.training.schedule` — learning-rate warm-up then linear decay (``warmup_linear_lambda``,
  ``warmup_linear_schedule``);
- :mod:`~bertlab.training.param_groups` — AdamW groups that never decay biases, LayerNorm or scalars
  (``no_decay_groups``);
- :mod:`~bertlab.training.metrics` — accuracy, confusion matrix, per-class and macro F1, entity-level F1;
- pooling: :func:`bertlab.pooling.masked_mean`, one level down beside the model (the classifier head uses it,
  and the model never imports the training toolkit).

The loops themselves live with their chapter: :func:`bertlab.pretraining.train` (05),
:func:`bertlab.finetuning.fine_tune` (06, the one supervised loop, also used by fusion and distillation),
:func:`bertlab.family.objectives.pretrain` (09, equal wall time per objective) and
:func:`bertlab.fusion.training.train_contrastive` (08, InfoNCE on batches of distinct classes).
Import from the submodules (``from bertlab.training.schedule import warmup_linear_schedule``).
"""
