"""The learner's workspace: personal copies of the chapters that course updates never overwrite.

``make lab`` runs ``python -m bertlab.workspace`` before opening JupyterLab on ``workspace/`` (git-ignored):

- first run: every ``chapters/NN_*.ipynb`` is copied into ``workspace/``;
- later runs: new chapters are added; a chapter the learner has **not** changed is replaced by the
  course's newer version; a chapter the learner **has** changed is never touched — the learner is told
  that an update exists and how to get it next to theirs::

      python -m bertlab.workspace --fresh 01     # writes workspace/01_attention_numpy.fresh.ipynb

When the course renumbers a chapter (question answering joined as 07, so fusion moved 07 → 08 and
"after BERT" 08 → 09), the learner's copy is renamed with it — edits and all — before syncing
(``RENAMED``), so nothing the learner wrote is left behind under an old number or overwritten.

A manifest (``workspace/.bertlab-manifest.json``) remembers the hash of the version each copy was made
from, which is how "changed by the learner" and "updated by the course" are told apart.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ".bertlab-manifest.json"
# old name → new name, applied in this order (a later entry may reuse a name an earlier one freed)
RENAMED = {
    "08_after_bert.ipynb": "09_after_bert.ipynb",
    "07_multimodal_fusion.ipynb": "08_multimodal_fusion.ipynb",
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_manifest(workspace: Path) -> dict[str, str]:
    path = workspace / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        return {str(k): str(v) for k, v in data.items()}
    except (json.JSONDecodeError, AttributeError):
        return {}  # a damaged manifest: treat every existing notebook as the learner's own


def _follow_renames(workspace: Path, manifest: dict[str, str]) -> list[str]:
    """Move the learner's copies of renumbered chapters (and their manifest entries) to the new names."""
    moved = []
    for old, new in RENAMED.items():
        src, dst = workspace / old, workspace / new
        if src.exists() and not dst.exists():
            src.rename(dst)
            if old in manifest:
                manifest[new] = manifest.pop(old)
            moved.append(f"{old} → {new}")
    return moved


def sync(chapters: Path = ROOT / "chapters", workspace: Path = ROOT / "workspace") -> dict[str, list[str]]:
    """Bring ``workspace`` up to date with ``chapters`` without ever overwriting the learner's edits.

    Returns what happened: {"renamed": […] (renumbered chapters moved with the learner's edits),
    "added": […], "updated": […], "kept": […] (learner-changed, course updated),
    "unchanged": […]}.
    """
    if not chapters.is_dir():
        raise FileNotFoundError(f"{chapters} not found: run this from the course repository")
    workspace.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(workspace)
    report: dict[str, list[str]] = {"renamed": _follow_renames(workspace, manifest),
                                    "added": [], "updated": [], "kept": [], "unchanged": []}
    for src in sorted(chapters.glob("[0-9][0-9]_*.ipynb")):
        dst = workspace / src.name
        course = _sha(src)
        if not dst.exists():
            shutil.copyfile(src, dst)
            manifest[src.name] = course
            report["added"].append(src.name)
            continue
        copied_from = manifest.get(src.name)
        mine = _sha(dst)
        if course == copied_from or course == mine:
            manifest[src.name] = course if course == mine else copied_from
            report["unchanged"].append(src.name)
        elif mine == copied_from:  # the learner never edited it: safe to update
            shutil.copyfile(src, dst)
            manifest[src.name] = course
            report["updated"].append(src.name)
        else:  # edited by the learner (or of unknown origin): never overwrite
            report["kept"].append(src.name)
    (workspace / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return report


def fresh_copy(chapter: str, chapters: Path = ROOT / "chapters", workspace: Path = ROOT / "workspace") -> Path:
    """Write the course's current version of ``chapter`` (e.g. "01") next to the learner's, as NN_x.fresh.ipynb."""
    matches = sorted(chapters.glob(f"{chapter}*.ipynb")) if chapter else []
    if len(matches) != 1:
        known = ", ".join(p.name[:2] for p in sorted(chapters.glob("[0-9][0-9]_*.ipynb")))
        raise ValueError(f"no single chapter matches {chapter!r}; chapters are {known}")
    src = matches[0]
    workspace.mkdir(parents=True, exist_ok=True)
    dst = workspace / src.name.replace(".ipynb", ".fresh.ipynb")
    shutil.copyfile(src, dst)
    return dst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fresh", metavar="NN", help="write the course's current version of chapter NN next to yours")
    args = parser.parse_args(argv)
    if args.fresh:
        print(f"wrote {fresh_copy(args.fresh).relative_to(ROOT)}")
        return 0
    report = sync()
    for move in report["renamed"]:
        print(f"workspace: chapter renumbered, your copy moved with it: {move}")
    if report["added"]:
        print(f"workspace: added {', '.join(report['added'])}")
    if report["updated"]:
        print(f"workspace: updated (you had not changed them) {', '.join(report['updated'])}")
    for name in report["kept"]:
        print(f"workspace: the course has an update of {name}; yours has your changes and was kept. "
              f"Get the new version beside it with: python -m bertlab.workspace --fresh {name[:2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
