"""Add up the JUnit reports of the `make test` stages into one closing line: 'total: N passed, N failed, N skipped'.

``python tools/test_summary.py build [--failed-stage N ...]``: each ``--failed-stage N`` is a stage whose
command failed; if its report ``build/junit-N-*.xml`` is missing or records no failure (a crash, a
collection error, an exit code), the stage counts as one failed test and is named, so the closing line
never reads "0 failed" for a run that failed.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def count(path: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) in one JUnit report."""
    passed = failed = skipped = 0
    root = ET.parse(path).getroot()
    for suite in root.iter("testsuite"):
        tests, errors = int(suite.get("tests", 0)), int(suite.get("errors", 0))
        fails, skips = int(suite.get("failures", 0)), int(suite.get("skipped", 0))
        passed += tests - errors - fails - skips
        failed += errors + fails
        skipped += skips
    return passed, failed, skipped


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv and not argv[0].startswith("--") else Path("build")
    failed_stages = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--failed-stage"]
    passed = failed = skipped = 0
    for path in sorted(folder.glob("junit-*.xml")):
        p, f, s = count(path)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    for stage in failed_stages:
        reports = sorted(folder.glob(f"junit-{stage}-*.xml"))
        if not reports or sum(count(r)[1] for r in reports) == 0:
            failed += 1
            print(f"stage {stage} failed with no failing test in its report (a crash, a collection error or its exit code)")
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
