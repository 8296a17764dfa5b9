"""Attention pictures (chapters 01, 04, 05): a static matplotlib grid, and bertviz views that work offline.

bertviz's views load require.js, d3 and jQuery from a CDN, so offline they draw nothing ("require is not
defined"). :func:`head_view` and :func:`model_view` ask bertviz for the HTML (``html_action='return'``),
drop the CDN ``<script>``, and inline d3 5.7.0 (from the installed PyPI package ``mpld3``) and jQuery
(from ``XStatic-jQuery``) with a tiny ``require``-style shim that hands both libraries to bertviz's code.
No JavaScript is stored in this repository; it is read from those packages at run time.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

_CDN_SCRIPT = re.compile(r'<script src="https?://[^"]*require[^"]*"></script>')
_VIEW_OPEN = '<script type="text/javascript">'


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None and not spec.submodule_search_locations:
        raise FileNotFoundError(f"the Python package {package!r} is not installed (it ships a JavaScript library "
                                "the offline attention views need); run `make lab`")
    base = Path(spec.origin).parent if spec.origin else Path(list(spec.submodule_search_locations)[0])
    path = base.joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall {package}")
    return path


def d3_source() -> str:
    """d3 v5.7.0, read from the installed ``mpld3`` package."""
    return _package_file("mpld3", "js", "d3.v5.min.js").read_text(encoding="utf-8")


def jquery_source() -> str:
    """jQuery 3.7.1, read from the installed ``XStatic-jQuery`` package."""
    return _package_file("xstatic.pkg.jquery", "data", "jquery.min.js").read_text(encoding="utf-8")


def make_offline(html: str) -> str:
    """Turn bertviz's CDN-dependent HTML into self-contained HTML (d3 and jQuery inlined)."""
    html = _CDN_SCRIPT.sub("", html)
    if _VIEW_OPEN not in html:
        raise ValueError("unexpected bertviz HTML: the view's <script> was not found (bertviz version changed?)")
    shim = (
        _VIEW_OPEN + "\n(function () {\n"
        "  // d3 and jQuery inlined from installed packages, handed to bertviz by a tiny require() shim\n"
        "  var holder = {};\n"
        "  (function (define, module, exports) {\n" + d3_source().replace("</script", "<\\/script") + "\n"
        "  }).call(holder);\n"
        "  var d3 = holder.d3;\n"
        "  var previous$ = window.jQuery;\n"
        "  (function (define, module, exports) {\n" + jquery_source().replace("</script", "<\\/script") + "\n"
        "  }).call(window);\n"
        "  var jq = window.jQuery.noConflict(true);\n"
        "  if (previous$) { window.jQuery = previous$; }\n"
        "  var require = { config: function () {} };\n"
        "  var requirejs = function (deps, callback) {\n"
        "    callback.apply(null, deps.map(function (d) { return d === 'd3' ? d3 : jq; }));\n"
        "  };\n"
    )
    head, view = html.split(_VIEW_OPEN, 1)
    body, tail = view.rsplit("</script>", 1)
    return head + shim + body + "\n})();\n</script>" + tail


def _as_bertviz_attention(attentions, tokens: Sequence[str]):
    """Accept a tuple/list of (1, heads, T, T) or (heads, T, T) arrays or tensors → tuple of torch (1, h, T, T)."""
    import torch

    if isinstance(attentions, (np.ndarray,)) or hasattr(attentions, "dim"):
        attentions = [attentions]
    out = []
    for i, a in enumerate(attentions):
        t = torch.as_tensor(np.asarray(a.detach().cpu() if hasattr(a, "detach") else a), dtype=torch.float32)
        if t.dim() == 3:
            t = t[None]
        if t.dim() != 4 or t.shape[0] != 1 or t.shape[-1] != t.shape[-2]:
            raise ValueError(f"attention {i} has shape {tuple(t.shape)}; expected (1, heads, T, T) or (heads, T, T)")
        if t.shape[-1] != len(tokens):
            raise ValueError(f"attention {i} covers {t.shape[-1]} tokens but {len(tokens)} tokens were given")
        out.append(t)
    if not out:
        raise ValueError("no attention maps given")
    return tuple(out)


class OfflineView:
    """A bertviz view as self-contained HTML: displays in Jupyter, ``.html`` holds the text."""

    def __init__(self, html: str):
        self.html = html

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"<bertviz view, {len(self.html) / 1024:.0f} kB of offline HTML; run in a live kernel to see it>"


def head_view(attentions, tokens: Sequence[str], sentence_b_start: int | None = None, layer: int | None = None,
              heads: list[int] | None = None) -> OfflineView:
    """bertviz's head view (all heads of one layer, lines from each token to the tokens it attends to), offline."""
    from bertviz import head_view as bv_head_view

    html = bv_head_view(_as_bertviz_attention(attentions, tokens), list(tokens), sentence_b_start=sentence_b_start,
                        layer=layer, heads=heads, html_action="return")
    return OfflineView(make_offline(html.data))


def model_view(attentions, tokens: Sequence[str], sentence_b_start: int | None = None,
               include_layers: list[int] | None = None, include_heads: list[int] | None = None) -> OfflineView:
    """bertviz's model view (a thumbnail per layer × head), offline."""
    from bertviz import model_view as bv_model_view

    html = bv_model_view(_as_bertviz_attention(attentions, tokens), list(tokens), sentence_b_start=sentence_b_start,
                         include_layers=include_layers, include_heads=include_heads, html_action="return")
    return OfflineView(make_offline(html.data))


def attention_heatmap(weights, q_tokens: Sequence[str], k_tokens: Sequence[str] | None = None, ax=None,
                      title: str = "", vmax: float | None = 1.0):
    """One attention matrix (queries × keys) as a heat map with token labels; returns the Axes."""
    w = np.asarray(weights.detach().cpu() if hasattr(weights, "detach") else weights, dtype=float)
    k_tokens = list(q_tokens if k_tokens is None else k_tokens)
    if w.ndim != 2 or w.shape != (len(q_tokens), len(k_tokens)):
        raise ValueError(f"weights of shape {w.shape} do not match {len(q_tokens)} query and {len(k_tokens)} key tokens")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.35 * len(k_tokens) + 1.5, 0.35 * len(q_tokens) + 1))
    ax.imshow(w, cmap="Blues", vmin=0, vmax=vmax)
    ax.set_xticks(range(len(k_tokens)), k_tokens, rotation=90, fontsize=7)
    ax.set_yticks(range(len(q_tokens)), q_tokens, fontsize=7)
    ax.set_xlabel("key (attended to)", fontsize=8)
    ax.set_ylabel("query", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def attention_grid(attentions, tokens: Sequence[str], layer: int | None = None, heads: Sequence[int] | None = None,
                   cell_size: float = 1.6):
    """Static grid of attention heat maps: one layer's heads (``layer=i``) or every layer × head (``layer=None``).

    ``attentions``: a tuple (one per layer) of (1, heads, T, T) or (heads, T, T) arrays/tensors.
    Returns the matplotlib Figure (renders anywhere, including on GitHub).
    """
    maps = [a[0].numpy() for a in _as_bertviz_attention(attentions, tokens)]  # each (heads, T, T)
    layers = range(len(maps)) if layer is None else [layer]
    if layer is not None and not 0 <= layer < len(maps):
        raise ValueError(f"layer {layer} does not exist (0 … {len(maps) - 1})")
    heads = list(range(maps[0].shape[0])) if heads is None else list(heads)
    fig, axes = plt.subplots(len(layers), len(heads), figsize=(cell_size * len(heads), cell_size * len(layers)),
                             squeeze=False)
    small = len(tokens) <= 16
    for r, li in enumerate(layers):
        for c, h in enumerate(heads):
            ax = axes[r][c]
            ax.imshow(maps[li][h], cmap="Blues", vmin=0, vmax=1)
            ax.set_xticks(range(len(tokens)) if small and r == len(layers) - 1 else [],
                          list(tokens) if small and r == len(layers) - 1 else [], rotation=90, fontsize=6)
            ax.set_yticks(range(len(tokens)) if small and c == 0 else [], list(tokens) if small and c == 0 else [],
                          fontsize=6)
            if r == 0:
                ax.set_title(f"head {h}", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"layer {li}", fontsize=8)
    fig.tight_layout()
    return fig
