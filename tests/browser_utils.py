"""Headless Chromium for the tests: Debian's chromium driven by Playwright from PyPI (never a browser
Playwright downloads). Tests that need it skip with a clear reason when `chromium` is not on PATH."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("headless Chromium not installed (Debian: `apt-get install chromium`); CI installs it in .ci/run")
    return path


def launch(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
