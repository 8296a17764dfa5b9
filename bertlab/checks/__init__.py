"""Auto-checks for the course's exercises: ``from bertlab import checks as check; check.softmax(softmax)``.

One function per exercise, named after it. Each returns a :class:`CheckResult` (``.passed``,
``.message``) shown as ✅ / ❌ / ✏️ "not attempted yet" in the notebook. The checks of each chapter live
in ``chNN_topic.py`` beside this file and are collected here automatically.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._core import REGISTRY, Check, CheckResult, demo, exercise, strict_mode

__all__ = ["REGISTRY", "Check", "CheckResult", "demo", "exercise", "strict_mode", "names"]

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("ch"):
        _mod = importlib.import_module(f"{__name__}.{_info.name}")
        for _name in getattr(_mod, "__all__", []):
            globals()[_name] = getattr(_mod, _name)
            __all__.append(_name)


def names() -> list[str]:
    """All exercise names that have a check."""
    return sorted(REGISTRY)
