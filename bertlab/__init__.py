"""bertlab — the helper package of the course "BERT and what came after it".

Each module holds one idea, built step by step in a chapter notebook and then used from here:
``attention`` (NumPy, ch. 01), ``positional`` (02), ``tokenizer`` (03), ``model`` and ``weights``
(PyTorch encoder and real checkpoints, 04), ``pretraining`` (05), ``finetuning`` (06), ``fusion`` (08),
``family`` (09), the ``training`` toolkit every loop shares, ``data``, ``viz`` and ``checks`` (the exercises'
auto-checks).
"""

from __future__ import annotations

import os

from ._show import show
from ._solutions import solution, solution_source

# The course runs offline: never let a library reach for a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
__all__ = ["solution", "solution_source", "show", "progress", "__version__"]


def __getattr__(name: str):
    """``bertlab.progress()`` / ``bertlab.progress("04")``: the module is callable, loaded on first use."""
    if name == "progress":
        import importlib

        return importlib.import_module(".progress", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
