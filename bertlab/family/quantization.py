"""Dynamic int8 quantisation of a model's linear layers, and the size of a saved model."""

from __future__ import annotations

import copy
import io
import warnings

import torch
from torch import nn


def quantize_int8(model: nn.Module, per_channel: bool = True) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` dynamically quantised to int8: weights stored as int8 with
    one scale per output channel (``per_channel=True``) or per matrix, activations quantised on the fly.
    Embeddings, LayerNorm and softmax stay float32. CPU only.

    Uses ``torch.ao.quantization.quantize_dynamic``: deprecated in torch 2.13 in favour of ``torchao``, but
    measured here it is the fast option on CPU (``torchao`` 0.18 int8 dynamic was slower than fp32). Its two
    deprecation warnings are filtered here, by message, and only around this call.
    """
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated.*")
        warnings.filterwarnings("ignore", message=r".*quantize_per_(tensor|channel).*deprecated.*")
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear: qconfig},
                                                      dtype=torch.qint8)


def state_size_mb(model: nn.Module) -> float:
    """Size of ``model``'s saved state_dict in MB (10⁶ bytes), as ``torch.save`` writes it."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getbuffer().nbytes / 1e6
