"""Show code in a notebook: ``bertlab.show(fn)`` prints a function's source, highlighted."""

from __future__ import annotations

import inspect
from typing import Any


class highlighted:  # noqa: N801 - used like a function in notebooks
    """Source code that renders with syntax highlighting in Jupyter and as plain text elsewhere."""

    def __init__(self, code: str, title: str = ""):
        self.code, self.title = code, title

    def __repr__(self) -> str:
        head = f"# --- {self.title} ---\n" if self.title else ""
        return head + self.code.rstrip("\n")

    def _repr_html_(self) -> str:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer

        body = highlight(self.code, PythonLexer(), HtmlFormatter(noclasses=True, nobackground=True))
        title = f"<div style='font-family:sans-serif;color:#666'>{self.title}</div>" if self.title else ""
        return f"{title}{body}"


def show(obj: Any) -> highlighted:
    """Show the source of a bertlab function or class, so a notebook can explain it line by line."""
    return highlighted(inspect.getsource(obj), title=f"{obj.__module__}.{obj.__qualname__}")
